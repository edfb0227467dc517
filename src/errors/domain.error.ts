/** Errors the domain raises; one filter maps them to HTTP codes. */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'not_found';
}
export class ConflictError extends DomainError {
  readonly code = 'conflict';
}
export class ValidationFailedError extends DomainError {
  readonly code = 'validation_failed';
}
export class UnauthenticatedError extends DomainError {
  readonly code = 'unauthenticated';
}
export class ForbiddenError extends DomainError {
  readonly code = 'forbidden';
}
