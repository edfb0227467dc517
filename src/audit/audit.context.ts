import { AsyncLocalStorage } from 'node:async_hooks';
import { isIP } from 'node:net';
import type { Request } from 'express';
import type { Principal } from '../access/roles';
import type { AuthenticatedSource } from '../partners/partners.service';

export type ActorKind = 'user' | 'source' | 'system' | 'cli';
export type AuditOutcome = 'allowed' | 'denied';

/** Who acted, from where and why: the same for every entry one request or command writes. */
export interface AuditContext {
  /** User subject, `source:<code>`, `system:<component>`, or the operator's name for the CLI. */
  actor: string;
  actorKind: ActorKind;
  agency: string | null;
  /** The role acted in; several comma-joined when the action does not pick one. */
  role: string | null;
  purpose: string | null;
  requestId: string | null;
  clientAddress: string | null;
}

/** Ids, codes and counts only: never names, dates of birth, addresses or free text from callers. */
export type AuditDetailValue = string | number | boolean | null | readonly string[] | readonly number[] | Readonly<Record<string, number>>;
export type AuditDetails = Readonly<Record<string, AuditDetailValue>>;

export interface AuditAction {
  /** `<thing>.<verb>`, e.g. person.read, events.ingest, token.mint. Reads of person data end in `.read`. */
  action: string;
  /** What was acted on, e.g. `person/<uuid>`, `source/<code>`, `GET /api/v1/persons/:id`. */
  resource: string;
  /** Every person whose information the action disclosed or changed. */
  personIds?: readonly string[];
  outcome?: AuditOutcome;
  details?: AuditDetails;
}

export type AuditEntryInput = AuditContext & AuditAction;

export const PURPOSE_OF_USE_HEADER = 'x-purpose-of-use';
const PURPOSE_FORM = /^[a-z][a-z_]{0,39}$/;

export type AuditedRequest = Request & { user?: Principal; source?: AuthenticatedSource; id?: unknown };

/** The stated purpose as recorded: known-shaped values as given, anything else marked, never echoed. */
export function recordedPurpose(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const v = Array.isArray(header) ? '' : header.trim();
  return PURPOSE_FORM.test(v) ? v : '(unrecognised)';
}

function clientAddress(req: Request): string | null {
  const raw = req.ip ?? req.socket?.remoteAddress;
  return raw && isIP(raw) ? raw : null;
}

/**
 * Built from a request after its guard ran: the user (UserAuthGuard sets req.user), or the
 * partner source (SourceKeyGuard sets req.source), or `anonymous` when neither authenticated.
 */
export function auditContextFromRequest(req: AuditedRequest): AuditContext {
  const requestId = typeof req.id === 'string' || typeof req.id === 'number' ? String(req.id) : null;
  const base = { requestId, clientAddress: clientAddress(req), purpose: recordedPurpose(req.headers[PURPOSE_OF_USE_HEADER]) };
  if (req.user) return { ...base, actor: req.user.sub, actorKind: 'user', agency: req.user.agency, role: req.user.roles.join(',') };
  if (req.source) return { ...base, actor: `source:${req.source.sourceCode}`, actorKind: 'source', agency: req.source.agencyCode, role: null };
  return { ...base, actor: 'anonymous', actorKind: 'user', agency: null, role: null };
}

let processContext: AuditContext = systemAuditContext('service');

/** Actions outside a request (timers, workers): `system:<component>`. */
export function systemAuditContext(component: string): AuditContext {
  return { actor: `system:${component}`, actorKind: 'system', agency: null, role: null, purpose: null, requestId: null, clientAddress: null };
}

/** The CLI names its operator once per process: --actor, else $USER. */
export function setCliActor(actor: string | undefined): AuditContext {
  const name = (actor ?? process.env.USER ?? process.env.LOGNAME ?? 'unknown').trim().slice(0, 200) || 'unknown';
  processContext = { actor: name, actorKind: 'cli', agency: null, role: null, purpose: null, requestId: null, clientAddress: null };
  return processContext;
}

const scoped = new AsyncLocalStorage<AuditContext>();

/** Runs fn with ctx as the context service code records under (see currentAuditContext). */
export function runWithAuditContext<T>(ctx: AuditContext, fn: () => T): T {
  return scoped.run(ctx, fn);
}

/** For services called from both HTTP and CLI: the scoped context, else the process's (CLI operator or system). */
export function currentAuditContext(): AuditContext {
  return scoped.getStore() ?? processContext;
}
