/**
 * Familiar-faces criteria: configuration (env FAMILIAR_CRITERIA, a JSON array), validated at boot.
 * See docs/familiar-faces.md for the schema and examples.
 */

export const AGENCY_KINDS = ['court', 'jail', 'provider', 'other'] as const;
const EVENT_TYPES = [
  'booking', 'release', 'court_case', 'hearing', 'referral', 'service', 'need_opened', 'need_closed',
  'consent_signed', 'consent_revoked', 'contact_assigned', 'record_corrected',
] as const;
const NEED_CATEGORIES = [
  'housing', 'behavioral_health', 'substance_use', 'medical', 'medication', 'benefits', 'employment',
  'legal', 'transportation', 'food', 'identification', 'other',
] as const;

/** Which live events count, and how many of them (or of their agencies) are needed. */
export interface CriterionCondition {
  eventType?: string;
  agencyKind?: string;
  agency?: string;
  needCategory?: string;
  /** Matching events needed (default 1). */
  min?: number;
  /** Distinct agencies among the matching events (default 1). */
  minAgencies?: number;
}

export interface CriterionConfig extends CriterionCondition {
  id: string;
  description?: string;
  /** Only events in the last N days (at fold time) count. */
  withinDays?: number;
  /** Every condition must be met (each by its own events); excludes the condition fields above. */
  allOf?: CriterionCondition[];
}

export const DEFAULT_FAMILIAR_CRITERIA = '[{"id":"multi_agency","minAgencies":2}]';

export class CriteriaError extends Error {}

const CONDITION_KEYS = ['eventType', 'agencyKind', 'agency', 'needCategory', 'min', 'minAgencies'] as const;
const CRITERION_KEYS = ['id', 'description', 'withinDays', 'allOf', ...CONDITION_KEYS] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function intIn(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new CriteriaError(`${path} must be an integer from ${min} to ${max}`);
  return v;
}

function oneOf(v: unknown, path: string, allowed: readonly string[]): string {
  if (typeof v !== 'string' || !allowed.includes(v)) throw new CriteriaError(`${path} must be one of ${allowed.join(', ')}`);
  return v;
}

function condition(raw: Record<string, unknown>, path: string, allowedKeys: readonly string[]): CriterionCondition {
  for (const k of Object.keys(raw)) if (!allowedKeys.includes(k)) throw new CriteriaError(`${path}.${k} is not a known field (known: ${allowedKeys.join(', ')})`);
  const c: CriterionCondition = {};
  if (raw.eventType !== undefined) c.eventType = oneOf(raw.eventType, `${path}.eventType`, EVENT_TYPES);
  if (raw.agencyKind !== undefined) c.agencyKind = oneOf(raw.agencyKind, `${path}.agencyKind`, AGENCY_KINDS);
  if (raw.agency !== undefined) {
    if (typeof raw.agency !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(raw.agency)) throw new CriteriaError(`${path}.agency must be an agency code`);
    c.agency = raw.agency;
  }
  if (raw.needCategory !== undefined) c.needCategory = oneOf(raw.needCategory, `${path}.needCategory`, NEED_CATEGORIES);
  if (raw.min !== undefined) c.min = intIn(raw.min, `${path}.min`, 1, 100_000);
  if (raw.minAgencies !== undefined) c.minAgencies = intIn(raw.minAgencies, `${path}.minAgencies`, 1, 1000);
  return c;
}

/** Parses and validates; throws a CriteriaError naming the offending path. */
export function parseCriteria(json: string): CriterionConfig[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new CriteriaError('must be a JSON array of criteria');
  }
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > 50) throw new CriteriaError('must be a JSON array of 1 to 50 criteria');
  const seen = new Set<string>();
  return raw.map((item, i): CriterionConfig => {
    const path = `[${i}]`;
    if (!isObject(item)) throw new CriteriaError(`${path} must be an object`);
    if (typeof item.id !== 'string' || !/^[a-z0-9_]{1,64}$/.test(item.id)) throw new CriteriaError(`${path}.id must be 1-64 lower-case letters, digits or _`);
    if (seen.has(item.id)) throw new CriteriaError(`${path}.id "${item.id}" is used twice`);
    seen.add(item.id);
    const c: CriterionConfig = { id: item.id, ...condition(item, path, CRITERION_KEYS) };
    if (item.description !== undefined) {
      if (typeof item.description !== 'string' || item.description.length > 500) throw new CriteriaError(`${path}.description must be a string of at most 500 characters`);
      c.description = item.description;
    }
    if (item.withinDays !== undefined) c.withinDays = intIn(item.withinDays, `${path}.withinDays`, 1, 36_500);
    const hasCondition = CONDITION_KEYS.some((k) => item[k] !== undefined);
    if (item.allOf !== undefined) {
      if (hasCondition) throw new CriteriaError(`${path}.allOf cannot be combined with ${CONDITION_KEYS.join('/')} on the same criterion`);
      if (!Array.isArray(item.allOf) || item.allOf.length === 0 || item.allOf.length > 10) throw new CriteriaError(`${path}.allOf must be an array of 1 to 10 conditions`);
      c.allOf = item.allOf.map((sub, j) => {
        if (!isObject(sub)) throw new CriteriaError(`${path}.allOf[${j}] must be an object`);
        const cond = condition(sub, `${path}.allOf[${j}]`, CONDITION_KEYS);
        if (Object.keys(cond).length === 0) throw new CriteriaError(`${path}.allOf[${j}] must set at least one of ${CONDITION_KEYS.join(', ')}`);
        return cond;
      });
    } else if (!hasCondition) {
      throw new CriteriaError(`${path} must set allOf or at least one of ${CONDITION_KEYS.join(', ')}`);
    }
    return c;
  });
}

/** The reason a value is invalid, or null. */
export function criteriaProblem(json: unknown): string | null {
  if (typeof json !== 'string') return 'must be a JSON array of criteria';
  try {
    parseCriteria(json);
    return null;
  } catch (err) {
    return err instanceof CriteriaError ? err.message : String(err);
  }
}
