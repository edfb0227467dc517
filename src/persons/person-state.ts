/**
 * A person's read model, folded from the events of every source record linked to the person.
 * Every item keeps the agency it came from: the access policy decides per agency and category
 * what a viewer may see. Plain JSON (stored in person_view.state).
 */

export interface AddressView {
  line1?: string;
  line2?: string;
  city?: string;
  state?: string;
  postalCode?: string;
}

/** Demographics as one agency knows them. Only the SSN's last 4 digits are ever kept here. */
export interface RecordView {
  sourceRecordId: string;
  source: string;
  agency: string;
  recordId: string;
  firstName: string;
  middleName?: string;
  lastName: string;
  dateOfBirth?: string;
  sex?: string;
  ssnLast4?: string;
  phone?: string;
  email?: string;
  address?: AddressView;
  aliases?: { firstName?: string; lastName?: string; dateOfBirth?: string }[];
  identifiers?: { system: string; value: string }[];
  firstSeenAt: string;
  lastEventAt: string;
}

export interface CustodyEpisode {
  agency: string;
  bookingNumber: string;
  facility?: string;
  bookedAt: string;
  scheduledReleaseAt?: string;
  releasedAt?: string;
}

export interface Hearing {
  hearingAt: string;
  hearingType?: string;
}

export interface CourtCase {
  agency: string;
  caseNumber: string;
  caseType?: string;
  openedAt: string;
  hearings: Hearing[];
}

export interface Need {
  agency: string;
  needId: string;
  category: string;
  openedAt: string;
  closedAt?: string;
}

export interface Referral {
  agency: string;
  referralId: string;
  need: string;
  status: string;
  toAgency?: string;
  referredAt: string;
  updatedAt: string;
}

export interface ServiceItem {
  agency: string;
  serviceType: string;
  program?: string;
  at: string;
}

export interface ConsentItem {
  agency: string;
  consentId: string;
  form: string;
  /** Agency codes, or ['*'] for the whole coalition. */
  partners: string[];
  /** Need categories covered; null = the form's general scope (never substance_use). */
  categories: string[] | null;
  signedAt: string;
  expiresAt: string;
  revokedAt?: string;
}

export interface ContactItem {
  agency: string;
  name: string;
  role?: string;
  phone?: string;
  email?: string;
  assignedAt: string;
}

export interface TimelineItem {
  at: string;
  type: string;
  agency: string;
  source: string;
  eventId: string;
  /** The need category the event is about, when it has one (for category-level access). */
  category?: string;
}

/** The best-of demographics across the person's live records (majority vote, ties to the most recent). */
export interface BestOfView {
  firstName: string;
  middleName?: string;
  lastName: string;
  dateOfBirth?: string;
  sex?: string;
  /** 'First Last', case-tidied. */
  displayName: string;
}

export interface PersonState {
  personId: string;
  /** Added by the projections helper (optional so older states still parse). */
  bestOf?: BestOfView;
  /** Distinct agency codes with at least one live record. */
  agencies: string[];
  records: RecordView[];
  custody: CustodyEpisode[];
  cases: CourtCase[];
  needs: Need[];
  referrals: Referral[];
  services: ServiceItem[];
  consents: ConsentItem[];
  /** The latest assignment per agency. */
  contacts: ContactItem[];
  /** Chosen by the documented rule (docs/familiar-faces.md). */
  primaryContact: ContactItem | null;
  /** Which branch of the rule chose primaryContact. */
  primaryContactBasis?: 'assignment' | 'referral' | 'latest';
  timeline: TimelineItem[];
  lastActivityAt: string;
  /** Ids of the familiar-faces criteria this person meets at fold time. */
  criteria: string[];
}
