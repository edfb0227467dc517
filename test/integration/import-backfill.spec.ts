import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliFromSource, type CliRun } from '../support/cli-run';
import { populationEvents, type SourceEvents } from '../support/population-events';
import { TestStack } from '../support/stack';

jest.setTimeout(600_000);

const dir = mkdtempSync(join(tmpdir(), 'ff-backfill-'));
writeFileSync(join(dir, 'x.txt'), '{}\n');
// About 330 records of 120 people (twins and Jr/Sr included) across six partner sources.
const data: SourceEvents[] = populationEvents({ seed: 11, persons: 120, extraEvery: 4 });
const files = data.map((s, i) => {
  const file = join(dir, `${s.source}.ndjson`);
  const lines = s.events.map((e) => JSON.stringify(e));
  // One broken row in the first file: it must land in the rejects file with its line number.
  if (i === 0) lines.splice(2, 0, JSON.stringify({ ...s.events[0], eventId: 'bad-1', occurredAt: 'yesterday' }));
  writeFileSync(file, `${lines.join('\n')}\n`);
  return { ...s, file };
});

function cliEnv(stack: TestStack): Record<string, string> {
  return { DATABASE_URL: stack.dbUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', QUEUE_PREFIX: stack.prefix };
}

async function cli(stack: TestStack, args: string[]): Promise<CliRun> {
  return runCliFromSource(args, cliEnv(stack));
}

function lastJson<T>(r: CliRun): T {
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** `links export` as a partition: each person as its sorted record keys, person ids forgotten. */
async function partition(stack: TestStack): Promise<{ groups: string[]; personOf: Map<string, string> }> {
  const r = await cli(stack, ['links', 'export']);
  expect(r.code).toBe(0);
  const members = new Map<string, string[]>();
  const personOf = new Map<string, string>();
  for (const line of r.stdout.trim().split('\n').slice(1)) {
    const [source, recordId, personId] = line.split('\t');
    expect(personId).toBeTruthy();
    members.set(personId, [...(members.get(personId) ?? []), `${source}:${recordId}`]);
    personOf.set(`${source}:${recordId}`, personId);
  }
  return { groups: [...members.values()].map((m) => m.sort().join(' ')).sort(), personOf };
}

/** Records whose link decision met two persons above the upper threshold. */
async function tiedRecords(stack: TestStack): Promise<string[]> {
  const rows = await stack.query<{ k: string }>(
    `SELECT DISTINCT s.code || ':' || sr.record_id AS k FROM link_decision d
       JOIN source_record sr ON sr.id = d.source_record_id JOIN source s ON s.id = sr.source_id
      WHERE 'possible_duplicate_persons' = ANY(d.flags)`,
  );
  return rows.map((r) => r.k);
}

/** Partition groups with the given records taken out (empty groups dropped). */
function without(groups: string[], records: Set<string>): string[] {
  return groups.map((g) => g.split(' ').filter((r) => !records.has(r)).join(' ')).filter((g) => g !== '').sort();
}

/** The familiar-faces read model per person, keyed by the person's records (ids differ between runs). */
async function readModel(stack: TestStack, personOf: Map<string, string>): Promise<Map<string, unknown>> {
  const rows = await stack.query<Record<string, unknown> & { person_id: string }>(
    `SELECT person_id::text AS person_id, display_name, search_name, birth_year, agencies, agency_count, familiar, criteria, in_custody, open_needs
       FROM person_view`,
  );
  const recordsOf = new Map<string, string[]>();
  for (const [rec, person] of personOf) recordsOf.set(person, [...(recordsOf.get(person) ?? []), rec]);
  return new Map(rows.map(({ person_id, ...cols }) => [(recordsOf.get(person_id) ?? []).sort().join(' '), cols]));
}

interface BackfillJson {
  rows: number;
  accepted: number;
  duplicate: number;
  rejected: number;
  rejectsFile: string | null;
  backfill: { applied: number; linked: number; newPersons: number; chunks: number; seededRecords: number; refolded: number; runRefold?: { persons: number; ms: number } };
}

describe('import --backfill', () => {
  let live: TestStack;
  let bulk: TestStack;
  let livePartition: Awaited<ReturnType<typeof partition>>;

  beforeAll(async () => {
    // The reference: the same files through the queue and one worker, file after file.
    live = await TestStack.start({ workers: 1 });
    bulk = await TestStack.start({ workers: 0 });
    for (const s of data) {
      await live.createSource(s.source, s.kind);
      await bulk.createSource(s.source, s.kind);
    }
    // The worker's first name-frequency recount runs 5 s after start; let it pass on the empty
    // base (as the backfill reads it) so both paths score with the same counts.
    await new Promise((r) => setTimeout(r, 6000));
    for (const f of files) {
      const r = await cli(live, ['import', '--source', f.source, f.file, '--wait', '--wait-timeout', '240', '--json', '--rejects', join(dir, `live-${f.source}.rejects`)]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) as string });
    }
    livePartition = await partition(live);
  });

  afterAll(async () => {
    await live?.close();
    await bulk?.close();
  });

  it('links a multi-source file set into the same persons and read model as the workers do', async () => {
    for (const [i, f] of files.entries()) {
      const r = await cli(bulk, ['import', '--backfill', '--source', f.source, f.file, '--chunk-size', '40', '--json']);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) as string });
      const s = lastJson<BackfillJson>(r);
      expect(s.accepted).toBe(f.events.length);
      expect(s.backfill.applied).toBe(f.events.length);
      expect(s.backfill.linked).toBe(new Set(f.events.map((e) => (e.subject as { recordId: string }).recordId)).size);
      if (i > 0) expect(s.backfill.seededRecords).toBeGreaterThan(0);
      if (i === 0) {
        expect(s.rejected).toBe(1);
        const rejects = readFileSync(s.rejectsFile!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; eventId: string; errors: { path: string }[] });
        expect(rejects).toEqual([expect.objectContaining({ line: 3, eventId: 'bad-1', errors: [expect.objectContaining({ path: 'occurredAt' })] })]);
      }
    }
    const bulkPartition = await partition(bulk);
    expect(bulkPartition.groups.length).toBeGreaterThan(50);
    expect(bulkPartition.groups.some((g) => g.includes(' '))).toBe(true); // people with several records were linked
    // A record that matches two persons equally well goes to the one decide() sorts first, by person
    // id: random UUIDs, so it may land on either in any two runs (worker runs too). Such records are
    // flagged possible_duplicate_persons; everything else must be identical.
    const tied = new Set([...await tiedRecords(live), ...await tiedRecords(bulk)]);
    expect(tied.size).toBeLessThan(bulkPartition.personOf.size / 50);
    expect(without(bulkPartition.groups, tied)).toEqual(without(livePartition.groups, tied));

    // Same stored effects: every inbox row applied, the same events and versions, the same decisions.
    const counts = async (s: TestStack): Promise<unknown> => (await s.query(
      `SELECT (SELECT count(*) FROM inbox_event WHERE applied_at IS NULL) AS unapplied,
              (SELECT count(*) FROM record_event) AS events, (SELECT count(*) FROM source_record_version) AS versions,
              (SELECT count(*) FROM blocking_key) AS keys, (SELECT count(*) FROM person WHERE retired_into IS NULL) AS persons,
              (SELECT json_object_agg(action, n) FROM (SELECT action, count(*) AS n FROM link_decision WHERE actor = 'auto' GROUP BY action) a) AS actions,
              (SELECT json_object_agg(kind, n) FROM (SELECT kind, count(*) AS n FROM review_task GROUP BY kind) t) AS tasks`,
    ))[0];
    expect(await counts(bulk)).toEqual(await counts(live));
    expect((await counts(bulk) as { unapplied: string }).unapplied).toBe('0');

    // The familiar-faces read model, person by person.
    const liveModel = await readModel(live, livePartition.personOf);
    const bulkModel = await readModel(bulk, bulkPartition.personOf);
    expect(bulkModel.size).toBe(bulkPartition.groups.length);
    const untied = (m: Map<string, unknown>): Record<string, unknown> => Object.fromEntries([...m].filter(([k]) => !k.split(' ').some((r) => tied.has(r))));
    expect(untied(bulkModel)).toEqual(untied(liveModel));

    // Decisions carry the service's explanation shape.
    const [d] = await bulk.query<{ explanation: Record<string, unknown>; actor: string; model_version: string }>(
      `SELECT explanation, actor, model_version FROM link_decision WHERE action = 'link' LIMIT 1`,
    );
    expect(d.actor).toBe('auto');
    expect(d.explanation).toEqual(expect.objectContaining({ decision: 'link', reason: 'match', bestMatch: expect.objectContaining({ fields: expect.any(Array) }) }));
    const audit = await bulk.query<{ n: string }>(`SELECT count(*) AS n FROM audit_entry WHERE action = 'events.backfill'`);
    expect(Number(audit[0].n)).toBeGreaterThanOrEqual(files.length);
  });

  it('one run over every file (--then) loads the base once and links the same persons as the workers', async () => {
    const stack = await TestStack.start({ workers: 0 });
    try {
      for (const s of data) await stack.createSource(s.source, s.kind);
      const [first, ...rest] = files;
      const r = await cli(stack, [
        'import', '--backfill', '--source', first.source, first.file, '--chunk-size', '40', '--json',
        ...rest.flatMap((f) => ['--then', `${f.source}=${f.file}`]),
      ]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) as string });
      // One summary line per file, in order.
      const sums = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as BackfillJson & { source: string });
      expect(sums.map((s) => s.source)).toEqual(files.map((f) => f.source));
      for (const [i, s] of sums.entries()) {
        expect(s.accepted).toBe(files[i].events.length);
        expect(s.backfill.applied).toBe(files[i].events.length);
        // Loaded from the database once, before the first file (empty here); carried in memory after.
        expect(s.backfill.seededRecords).toBe(0);
      }
      expect(sums[0].rejected).toBe(1);
      const tied = new Set([...await tiedRecords(live), ...await tiedRecords(stack)]);
      const got = await partition(stack);
      expect(tied.size).toBeLessThan(got.personOf.size / 50);
      expect(without(got.groups, tied)).toEqual(without(livePartition.groups, tied));
      const [left] = await stack.query<{ n: string; due: string }>(
        `SELECT (SELECT count(*) FROM inbox_event WHERE applied_at IS NULL) AS n, (SELECT count(*) FROM person_refold_due) AS due`,
      );
      expect(left).toEqual({ n: '0', due: '0' });
      // The read model is refolded once for the whole run, after the last file: every linked
      // person has its view, and a person touched by several files was refolded only once.
      expect(sums.slice(0, -1).map((x) => x.backfill.runRefold)).toEqual(sums.slice(0, -1).map(() => undefined));
      const run = sums[sums.length - 1].backfill.runRefold!;
      const [views] = await stack.query<{ linked: string; views: string }>(
        `SELECT (SELECT count(DISTINCT person_id) FROM linkage_record) AS linked, (SELECT count(*) FROM person_view) AS views`,
      );
      expect(views.views).toBe(views.linked);
      expect(run.persons).toBeGreaterThanOrEqual(Number(views.linked));
      expect(run.persons).toBeLessThan(sums.reduce((n, x) => n + x.backfill.refolded, 0));
    } finally {
      await stack.close();
    }
  });

  it('--then with the same source twice in a row: both files applied in order', async () => {
    const stack = await TestStack.start({ workers: 0 });
    try {
      const f = files[1];
      await stack.createSource(f.source, f.kind);
      const half = Math.ceil(f.events.length / 2);
      const [a, b] = [f.events.slice(0, half), f.events.slice(half)].map((evs, i) => {
        const file = join(dir, `same-${i}.ndjson`);
        writeFileSync(file, `${evs.map((e) => JSON.stringify(e)).join('\n')}\n`);
        return file;
      });
      const r = await cli(stack, ['import', '--backfill', '--source', f.source, a, '--then', `${f.source}=${b}`, '--json']);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) as string });
      const sums = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as BackfillJson);
      expect(sums.map((s) => [s.accepted, s.backfill.applied])).toEqual([[half, half], [f.events.length - half, f.events.length - half]]);
      const [{ n }] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE applied_at IS NULL`);
      expect(n).toBe('0');
    } finally {
      await stack.close();
    }
  });

  it('--then: a file whose reading stopped ends the run; the files after it are not touched', async () => {
    const stack = await TestStack.start({ workers: 0 });
    try {
      const [a, b] = files;
      await stack.createSource(a.source, a.kind);
      await stack.createSource(b.source, b.kind);
      const csv = join(dir, 'broken.csv');
      writeFileSync(csv, [
        'eventId,type,occurredAt,subject.recordId,subject.firstName,subject.lastName,subject.dateOfBirth,details.serviceType',
        'c-1,service,2026-01-15T10:00:00Z,C-1,Ann,Lee,1980-01-02,intake',
        'c-2,service,"2026-01-15T10:00:00Z,C-2,Bo,Lee,1981-01-02,intake',
        'c-3,service,2026-01-15T10:00:00Z,C-3,Cy,Lee,1982-01-02,intake',
      ].join('\n'));
      const r = await cli(stack, ['import', '--backfill', '--source', a.source, csv, '--then', `${b.source}=${b.file}`, '--json']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`not backfilled: ${b.file}`);
      const sums = r.stdout.trim().split('\n');
      expect(sums).toHaveLength(1);
      expect(JSON.parse(sums[0])).toEqual(expect.objectContaining({ accepted: 1, readStoppedAtLine: 3, backfill: expect.objectContaining({ applied: 1, linked: 1 }) }));
      const [n] = await stack.query<{ a: string; b: string }>(
        `SELECT count(*) FILTER (WHERE s.code = $1) AS a, count(*) FILTER (WHERE s.code = $2) AS b FROM inbox_event i JOIN source s ON s.id = i.source_id`,
        [a.source, b.source],
      );
      expect(n).toEqual({ a: '1', b: '0' });
    } finally {
      await stack.close();
    }
  });

  it.each([
    [['--then', 'x=y.ndjson'], '--then needs --backfill'],
    [['--backfill', '--then', 'probation'], '--then probation: expected <source>=<file>'],
    [['--backfill', '--then', '=y.ndjson'], '--then =y.ndjson: expected <source>=<file>'],
    [['--backfill', '--rejects', 'r.ndjson', '--then', 'x=y.ndjson'], '--rejects names one file'],
    [['--backfill', '--then', `nope=${files[1].file}`], 'source nope not found'],
    [['--backfill', '--then', `${files[1].source}=${join(dir, 'missing.ndjson')}`], `file ${join(dir, 'missing.ndjson')} not found`],
    [['--backfill', '--then', `${files[1].source}=${join(dir, 'x.txt')}`], `cannot tell the format of ${join(dir, 'x.txt')}`],
  ])('refuses %j before reading anything', async (args, message) => {
    const [{ n: before }] = await bulk.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event`);
    const r = await cli(bulk, ['import', '--source', files[0].source, files[0].file, ...args, '--json']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
    const [{ n: after }] = await bulk.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event`);
    expect(after).toBe(before);
  });

  it('running the same backfill again changes nothing', async () => {
    const before = await bulk.query(`SELECT (SELECT count(*) FROM link_decision) AS d, (SELECT count(*) FROM person) AS p, (SELECT count(*) FROM record_event) AS e`);
    const f = files[1];
    const r = await cli(bulk, ['import', '--backfill', '--source', f.source, f.file, '--json']);
    expect(r.code).toBe(0);
    const s = lastJson<BackfillJson>(r);
    expect(s).toEqual(expect.objectContaining({ accepted: 0, duplicate: f.events.length }));
    expect(s.backfill).toEqual(expect.objectContaining({ applied: 0, linked: 0, newPersons: 0, chunks: 0 }));
    expect(await bulk.query(`SELECT (SELECT count(*) FROM link_decision) AS d, (SELECT count(*) FROM person) AS p, (SELECT count(*) FROM record_event) AS e`)).toEqual(before);
    const tied = new Set([...await tiedRecords(live), ...await tiedRecords(bulk)]);
    expect(without((await partition(bulk)).groups, tied)).toEqual(without(livePartition.groups, tied));
  });

  it('finishes rows an earlier run left pending (interrupted, or queued by a plain import)', async () => {
    const stack = await TestStack.start({ workers: 0 });
    try {
      const f = files[2];
      await stack.createSource(f.source, f.kind);
      // A plain import with no worker running leaves every row pending, like a backfill killed after accepting.
      expect((await cli(stack, ['import', '--source', f.source, f.file, '--json'])).code).toBe(0);
      const [{ n }] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE applied_at IS NULL`);
      expect(Number(n)).toBe(f.events.length);
      const r = await cli(stack, ['import', '--backfill', '--source', f.source, f.file, '--json']);
      expect(r.code).toBe(0);
      expect(lastJson<BackfillJson>(r)).toEqual(expect.objectContaining({ accepted: 0, duplicate: f.events.length, backfill: expect.objectContaining({ applied: f.events.length }) }));
      const [left] = await stack.query<{ n: string; unlinked: string }>(
        `SELECT (SELECT count(*) FROM inbox_event WHERE applied_at IS NULL) AS n,
                (SELECT count(*) FROM source_record sr WHERE NOT EXISTS (SELECT 1 FROM linkage_record lr WHERE lr.source_record_id = sr.id)) AS unlinked`,
      );
      expect(left).toEqual({ n: '0', unlinked: '0' });
    } finally {
      await stack.close();
    }
  });

  it('refuses to run while a worker is connected to the ingest queue, and accepts nothing', async () => {
    const f = files[3];
    await bulk.startWorker();
    try {
      const [{ n: before }] = await bulk.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event`);
      const r = await cli(bulk, ['import', '--backfill', '--source', f.source, join(dir, 'never-read.ndjson'), '--json']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/worker\(s\) are connected to the ingest queue: stop them before a backfill/);
      const [{ n: after }] = await bulk.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event`);
      expect(after).toBe(before);
    } finally {
      await bulk.stopWorkers();
    }
  });
});
