import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import {
  ConflictError,
  DomainError,
  ForbiddenError,
  NotFoundError,
  UnauthenticatedError,
  ValidationFailedError,
} from './domain.error';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  errors?: { path: string; message: string }[];
}

function domainStatus(err: DomainError): number {
  if (err instanceof NotFoundError) return HttpStatus.NOT_FOUND;
  if (err instanceof ConflictError) return HttpStatus.CONFLICT;
  if (err instanceof ValidationFailedError) return HttpStatus.BAD_REQUEST;
  if (err instanceof UnauthenticatedError) return HttpStatus.UNAUTHORIZED;
  if (err instanceof ForbiddenError) return HttpStatus.FORBIDDEN;
  return HttpStatus.INTERNAL_SERVER_ERROR;
}

/** Maps any thrown error to a JSON answer. Domain messages are written not to carry personal data. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof DomainError) {
    const statusCode = domainStatus(err);
    return { statusCode, error: err.code, message: err.message, ...(err.details ? { errors: err.details } : {}) };
  }
  if (err instanceof HttpException) {
    const statusCode = err.getStatus();
    const resp = err.getResponse();
    const raw = typeof resp === 'string' ? resp : (resp as { message?: unknown }).message;
    const message = Array.isArray(raw) ? raw.map(String).join('; ') : typeof raw === 'string' ? raw : err.message;
    return { statusCode, error: HttpStatus[statusCode]?.toLowerCase() ?? 'error', message };
  }
  return { statusCode: 500, error: 'internal_error', message: 'internal error' };
}

/**
 * The stack's frames without its first line(s): Error.stack begins with the message, and a
 * driver's message can quote row data (names, dates of birth).
 */
export function stackFrames(err: unknown): string | undefined {
  if (!(err instanceof Error) || typeof err.stack !== 'string') return undefined;
  const frames = err.stack.split('\n').filter((l) => /^\s+at /.test(l));
  return frames.length ? frames.join('\n') : undefined;
}

@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('http');

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const body = toErrorBody(err);
    // Only the error class and the stack's frames: messages from drivers can quote row data.
    if (body.statusCode >= 500) this.log.error({ err: err instanceof Error ? err.name : 'unknown', stack: stackFrames(err) }, 'unhandled error');
    if (err instanceof HttpException && body.statusCode === 429) {
      const retry = res.getHeader('Retry-After');
      if (retry === undefined) res.setHeader('Retry-After', '1');
    }
    res.status(body.statusCode).json(body);
  }
}
