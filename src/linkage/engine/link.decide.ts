// Pure linking decision for one incoming record against scored candidate persons.

export interface CandidatePerson {
  personId: string;
  /** Records of the person (used to apply record-level steward constraints). */
  recordIds: readonly string[];
  /** Max over the person's records. */
  probability: number;
  weight: number;
  /** The record that gave the max. */
  bestRecordId: string;
  /**
   * One of the person's records reached by the candidate rule states another generation than the
   * incoming record (Jr vs Sr): no automatic link to this person, only review or a duplicate flag,
   * so a record that matches a father's and a son's records cannot chain the two into one person.
   */
  excluded?: boolean;
}

/** Steward constraints: pairs of ids, each a record id or a person id. */
export interface StewardConstraints {
  mustLink?: readonly (readonly [string, string])[];
  mustNotLink?: readonly (readonly [string, string])[];
}

export interface DecideInput {
  recordId: string;
  candidates: readonly CandidatePerson[];
  /** Match-probability thresholds. */
  thresholds: { upper: number; lower: number };
  constraints?: StewardConstraints;
}

export type DecisionFlag = 'possible_duplicate_persons' | 'constraint_conflict';

export type Decision =
  | {
      action: 'link';
      personId: string;
      probability: number;
      weight: number;
      reason: 'match' | 'must_link';
      flags: DecisionFlag[];
      /** Other persons also at or above the upper threshold (possible duplicates of each other). */
      duplicatePersonIds: string[];
    }
  | {
      /** Between thresholds: the record becomes its own new person and a steward reviews it. */
      action: 'review';
      reason: 'possible_match';
      personIds: string[];
      probability: number;
      flags: DecisionFlag[];
    }
  | { action: 'new'; reason: 'no_match' | 'excluded_by_constraint'; flags: DecisionFlag[] };

function touches(pair: readonly [string, string], recordId: string, c: CandidatePerson): boolean {
  const hit = (x: string): boolean => x === c.personId || c.recordIds.includes(x);
  return (pair[0] === recordId && hit(pair[1])) || (pair[1] === recordId && hit(pair[0]));
}

function byScore(a: CandidatePerson, b: CandidatePerson): number {
  return b.probability - a.probability || b.weight - a.weight || (a.personId < b.personId ? -1 : 1);
}

export function decide(input: DecideInput): Decision {
  const { recordId, thresholds } = input;
  const mustLink = input.constraints?.mustLink ?? [];
  const mustNotLink = input.constraints?.mustNotLink ?? [];
  const blocked = (c: CandidatePerson): boolean => mustNotLink.some((p) => touches(p, recordId, c));
  const forced = (c: CandidatePerson): boolean => mustLink.some((p) => touches(p, recordId, c));
  const flags: DecisionFlag[] = [];

  const allowed = input.candidates.filter((c) => !blocked(c)).sort(byScore);
  const excludedAny = allowed.length < input.candidates.length;
  if (input.candidates.some((c) => blocked(c) && forced(c))) flags.push('constraint_conflict');

  const forcedList = allowed.filter(forced);
  if (forcedList.length) {
    const best = forcedList[0];
    const dups = allowed.filter((c) => c !== best && (forced(c) || c.probability >= thresholds.upper)).map((c) => c.personId);
    if (dups.length) flags.push('possible_duplicate_persons');
    return { action: 'link', personId: best.personId, probability: best.probability, weight: best.weight, reason: 'must_link', flags, duplicatePersonIds: dups };
  }

  const above = allowed.filter((c) => c.probability >= thresholds.upper);
  const linkable = above.filter((c) => !c.excluded);
  if (linkable.length) {
    // Link to the best only; never merge the others by chaining, flag them instead.
    const best = linkable[0];
    const dups = above.filter((c) => c !== best).map((c) => c.personId);
    if (dups.length) flags.push('possible_duplicate_persons');
    return { action: 'link', personId: best.personId, probability: best.probability, weight: best.weight, reason: 'match', flags, duplicatePersonIds: dups };
  }
  const review = allowed.filter((c) => c.probability >= thresholds.lower);
  if (review.length) {
    return { action: 'review', reason: 'possible_match', personIds: review.map((c) => c.personId), probability: review[0].probability, flags };
  }
  return { action: 'new', reason: excludedAny && !allowed.length ? 'excluded_by_constraint' : 'no_match', flags };
}
