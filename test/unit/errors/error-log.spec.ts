import { Logger, type ArgumentsHost } from '@nestjs/common';
import { DomainErrorFilter, stackFrames } from '../../../src/errors/domain-error.filter';

/** A driver error can quote row data in its message: neither the answer nor the log may carry it. */
describe('unhandled errors: no message in the answer or the log', () => {
  const PII = 'duplicate key value violates unique constraint; Key (last_name, dob)=(Lopez, 1980-02-03) already exists';

  it('keeps only the stack frames', () => {
    const err = new Error(PII);
    const frames = stackFrames(err)!;
    expect(frames).toMatch(/^\s+at /);
    expect(frames).not.toContain('Lopez');
    expect(stackFrames('not an error')).toBeUndefined();
  });

  it('answers 500 "internal error" and logs the class and frames only', () => {
    const logged: unknown[] = [];
    const spy = jest.spyOn(Logger.prototype, 'error').mockImplementation((...args: unknown[]) => {
      logged.push(args);
    });
    const sent: { status?: number; body?: unknown } = {};
    const res = {
      status(code: number) {
        sent.status = code;
        return this;
      },
      json(body: unknown) {
        sent.body = body;
        return this;
      },
      getHeader: () => undefined,
      setHeader: () => undefined,
    };
    const host = { switchToHttp: () => ({ getResponse: () => res }) } as unknown as ArgumentsHost;
    try {
      new DomainErrorFilter().catch(Object.assign(new Error(PII), { name: 'QueryFailedError' }), host);
    } finally {
      spy.mockRestore();
    }
    expect(sent).toEqual({ status: 500, body: { statusCode: 500, error: 'internal_error', message: 'internal error' } });
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged)).toContain('QueryFailedError');
    expect(JSON.stringify(logged)).toContain(' at ');
    expect(JSON.stringify(logged)).not.toMatch(/Lopez|1980-02-03/);
  });
});
