import { SUBSTANCE_USE } from '../access/access.policy';
import type { Role } from '../access/roles';

/**
 * SQL conditions on person_view (alias `v`) that narrow a read to a close superset of what the
 * access policy lets a viewer see (docs/access.md), so the query layer reads few rows it must
 * then drop. They never decide anything: every row read still goes through decidePersonAccess and
 * the masking, and every filter is applied again on the masked view. They read
 * person_view.filter_keys (which agency recorded each open need and custody episode, and what
 * each unrevoked consent grants to whom). Consent expiry is left to the policy: an expired
 * consent still narrows to its person, who is then dropped.
 */
export interface ViewerScope {
  /** The viewer may see the person at all: its agency has a record, or a consent names it (or '*'). */
  relation(): string;
  /** The viewer may see an open custody episode: its own agency's, or any under a general consent. Implies relation(). */
  custody(): string;
  /** The viewer may see an open need of the category: its own agency's, or under a consent that covers it. Implies relation(). */
  need(category: string): string;
}

/** `p` adds a parameter and returns its placeholder; each condition adds its parameters when asked for. */
export function viewerScope(agency: string, role: Role, p: (v: unknown) => string): ViewerScope {
  if (role === 'data_steward') {
    // Stewards see demographics of persons known to an agency they may name; never custody or needs.
    return { relation: () => 'true', custody: () => 'false', need: () => 'false' };
  }
  if (role !== 'case_manager' && role !== 'discharge_planner') return { relation: () => 'false', custody: () => 'false', need: () => 'false' };
  const grants = (...scopes: string[]): string => `${p(scopes.flatMap((s) => [`grant|${agency}${s}`, `grant|*${s}`]))}::text[]`;
  return {
    relation: () => `(v.agencies @> ${p([agency])}::text[] OR v.filter_keys && ${grants('')})`,
    custody: () => `(v.filter_keys @> ${p([`custody|${agency}`])}::text[] OR (v.in_custody AND v.filter_keys && ${grants('|general')}))`,
    need: (category) => {
      // 42 CFR Part 2: substance use is covered only by a consent that names it.
      const covering = category === SUBSTANCE_USE ? grants(`|${category}`) : grants('|general', `|${category}`);
      return `(v.filter_keys @> ${p([`need|${agency}|${category}`])}::text[] OR (v.open_needs @> ${p([category])}::text[] AND v.filter_keys && ${covering}))`;
    },
  };
}
