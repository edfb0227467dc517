import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliFromSource, type CliRun } from '../support/cli-run';
import { makeEvent, TestStack, waitFor } from '../support/stack';

interface AuditRow {
  seq: string;
  xid: string;
  actor: string;
  actor_kind: string;
  purpose: string | null;
  action: string;
  resource: string;
  person_ids: string[];
  outcome: string;
  details: Record<string, unknown>;
}

const FIRST = ['Ana', 'Luis', 'Rosa', 'Jorge', 'Elena', 'Marco', 'Sara', 'Tomas', 'Irene', 'Pablo'];
const LAST = ['Begay', 'Chavez', 'Okafor', 'Nguyen', 'Tsosie', 'Martinez'];

/**
 * Every CLI write, decision, configuration change, token mint and person-level read appends an
 * audit entry under the operator (--actor), actor_kind cli (issue 6).
 */
describe('the CLI audits what it changes and discloses', () => {
  let stack: TestStack;
  let env: Record<string, string>;
  let dir: string;
  const ACTOR = 'ops-ann';

  const cli = async (...args: string[]): Promise<CliRun> => {
    const r = await runCliFromSource([...args, '--actor', ACTOR], env);
    if (r.code !== 0) throw new Error(`cli ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  };
  const entries = (action: string): Promise<AuditRow[]> =>
    stack.query<AuditRow>(
      `SELECT seq::text AS seq, xmin::text AS xid, actor, actor_kind, purpose, action, resource, person_ids, outcome, details
         FROM audit_entry WHERE action = $1 ORDER BY seq`,
      [action],
    );
  const one = async (action: string): Promise<AuditRow> => {
    const rows = await entries(action);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: ACTOR, actor_kind: 'cli', outcome: 'allowed' });
    return rows[0];
  };

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    env = { DATABASE_URL: stack.dbUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', QUEUE_PREFIX: stack.prefix };
    dir = mkdtempSync(join(tmpdir(), 'ff-cli-audit-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await stack.close();
  });

  it('sources create, rotate-key and agencies update (configuration changes)', async () => {
    await cli('sources', 'create', '--code', 'county-jail', '--name', 'County Jail', '--kind', 'jail', '--json');
    expect(await one('source.create')).toMatchObject({ resource: 'source/county-jail' });
    await cli('sources', 'rotate-key', 'county-jail', '--json');
    expect(await one('source.rotate_key')).toMatchObject({ resource: 'source/county-jail' });
    await cli('agencies', 'update', 'county-jail', '--part2', '--json');
    await cli('agencies', 'update', 'county-jail', '--no-part2', '--json');
    const updates = await entries('agency.update');
    expect(updates.map((u) => u.details.part2)).toEqual([true, false]);
  }, 240_000);

  it('import: one entry per committed batch, in the transaction that wrote the inbox rows', async () => {
    const lines = Array.from({ length: 60 }, (_, i) =>
      JSON.stringify(makeEvent({ eventId: `imp-${i}` }, {
        recordId: `R-${i}`, firstName: FIRST[i % FIRST.length], lastName: LAST[Math.floor(i / FIRST.length)],
        dateOfBirth: `19${50 + (i % 40)}-0${1 + (i % 9)}-1${i % 10}`,
      })),
    );
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    // No worker yet: applying an event updates its inbox row (and so its xmin).
    await stack.stopWorkers();
    await cli('import', file, '--source', 'county-jail', '--batch-size', '25', '--json');
    const batches = await entries('events.import');
    expect(batches.map((b) => b.details.accepted)).toEqual([25, 25, 10]);
    for (const b of batches) {
      expect(b).toMatchObject({ actor: ACTOR, actor_kind: 'cli', resource: 'source/county-jail', details: { format: 'ndjson', received: expect.any(Number) } });
      // Same transaction: the entry and its batch's inbox rows share one transaction id.
      const [x] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE xmin::text = $1`, [b.xid]);
      expect(Number(x.n)).toBe(b.details.accepted);
    }
    await stack.startWorker();
    await waitFor(async () => {
      const [r] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM linkage_record`);
      return Number(r.n) >= 60;
    }, 60_000, 'records linked');
  }, 240_000);

  it('links export (every person) and links explain (one record: its persons) are recorded as reads', async () => {
    const exp = await cli('links', 'export');
    expect(exp.stdout.split('\n')[0]).toBe('source\trecordId\tpersonId');
    expect(await one('links.export')).toMatchObject({ resource: 'links', purpose: 'data_quality', person_ids: [] });

    const [p] = await stack.query<{ person_id: string }>(
      `SELECT lr.person_id FROM linkage_record lr JOIN source_record sr ON sr.id = lr.source_record_id WHERE sr.record_id = 'R-7'`,
    );
    await cli('links', 'explain', '--source', 'county-jail', '--record', 'R-7', '--json');
    expect(await one('links.explain.read')).toMatchObject({ resource: 'source/county-jail/record/R-7', purpose: 'data_quality', person_ids: [p.person_id] });
  }, 240_000);

  it('model train and model activate (a decision): recorded; an unknown version is refused unrecorded', async () => {
    const trained = JSON.parse((await cli('model', 'train', '--sample', '60', '--json')).stdout.trim().split('\n').pop()!) as { version: string };
    const trainEntry = await one('model.train');
    expect(trainEntry).toMatchObject({ resource: `model/${trained.version}`, details: { trainedOn: 60, activate: false } });
    // Stored and recorded in one transaction.
    const rowXid = async (): Promise<string> =>
      (await stack.query<{ xid: string }>(`SELECT xmin::text AS xid FROM linkage_model WHERE version = $1`, [trained.version]))[0].xid;
    expect(await rowXid()).toBe(trainEntry.xid);
    await expect(runCliFromSource(['model', 'activate', 'no-such-model', '--actor', ACTOR], env)).resolves.toMatchObject({ code: 1 });
    expect(await entries('model.activate')).toEqual([]);
    await cli('model', 'activate', trained.version, '--json');
    const activateEntry = await one('model.activate');
    expect(activateEntry).toMatchObject({ resource: `model/${trained.version}` });
    expect(await rowXid()).toBe(activateEntry.xid);
    const [m] = await stack.query<{ active: boolean }>(`SELECT active FROM linkage_model WHERE version = $1`, [trained.version]);
    expect(m.active).toBe(true);
  }, 240_000);

  it('projections rebuild, ingest status and retry, users token, sources disable', async () => {
    await cli('projections', 'rebuild', '--json');
    expect(await one('projections.rebuild')).toMatchObject({ details: { batchSize: 500 } });
    await expect(runCliFromSource(['ingest', 'retry', '--source', 'nowhere', '--actor', ACTOR], env)).resolves.toMatchObject({ code: 1 });
    expect(await entries('ingest.retry')).toEqual([]);
    await cli('ingest', 'status', '--json');
    expect(await one('ingest_status.read')).toMatchObject({ resource: 'ingest/status' });
    await cli('ingest', 'retry', '--source', 'county-jail', '--json');
    expect(await one('ingest.retry')).toMatchObject({ resource: 'source/county-jail' });
    await cli('users', 'token', '--sub', 'alice', '--agency', 'county-jail', '--role', 'discharge_planner', '--json');
    expect(await one('token.mint')).toMatchObject({ resource: 'user/alice' });
    await cli('sources', 'disable', 'county-jail', '--json');
    expect(await one('source.disable')).toMatchObject({ resource: 'source/county-jail' });
    // And the chain they extended is intact.
    const verify = await cli('audit', 'verify', '--json');
    expect(JSON.parse(verify.stdout.trim())).toMatchObject({ ok: true });
  }, 240_000);
});
