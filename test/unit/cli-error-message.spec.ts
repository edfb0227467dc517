import { safeMessage } from '../../src/cli';

describe('CLI error messages carry no stored data', () => {
  it('prints a database error by its SQLSTATE, not its message', () => {
    const typeorm = Object.assign(new Error('duplicate key (last_name)=(Lopez)'), { name: 'QueryFailedError', driverError: { code: '23505' } });
    expect(safeMessage(typeorm)).toBe('database error (SQLSTATE 23505); the message is not shown because it can quote stored data');
    const pg = Object.assign(new Error('invalid input syntax: "Maria"'), { severity: 'ERROR', code: '22P02' });
    expect(safeMessage(pg)).toMatch(/SQLSTATE 22P02/);
    expect(safeMessage(pg)).not.toContain('Maria');
  });

  it('keeps other messages (files, network), which operators need', () => {
    expect(safeMessage(Object.assign(new Error("ENOENT: no such file or directory, open 'x.ndjson'"), { code: 'ENOENT' }))).toMatch(/ENOENT/);
    expect(safeMessage('thrown string')).toBe('unexpected failure');
  });
});
