// Input and normalised record shapes. NormalisedRecord is plain JSON (stored in jsonb).

export interface RawPersonRecord {
  id: string;
  firstName: string;
  middleName?: string;
  lastName: string;
  /** YYYY-MM-DD (YYYYMMDD and MM/DD/YYYY are also accepted). */
  dateOfBirth?: string;
  sex?: 'M' | 'F' | 'X' | 'U';
  ssn?: string;
  phone?: string;
  email?: string;
  address?: { line1?: string; line2?: string; city?: string; state?: string; postalCode?: string };
  aliases?: { firstName?: string; lastName?: string; dateOfBirth?: string }[];
  identifiers?: { system: string; value: string }[];
}

/** One name variant of a record (the primary name or an alias), folded and parsed. */
export interface NormalisedName {
  /** 'primary' or 'alias N' (1-based), used in explanations. */
  source: string;
  /** First given-name token. */
  first: string;
  /** All given-name tokens joined ('Mary Ann' -> 'maryann'). */
  firstFull: string;
  /** Middle-name tokens (including extra given-name tokens). */
  middle: string[];
  /** Surname without particles, tokens joined ('De La Cruz' -> 'cruz'). */
  last: string;
  /** Surname with particles, tokens joined ('delacruz'). */
  lastFull: string;
  /** Surname tokens without particles, for hyphenated / compound surnames. */
  lastParts: string[];
  /** Nickname groups of `first` (canonical names it can stand for, plus itself). */
  firstGroups: string[];
  firstPhon: string;
  lastPhon: string;
}

export interface NormalisedDob {
  /** YYYYMMDD digits; may be an impossible calendar date (kept for slip comparison). */
  digits: string;
  valid: boolean;
  /** YYYY-01-01 style placeholder: only the year carries evidence. */
  yearOnly: boolean;
  source: string;
}

export interface NormalisedRecord {
  schema: 1;
  id: string;
  /** names[0] is the primary name; aliases follow. */
  names: NormalisedName[];
  /** Generational suffix: jr, sr, ii, iii, iv, v or ''. */
  suffix: string;
  /** dobs[0] is the primary DOB when present; alias DOBs follow. */
  dobs: NormalisedDob[];
  sex: 'M' | 'F' | 'X' | '';
  /** Full valid SSN (9 digits) or ''. */
  ssn: string;
  /** Last 4 SSN digits, also when only the last 4 were given. */
  ssnLast4: string;
  /** 10-digit phone or ''. */
  phone: string;
  email: string;
  /** Normalised street line ('12 main st apt 4') or '' (also '' for shelters / homeless). */
  street: string;
  postcode: string;
  city: string;
  state: string;
  /** True when the address is a shelter / homeless marker: address gives no evidence. */
  addressNoEvidence: boolean;
  /** 'system:value' strings, folded; compared exactly per system. */
  ids: string[];
}
