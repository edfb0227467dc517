import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import { blockingKeys } from '../../src/linkage/engine/blocking.rules';
import { generatePopulation } from '../../src/linkage/engine/population.generate';
import { pick, randInt, seededRng } from '../../src/linkage/engine/random.seed';
import { normaliseRecord } from '../../src/linkage/engine/record.normalise';
import type { RawPersonRecord } from '../../src/linkage/engine/record.types';
import { RecordLinkerService } from '../../src/linkage/record-linker.service';
import { TestStack } from '../support/stack';

type Demographics = Omit<RawPersonRecord, 'id'>;
interface Item { sourceRecordId: string; demographics: Demographics }

/**
 * linkBatch (the ingest batch's set-based linking) must make exactly the decisions linkRecord makes
 * one record at a time in the same order: same persons, actions, scores, explanations, review
 * tasks, keys and retirements. Both run over the same linked base in a transaction that is rolled
 * back, so each starts from the same state.
 */
describe('linkage: a batch linked set-based equals the same records linked one by one', () => {
  let stack: TestStack;
  let db: DataSource;
  let linker: RecordLinkerService;
  const items: Item[] = [];

  const demographicsOf = (r: RawPersonRecord): Demographics => {
    const { id: _id, ...d } = r;
    return d;
  };

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
    db = stack.api!.get(DataSource);
    linker = stack.api!.get(RecordLinkerService);
    await stack.createSource('src-a', 'provider');
    const [{ id: sourceId }] = await stack.query<{ id: string }>(`SELECT id FROM source WHERE code = 'src-a'`);

    const rng = seededRng(11);
    const pop = generatePopulation({ seed: 5, persons: 160, twinRate: 0.08, juniorRate: 0.1 }).map((g) => g.record);
    // A crowd sharing a surname sound and birth year: mid-size keys, and more candidates than the limit.
    for (let i = 0; i < 45; i++) {
      pop.push({
        id: `crowd-${i}`, firstName: pick(rng, ['Maria', 'Mario', 'Marie', 'Mary']), lastName: pick(rng, ['Garcia', 'Garza', 'Garcia Lopez']),
        dateOfBirth: `1990-${String(1 + randInt(rng, 12)).padStart(2, '0')}-${String(1 + randInt(rng, 28)).padStart(2, '0')}`,
        sex: 'F',
      });
    }
    const rows = await stack.query<{ id: string; record_id: string }>(
      `INSERT INTO source_record (source_id, record_id, demographics, demographics_hash, demographics_as_of)
       SELECT $1, r, d, sha256(convert_to(d::text, 'UTF8')), now() FROM unnest($2::text[], $3::jsonb[]) AS x(r, d)
       RETURNING id::text AS id, record_id`,
      [sourceId, pop.map((r) => r.id), pop.map((r) => JSON.stringify(demographicsOf(r)))],
    );
    const idOf = new Map(rows.map((r) => [r.record_id, r.id]));
    const all = pop.map((r) => ({ sourceRecordId: idOf.get(r.id)!, demographics: demographicsOf(r) }));
    const base = all.slice(0, Math.floor(all.length * 0.55));
    for (let i = 0; i < base.length; i += 40) {
      await db.transaction(async (em) => {
        for (const it of base.slice(i, i + 40)) await linker.linkRecord(em, it.sourceRecordId, it.demographics);
      });
    }
    // Steward state the decisions must honour: locked links and constraints between base records.
    const linked = await stack.query<{ id: string; person_id: string }>(`SELECT source_record_id::text AS id, person_id::text AS person_id FROM linkage_record ORDER BY 1`);
    await stack.query(`UPDATE linkage_record SET locked = true WHERE source_record_id = ANY($1::bigint[])`, [linked.filter((_, i) => i % 17 === 3).map((l) => l.id)]);
    await stack.query(
      `INSERT INTO steward_constraint (kind, a, b, actor) VALUES ('must_not_link', $1, $2, 'test'), ('must_link', $3, $4, 'test'), ('must_not_link', $5, $6, 'test')`,
      [`r:${linked[5].id}`, `p:${linked[9].person_id}`, `r:${linked[20].id}`, `p:${linked[40].person_id}`, `p:${linked[60].person_id}`, `r:${linked[61].id}`],
    );

    // The batch: the rest as new records, and base records re-linked with changed demographics
    // (another record's, a typo, or a new surname) so some keep, some move and some split.
    items.push(...all.slice(base.length));
    for (let i = 0; i < 50; i++) {
      const it = pick(rng, base);
      if (items.some((x) => x.sourceRecordId === it.sourceRecordId)) continue;
      const other = pick(rng, all);
      const kind = randInt(rng, 3);
      const demographics = kind === 0 ? other.demographics : kind === 1 ? { ...it.demographics, firstName: `${it.demographics.firstName ?? ''}x` } : { ...it.demographics, lastName: 'Tsinajinnie' };
      items.push({ sourceRecordId: it.sourceRecordId, demographics });
    }
    items.sort((a, b) => Number(a.sourceRecordId) - Number(b.sourceRecordId));

    // A key row whose record has no link (as after a failed write): neither path may use it as a candidate.
    const [stray] = await stack.query<{ id: string }>(
      `INSERT INTO source_record (source_id, record_id, demographics, demographics_hash, demographics_as_of)
       VALUES ($1, 'stray', '{}', sha256('stray'), now()) RETURNING id::text AS id`, [sourceId],
    );
    const strayKeys = [...new Set(items.slice(0, 5).flatMap((it) => blockingKeys(normaliseRecord({ ...it.demographics, id: it.sourceRecordId }))))];
    await stack.query(`INSERT INTO blocking_key (key, source_record_id) SELECT unnest($1::text[]), $2::bigint`, [strayKeys, stray.id]);
  }, 120_000);
  afterAll(async () => stack.close());

  /** Everything linking wrote after `mark` (the last decision id), with new person ids renamed by first appearance. */
  async function effects(em: EntityManager, mark: string): Promise<unknown> {
    const q = <T>(sql: string, params: unknown[] = []): Promise<T[]> => em.query<T[]>(sql, params);
    const decisions = await q<Record<string, unknown>>(
      `SELECT source_record_id::text AS rec, person_id::text AS person, previous_person_id::text AS prev, action, reason, probability, weight,
              model_version, explanation, flags, actor
         FROM link_decision WHERE id > $1::bigint ORDER BY id`, [mark],
    );
    const links = await q(`SELECT source_record_id::text AS rec, person_id::text AS person, normalised::text AS n, locked FROM linkage_record ORDER BY source_record_id`);
    const keys = await q(`SELECT key, source_record_id::text AS rec FROM blocking_key ORDER BY 1, 2`);
    const retired = await q(`SELECT id::text AS id, retired_into::text AS into FROM person WHERE retired_into IS NOT NULL ORDER BY retired_at, id`);
    const persons = await q(`SELECT count(*)::int AS n FROM person`);
    const tasks = await q(
      `SELECT t.kind, t.source_record_id::text AS rec, t.person_ids::text[] AS persons, t.probability
         FROM review_task t JOIN link_decision d ON d.id = t.decision_id WHERE d.id > $1::bigint ORDER BY d.id, t.id`, [mark],
    );
    const names = new Map<string, string>();
    const existing = new Set((await q<{ id: string }>(`SELECT DISTINCT person_id::text AS id FROM link_decision WHERE id <= $1::bigint`, [mark])).map((r) => r.id));
    const rename = (v: unknown): unknown => JSON.parse(JSON.stringify(v), (_k, x: unknown) => {
      if (typeof x !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-/.test(x) || existing.has(x)) return x;
      if (!names.has(x)) names.set(x, `new-${names.size}`);
      return names.get(x);
    });
    return rename({ decisions, links, keys, retired, persons, tasks });
  }

  async function run(fn: (em: EntityManager) => Promise<void>): Promise<unknown> {
    // The same new-person ids in every run: a tie between two persons goes to the lower id.
    let n = 0;
    linker.newPersonId = () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
    const [{ mark }] = await stack.query<{ mark: string }>(`SELECT coalesce(max(id), 0)::text AS mark FROM link_decision`);
    const qr = db.createQueryRunner();
    await qr.startTransaction();
    try {
      await fn(qr.manager);
      return await effects(qr.manager, mark);
    } finally {
      await qr.rollbackTransaction();
      await qr.release();
      linker.newPersonId = randomUUID;
    }
  }

  it('makes the same decisions and writes the same rows, in batches of any size', async () => {
    const oneByOne = await run(async (em) => {
      for (const it of items) await linker.linkRecord(em, it.sourceRecordId, it.demographics);
    });
    const d = (oneByOne as { decisions: { action: string; reason: string }[] }).decisions;
    // The scenario exercises what it claims to.
    const actions = new Set(d.map((x) => x.action));
    for (const a of ['link', 'new', 'review', 'keep', 'move']) expect(actions).toContain(a);
    expect(d.length).toBe(items.length);

    for (const size of [items.length, 37, 2]) {
      const batched = await run(async (em) => {
        for (let i = 0; i < items.length; i += size) await linker.linkBatch(em, items.slice(i, i + size));
      });
      expect(batched).toEqual(oneByOne);
    }
  });

  it('returns each record\'s person, action and decision id', async () => {
    const slice = items.slice(0, 30);
    await run(async (em) => {
      const res = await linker.linkBatch(em, slice);
      expect([...res.keys()]).toEqual(slice.map((s) => s.sourceRecordId));
      const rows = await em.query<{ rec: string; person: string; action: string; id: string }[]>(
        `SELECT source_record_id::text AS rec, person_id::text AS person, action, id::text AS id FROM link_decision WHERE id = ANY($1::bigint[]) ORDER BY id`,
        [[...res.values()].map((r) => r.decisionId)],
      );
      expect(rows.map((r) => ({ personId: r.person, action: r.action, decisionId: r.id }))).toEqual(
        slice.map((s) => { const r = res.get(s.sourceRecordId)!; return { personId: r.personId, action: r.action, decisionId: r.decisionId }; }),
      );
    });
  });
});
