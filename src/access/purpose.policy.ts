import { ROLES, type Principal, type Role } from './roles';

/** Purposes of use a caller may state in `X-Purpose-Of-Use` (docs/access.md). */
export const PURPOSES = ['care_coordination', 'discharge_planning', 'data_quality', 'audit'] as const;
export type Purpose = (typeof PURPOSES)[number];

/** Lower-case, as Node presents incoming headers. */
export const PURPOSE_HEADER = 'x-purpose-of-use';

/** Which purposes fit which role. Admin has none: the role reads no person data. */
export const PURPOSES_BY_ROLE: Readonly<Record<Role, readonly Purpose[]>> = {
  case_manager: ['care_coordination'],
  discharge_planner: ['discharge_planning', 'care_coordination'],
  data_steward: ['data_quality'],
  auditor: ['audit'],
  admin: [],
};

export type PurposeDenialCode = 'purpose_missing' | 'purpose_unknown' | 'purpose_unfit';

export type PurposeCheck =
  | { ok: true; purpose: Purpose; /** The role the caller acts in for this purpose. */ role: Role }
  | { ok: false; code: PurposeDenialCode; reason: string };

export function isPurpose(v: unknown): v is Purpose {
  return typeof v === 'string' && (PURPOSES as readonly string[]).includes(v);
}

/**
 * Checks the stated purpose against the caller's roles. A caller with several roles acts in the
 * first role (in ROLES order) the purpose fits, so the purpose also picks what the caller sees.
 * The header value is never echoed back: it is caller input.
 */
export function checkPurpose(viewer: Pick<Principal, 'roles'>, header: string | readonly string[] | undefined): PurposeCheck {
  if (Array.isArray(header)) {
    return { ok: false, code: 'purpose_unknown', reason: 'X-Purpose-Of-Use must be given once' };
  }
  const value = typeof header === 'string' ? header.trim() : '';
  if (value === '') {
    return { ok: false, code: 'purpose_missing', reason: `X-Purpose-Of-Use is required: one of ${PURPOSES.join(', ')}` };
  }
  if (!isPurpose(value)) {
    return { ok: false, code: 'purpose_unknown', reason: `X-Purpose-Of-Use must be one of ${PURPOSES.join(', ')}` };
  }
  const role = ROLES.find((r) => viewer.roles.includes(r) && PURPOSES_BY_ROLE[r].includes(value));
  if (!role) {
    const fits = viewer.roles.flatMap((r) => PURPOSES_BY_ROLE[r]);
    return {
      ok: false,
      code: 'purpose_unfit',
      reason: `X-Purpose-Of-Use ${value} does not fit role ${viewer.roles.join(', ') || '(none)'}` +
        (fits.length ? `; allowed: ${[...new Set(fits)].join(', ')}` : '; the role reads no person data'),
    };
  }
  return { ok: true, purpose: value, role };
}
