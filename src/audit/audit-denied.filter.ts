import { ArgumentsHost, Catch, ExceptionFilter, Injectable, Logger } from '@nestjs/common';
import { ForbiddenError, UnauthenticatedError } from '../errors/domain.error';
import { DomainErrorFilter } from '../errors/domain-error.filter';
import { parseApiKey } from '../partners/api-key';
import { auditContextFromRequest, type AuditedRequest } from './audit.context';
import { AuditService } from './audit.service';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Refused requests (401 from a guard, 403 from a guard or the access policy) are audited as
 * denied before the answer goes out. The request's own transaction, if any, has rolled back,
 * so the entry gets one of its own. configureHttp installs it after (so it is tried before) the
 * global DomainErrorFilter, which still writes the answer.
 */
@Injectable()
@Catch(UnauthenticatedError, ForbiddenError)
export class AuditDeniedFilter implements ExceptionFilter {
  private readonly log = new Logger('audit');
  private readonly respond = new DomainErrorFilter();

  constructor(private readonly audit: AuditService) {}

  async catch(err: UnauthenticatedError | ForbiddenError, host: ArgumentsHost): Promise<void> {
    if (host.getType() === 'http') {
      const req = host.switchToHttp().getRequest<AuditedRequest>();
      try {
        await this.audit.recordAlone(deniedEntry(req, err));
      } catch (e) {
        // The refusal stands either way; a lost denial is an operational alarm, not a reason to allow.
        this.log.error({ err: e instanceof Error ? e.name : 'unknown', requestId: req.id }, 'could not audit a denied request');
      }
    }
    this.respond.catch(err, host);
  }
}

function deniedEntry(req: AuditedRequest, err: UnauthenticatedError | ForbiddenError): Parameters<AuditService['recordAlone']>[0] {
  const ctx = auditContextFromRequest(req);
  const route = (req.route as { path?: string } | undefined)?.path;
  const path = route ? `${req.baseUrl}${route}` : req.path;
  const id = typeof req.params?.id === 'string' && UUID.test(req.params.id) ? req.params.id.toLowerCase() : null;
  const header = req.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : '';
  const keyId = parseApiKey(token)?.keyId ?? null;
  return {
    ...ctx,
    // An API-key caller that failed authentication is a source; the key id is its public half.
    actorKind: ctx.actorKind === 'user' && ctx.actor === 'anonymous' && keyId ? 'source' : ctx.actorKind,
    action: 'request.denied',
    resource: `${req.method} ${path}`,
    personIds: id ? [id] : [],
    outcome: 'denied',
    details: {
      status: err instanceof UnauthenticatedError ? 401 : 403,
      reason: err.code,
      // Domain messages carry codes and rules, never personal data (docs/architecture.md).
      message: err.message.slice(0, 200),
      ...(keyId ? { keyId } : {}),
      credential: token === '' ? 'none' : keyId ? 'api_key' : 'bearer_token',
    },
  };
}
