export const ROLES = ['case_manager', 'discharge_planner', 'data_steward', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling, from a verified token. */
export interface Principal {
  sub: string;
  agency: string;
  agencyId: string;
  roles: Role[];
}
