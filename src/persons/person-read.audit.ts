import { auditContextFromRequest, type AuditContext, type AuditDetails, type AuditedRequest } from '../audit/audit.context';
import type { AuditService } from '../audit/audit.service';
import { NotFoundError } from '../errors/domain.error';
import type { ReadOutcome, Viewer } from './person-query.service';

/** The request's context with the role the stated purpose picked (not every role the caller holds). */
export function readContext(req: AuditedRequest, viewer: Viewer): AuditContext {
  return { ...auditContextFromRequest(req), role: viewer.role, purpose: viewer.purpose };
}

export interface PersonRead<T> {
  /** `<thing>.read`: the accounting of disclosures lists actions ending in `.read`. */
  action: string;
  resource: string;
  /** Codes and counts only: never query text (it can carry names). */
  details?: AuditDetails;
  run: (outcome: ReadOutcome) => Promise<T>;
  /** Agencies whose information the answer shows (disclosures' informationFrom). */
  agencies: (result: T) => readonly string[];
}

/**
 * Runs a read of person data and commits its audit entry (persons disclosed, purpose, role,
 * agencies shown) before the answer leaves. A person the policy hid answers 404; that attempt is
 * recorded as denied, with the person's id, and the 404 stands.
 */
export async function auditPersonRead<T>(audit: AuditService, req: AuditedRequest, viewer: Viewer, read: PersonRead<T>): Promise<T> {
  const ctx = readContext(req, viewer);
  const outcome: ReadOutcome = { personIds: [], denied: [] };
  try {
    return await audit.auditedRead({ ...ctx, action: read.action, resource: read.resource, details: read.details }, async () => {
      const result = await read.run(outcome);
      const personIds = [...new Set(outcome.personIds)];
      return { result, personIds, details: { agencies: [...new Set(read.agencies(result))].sort(), returned: personIds.length } };
    });
  } catch (err) {
    if (err instanceof NotFoundError && outcome.denied.length > 0) {
      await audit.recordAlone({
        ...ctx, action: read.action, resource: read.resource, personIds: [...new Set(outcome.denied)], outcome: 'denied',
        details: { ...read.details, status: 404, reason: 'no_relation' },
      });
    }
    throw err;
  }
}
