import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { AppModule } from '../../src/app/app.module';
import { NotFoundError, ValidationFailedError } from '../../src/errors/domain.error';
import { EventImportService } from '../../src/ingest/import/event-import.service';
import { makeEvent, TestStack, waitFor } from '../support/stack';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

describe('bulk import', () => {
  let stack: TestStack;
  let cli: INestApplicationContext;
  let importer: EventImportService;
  let dir: string;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1, api: false });
    await stack.createSource('county-jail', 'jail');
    await stack.createSource('clinic', 'provider');
    cli = await NestFactory.createApplicationContext(AppModule.forRole('cli'), { logger: false });
    importer = cli.get(EventImportService);
    dir = mkdtempSync(path.join(tmpdir(), 'ff-import-'));
  });
  afterAll(async () => {
    await cli?.close();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const rejectsOf = (file: string): { line: number; eventId: string | null; paths: string[] }[] =>
    readFileSync(file, 'utf8').trim().split('\n').map((l) => {
      const r = JSON.parse(l) as { line: number; eventId: string | null; errors: { path: string; message: string }[] };
      expect(r.errors.every((e) => e.message.length > 0)).toBe(true);
      return { line: r.line, eventId: r.eventId, paths: [...new Set(r.errors.map((e) => e.path))] };
    });
  const inboxCount = async (code: string): Promise<number> =>
    Number((await stack.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event e JOIN source s ON s.id = e.source_id WHERE s.code = $1`, [code]))[0].n);

  it('imports NDJSON: bad rows go to the rejects file by line and field, the rest are applied; a second import changes nothing', async () => {
    const good = [1, 2, 3].map((i) => makeEvent({ eventId: `nd-${i}` }, { recordId: `J-${i}` }));
    const file = write('jail.ndjson', [
      JSON.stringify(good[0]),
      '{"eventId":"nd-broken","type":"service",',
      JSON.stringify(makeEvent({ eventId: 'nd-nofirst' }, { firstName: undefined })),
      '',
      JSON.stringify(good[1]),
      JSON.stringify(makeEvent({ eventId: 'nd-baddate' }, { dateOfBirth: '1980-02-30' })),
      JSON.stringify(good[2]),
    ].join('\n'));

    const first = await importer.importFile({ file, source: 'county-jail', wait: true, waitTimeoutMs: 20_000, waitPollMs: 100 });
    expect(first).toMatchObject({
      rows: 6, accepted: 3, duplicate: 0, rejected: 3, rejectsFile: `${file}.rejects.ndjson`,
      applied: 3, deadLettered: 0, pending: 0,
    });
    expect(first.waitTimedOut).toBeUndefined();
    expect(rejectsOf(`${file}.rejects.ndjson`)).toEqual([
      { line: 2, eventId: 'nd-broken', paths: [''] },
      { line: 3, eventId: 'nd-nofirst', paths: ['subject.firstName'] },
      { line: 6, eventId: 'nd-baddate', paths: ['subject.dateOfBirth'] },
    ]);
    const applied = await stack.query<{ event_id: string }>(
      `SELECT event_id FROM inbox_event WHERE applied_at IS NOT NULL ORDER BY event_id`,
    );
    expect(applied.map((r) => r.event_id)).toEqual(['nd-1', 'nd-2', 'nd-3']);
    const recs = await stack.query<{ record_id: string }>(`SELECT record_id FROM source_record ORDER BY record_id`);
    expect(recs.map((r) => r.record_id)).toEqual(['J-1', 'J-2', 'J-3']);

    const again = await importer.importFile({ file, source: 'county-jail', wait: true, waitTimeoutMs: 20_000, waitPollMs: 100 });
    expect(again).toMatchObject({ rows: 6, accepted: 0, duplicate: 3, rejected: 3, applied: 3, pending: 0 });
    expect(await inboxCount('county-jail')).toBe(3);
  });

  it('--wait returns once the applied rows show in the read model: it waits for the refold after the last apply', async () => {
    const person = await stack.personOf('county-jail', 'J-1');
    const holder = new Client({ connectionString: stack.dbUrl });
    await holder.connect();
    try {
      // The person's refold lock, held elsewhere: the refold after the apply waits for it.
      await holder.query(`SELECT pg_advisory_lock(hashtextextended('person:' || $1, 2))`, [person]);
      const file = write('refold.ndjson', JSON.stringify(makeEvent({ eventId: 'rf-1', type: 'need_opened', details: { needId: 'N-7', category: 'food' } }, { recordId: 'J-1' })));
      let done = false;
      const pending = importer.importFile({ file, source: 'county-jail', wait: true, waitTimeoutMs: 20_000, waitPollMs: 50 }).finally(() => (done = true));
      await waitFor(async () => (await stack.query<{ applied_at: Date | null }>(`SELECT applied_at FROM inbox_event WHERE event_id = 'rf-1'`))[0]?.applied_at, 20_000, 'the apply');
      await new Promise((r) => setTimeout(r, 400));
      expect(done).toBe(false);
      await holder.query(`SELECT pg_advisory_unlock(hashtextextended('person:' || $1, 2))`, [person]);
      expect(await pending).toMatchObject({ accepted: 1, applied: 1, pending: 0 });
      expect(done).toBe(true);
      expect((await stack.query<{ open_needs: string[] }>(`SELECT open_needs FROM person_view WHERE person_id = $1`, [person]))[0].open_needs).toContain('food');
    } finally {
      await holder.end();
    }
  });

  it('imports CSV through the documented columns, rejecting bad rows by line and field', async () => {
    const file = write('clinic.csv', [
      'eventId,type,occurredAt,subject.recordId,subject.firstName,subject.lastName,subject.dateOfBirth,subject.identifiers,details.serviceType,details.consentId,details.form,details.partners,details.signedAt,details.expiresAt',
      'cs-1,service,2026-01-15T10:00:00Z,C-1,Ann,Lee,1980-01-02,mrn:77;medicaid:X1,intake,,,,,',
      'cs-2,service,2026-01-15T10:00:00Z,C-2,,Lee,1980-01-02,,intake,,,,,',
      'cs-3,consent_signed,2026-01-15T10:00:00Z,C-1,Ann,Lee,1980-01-02,,,k-1,uroi,county-jail;clinic,2026-01-15T10:00:00Z,2027-01-15T10:00:00Z',
      'cs-4,service,2026-01-15T10:00:00Z,C-4,"Bo',
      'Multi",Lee,1980-02-30,,intake,,,,,',
      'cs-5,service,2026-01-15T10:00:00Z,C-5,Cy',
      'cs-6,service,not-a-time,C-6,Cy,Lee,,,intake,,,,,',
      'cs-7,service,2026-01-15T10:00:00Z,C-7,Di,Lee,,,intake,,,,,',
    ].join('\r\n'));
    const rejects = path.join(dir, 'clinic-rejects.ndjson');

    const res = await importer.importFile({ file, source: 'clinic', rejectsPath: rejects, wait: true, waitTimeoutMs: 20_000, waitPollMs: 100 });
    expect(res).toMatchObject({ format: 'csv', rows: 7, accepted: 3, duplicate: 0, rejected: 4, rejectsFile: rejects, applied: 3, deadLettered: 0 });
    expect(rejectsOf(rejects)).toEqual([
      { line: 3, eventId: 'cs-2', paths: ['subject.firstName'] },
      { line: 5, eventId: 'cs-4', paths: ['subject.dateOfBirth'] },
      { line: 7, eventId: 'cs-5', paths: [''] },
      { line: 8, eventId: 'cs-6', paths: ['occurredAt'] },
    ]);
    expect(existsSync(`${file}.rejects.ndjson`)).toBe(false);
    const [cs1] = await stack.query<{ payload: { subject: Record<string, unknown> } }>(`SELECT payload FROM inbox_event WHERE event_id = 'cs-1'`);
    expect(cs1.payload.subject).toEqual({
      recordId: 'C-1', firstName: 'Ann', lastName: 'Lee', dateOfBirth: '1980-01-02',
      identifiers: [{ system: 'mrn', value: '77' }, { system: 'medicaid', value: 'X1' }],
    });
    const [cs3] = await stack.query<{ payload: { details: Record<string, unknown> } }>(`SELECT payload FROM inbox_event WHERE event_id = 'cs-3'`);
    expect(cs3.payload.details.partners).toEqual(['county-jail', 'clinic']);

    const again = await importer.importFile({ file, source: 'clinic', rejectsPath: rejects });
    expect(again).toMatchObject({ accepted: 0, duplicate: 3, rejected: 4 });
    expect(await inboxCount('clinic')).toBe(3);
  });

  it('refuses an unknown source, an unknown CSV column and does not create a rejects file when nothing is rejected', async () => {
    const ok = write('ok.ndjson', `${JSON.stringify(makeEvent({ eventId: 'ok-1' }))}\n`);
    await expect(importer.importFile({ file: ok, source: 'no-such-source' })).rejects.toThrow(NotFoundError);
    await expect(importer.importFile({ file: ok, source: 'no-such-source' })).rejects.toThrow('source no-such-source not found');

    const badHeader = write('bad-header.csv', 'eventId,type,occurredAt,subject.recordId,subject.firstName,subject.lastName,subject.shoeSize\ne,service,2026-01-15T10:00:00Z,r,A,B,44\n');
    const err = await importer.importFile({ file: badHeader, source: 'clinic' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationFailedError);
    expect((err as ValidationFailedError).message).toContain('unknown column "subject.shoeSize"');

    const res = await importer.importFile({ file: ok, source: 'county-jail' });
    expect(res).toMatchObject({ rows: 1, accepted: 1, rejected: 0, rejectsFile: null });
    expect(existsSync(`${ok}.rejects.ndjson`)).toBe(false);
  });

  it('--wait does not return while rows are unapplied: with no worker it times out and reports them pending', async () => {
    await stack.stopWorkers();
    const file = write('nowork.ndjson', [1, 2].map((i) => JSON.stringify(makeEvent({ eventId: `nw-${i}` }, { recordId: `N-${i}` }))).join('\n'));
    const res = await importer.importFile({ file, source: 'county-jail', wait: true, waitTimeoutMs: 1000, waitPollMs: 100 });
    expect(res).toMatchObject({ accepted: 2, applied: 0, pending: 2, waitTimedOut: true });
    await stack.startWorker();
    const later = await importer.importFile({ file, source: 'county-jail', wait: true, waitTimeoutMs: 20_000, waitPollMs: 100 });
    expect(later).toMatchObject({ accepted: 0, duplicate: 2, applied: 2, pending: 0 });
  });

  it('runs as the CLI command: JSON summary last, rejects file at --rejects, exit code 0', async () => {
    const file = write('cli.ndjson', [
      JSON.stringify(makeEvent({ eventId: 'cli-1' }, { recordId: 'L-1' })),
      'not json',
    ].join('\n'));
    const rejects = path.join(dir, 'cli-rejects.ndjson');
    const env = { ...process.env, DATABASE_URL: stack.dbUrl, QUEUE_PREFIX: stack.prefix, LOG_LEVEL: 'silent' };
    const out = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli.ts', 'import', file, '--source', 'county-jail', '--rejects', rejects, '--wait', '--wait-timeout', '30', '--json'], {
      cwd: ROOT, env: { ...env, TS_NODE_PROJECT: 'tsconfig.json' },
    });
    const lines = out.stdout.trim().split('\n');
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({
      file, source: 'county-jail', rows: 2, accepted: 1, duplicate: 0, rejected: 1, rejectsFile: rejects, applied: 1,
      elapsedMs: expect.any(Number), rowsPerSecond: expect.any(Number),
    });
    expect(rejectsOf(rejects)).toEqual([{ line: 2, eventId: null, paths: [''] }]);
    const unknown = await run(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli.ts', 'import', file, '--source', 'nope'], { cwd: ROOT, env })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('source nope not found');
  });
});
