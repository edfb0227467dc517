// The service's own linking code, loaded from the dist/ snapshot and driven in-process: times
// one RecordLinkerService.linkRecord call (its transaction and commit included), and the scaling
// phase (bulk-loaded bases of 10k / 100k / 1M persons, then 1,000 links timed into each).
import { createHash, randomUUID } from 'node:crypto';
import 'reflect-metadata';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { blockingKeys } from '../src/linkage/engine/blocking.rules';
import { generatePopulation, type GeneratedRecord } from '../src/linkage/engine/population.generate';
import { seededRng } from '../src/linkage/engine/random.seed';
import { normaliseRecord } from '../src/linkage/engine/record.normalise';
import type { RawPersonRecord } from '../src/linkage/engine/record.types';
import { log, type Snapshot, type Stack } from './linkage-stack';

type Demographics = Omit<RawPersonRecord, 'id'>;
interface LinkerLike {
  linkRecord(em: unknown, sourceRecordId: string, demographics: Demographics): Promise<{ action: string }>;
}

export interface Timing {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  actions: Record<string, number>;
}

export function quantiles(ms: number[], actions: Record<string, number> = {}): Timing {
  const s = [...ms].sort((a, b) => a - b);
  const q = (f: number): number => s[Math.min(s.length - 1, Math.floor(f * s.length))] ?? NaN;
  return { n: s.length, p50: q(0.5), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), actions };
}

export class InProcess {
  private constructor(
    readonly ds: DataSource,
    private readonly linker: LinkerLike,
    private readonly names: { refresh(): Promise<boolean> },
  ) {}

  static async open(snap: Snapshot, url: string): Promise<InProcess> {
    const { ModelStoreService } = snap.load<{ ModelStoreService: new (db: DataSource) => object }>('linkage/model-store.service');
    const { RecordLinkerService } = snap.load<{ RecordLinkerService: new (m: object) => LinkerLike }>('linkage/record-linker.service');
    const { NameFrequencyService } = snap.load<{ NameFrequencyService: new (db: DataSource) => { refresh(): Promise<boolean> } }>('linkage/name-frequency.service');
    const ds = new DataSource({ type: 'postgres', url, poolSize: 2 });
    await ds.initialize();
    return new InProcess(ds, new RecordLinkerService(new ModelStoreService(ds)), new NameFrequencyService(ds));
  }

  /** The service's periodic name recount, run now. */
  refreshNames(): Promise<boolean> {
    return this.names.refresh();
  }

  /** Links existing source records one at a time; ms per call including BEGIN and COMMIT. */
  async timeLinks(items: { sourceRecordId: string; demographics: Demographics }[]): Promise<Timing> {
    const ms: number[] = [];
    const actions: Record<string, number> = {};
    // A few untimed calls first: connection set-up and JIT warm-up are not link cost.
    for (const it of items.slice(0, 5)) await this.ds.transaction((em) => this.linker.linkRecord(em, it.sourceRecordId, it.demographics));
    for (const it of items.slice(5)) {
      const t = performance.now();
      const res = await this.ds.transaction((em) => this.linker.linkRecord(em, it.sourceRecordId, it.demographics));
      ms.push(performance.now() - t);
      actions[res.action] = (actions[res.action] ?? 0) + 1;
    }
    return quantiles(ms, actions);
  }

  close(): Promise<void> {
    return this.ds.destroy();
  }
}

/** Inserts source_record rows (not linked) for `records`; returns their ids in order. */
export async function insertSourceRecords(pg: Client, sourceId: string, records: { recordId: string; demographics: Demographics }[]): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < records.length; i += 2000) {
    const part = records.slice(i, i + 2000);
    const dem = part.map((r) => JSON.stringify(r.demographics));
    const res = await pg.query<{ id: string; record_id: string }>(
      `INSERT INTO source_record (source_id, record_id, demographics, demographics_hash, demographics_as_of)
       SELECT $1::uuid, t.r, t.d::jsonb, decode(t.h, 'hex'), now() FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(r, d, h, o)
       ORDER BY t.o RETURNING id::text, record_id`,
      [sourceId, part.map((r) => r.recordId), dem, dem.map((d) => createHash('sha256').update(d).digest('hex'))],
    );
    const byRecord = new Map(res.rows.map((r) => [r.record_id, r.id]));
    ids.push(...part.map((r) => byRecord.get(r.recordId)!));
  }
  return ids;
}

// --------------------------------------------------------------------------- scaling

export interface ScaleRow {
  persons: number;
  loadSeconds: number;
  timing: Timing;
}

const CHUNK_PERSONS = 20_000;
const PROBES = 1000;

/**
 * Bulk-loads a base straight into source_record / person / link_decision / linkage_record /
 * blocking_key (one record per person, normalised and keyed by the engine exactly as the
 * service would store it), grows it level by level, and times PROBES links into each level:
 * 70% a second record of a person in the base (should link), 30% a person not in it (new).
 */
export async function runScale(snap: Snapshot, stack: Stack, levels: number[]): Promise<ScaleRow[]> {
  const pg = stack.pg!;
  await stack.createSource('scale-base', 'provider');
  await stack.createSource('scale-probe', 'provider');
  const src = async (code: string): Promise<string> => (await pg.query<{ id: string }>(`SELECT id FROM source WHERE code = $1`, [code])).rows[0].id;
  const baseSource = await src('scale-base');
  const probeSource = await src('scale-probe');
  const rng = seededRng(77);
  const reservoir: GeneratedRecord[] = [];
  let seenSeconds = 0;
  // One record per held-out person (the generator's output is shuffled).
  const heldSeen = new Set<string>();
  const heldOut = generatePopulation({ seed: 99_999, persons: Math.ceil(PROBES * 0.3 * levels.length) + 100 })
    .filter((g) => {
      if (heldSeen.has(g.personId)) return false;
      heldSeen.add(g.personId);
      return true;
    })
    .map((g) => g.record);
  let chunk = 0;
  let pending: GeneratedRecord[][] = [];
  let loaded = 0;
  const rows: ScaleRow[] = [];
  const inproc = await InProcess.open(snap, stack.url);
  try {
    for (const [li, level] of levels.entries()) {
      const t0 = performance.now();
      while (loaded < level) {
        if (pending.length === 0) {
          const byPerson = new Map<string, GeneratedRecord[]>();
          for (const g of generatePopulation({ seed: 5000 + chunk, persons: CHUNK_PERSONS })) {
            const list = byPerson.get(g.personId) ?? [];
            list.push(g);
            byPerson.set(g.personId, list);
          }
          pending = [...byPerson.values()].map((l) => l.map((g) => ({ ...g, record: { ...g.record, id: `c${chunk}-${g.record.id}` } })));
          chunk++;
        }
        const take = pending.splice(0, Math.min(2000, level - loaded));
        await loadBatch(pg, baseSource, take.map((l) => l[0]));
        for (const l of take) {
          if (l.length < 2) continue;
          seenSeconds++;
          if (reservoir.length < 5000) reservoir.push(l[1]);
          else {
            const j = Math.floor(rng() * seenSeconds);
            if (j < 5000) reservoir[j] = l[1];
          }
        }
        loaded += take.length;
        if (loaded % 100_000 < 2000) log(`  scale: ${loaded.toLocaleString('en-US')} persons loaded`);
      }
      await pg.query('ANALYZE');
      await inproc.refreshNames();
      const loadSeconds = (performance.now() - t0) / 1000;
      const matches = reservoir.splice(0, Math.round(PROBES * 0.7));
      const fresh = heldOut.splice(0, PROBES - matches.length);
      const probes = shuffleWith([...matches.map((g) => g.record), ...fresh], rng).map((r, i) => {
        const { id: _id, ...demographics } = r;
        return { recordId: `l${li}-${i}`, demographics };
      });
      const ids = await insertSourceRecords(pg, probeSource, probes);
      const timing = await inproc.timeLinks(ids.map((id, i) => ({ sourceRecordId: id, demographics: probes[i].demographics })));
      log(`  scale ${level.toLocaleString('en-US')} persons: p50 ${timing.p50.toFixed(1)} ms, p99 ${timing.p99.toFixed(1)} ms ${JSON.stringify(timing.actions)}`);
      rows.push({ persons: level, loadSeconds, timing });
    }
  } finally {
    await inproc.close();
  }
  return rows;
}

function shuffleWith<T>(xs: T[], rng: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

async function loadBatch(pg: Client, sourceId: string, gens: GeneratedRecord[]): Promise<void> {
  await pg.query('BEGIN');
  try {
    const ids = await insertSourceRecords(pg, sourceId, gens.map(({ record: { id, ...demographics } }) => ({ recordId: id, demographics })));
    // Normalised under the source record id, as RecordLinkerService stores it.
    const recs = gens.map((g, i) => {
      const n = normaliseRecord({ ...g.record, id: ids[i] });
      return { normalised: n, keys: blockingKeys(n), person: randomUUID() };
    });
    await pg.query(`INSERT INTO person (id) SELECT unnest($1::uuid[])`, [recs.map((r) => r.person)]);
    const dec = await pg.query<{ id: string; source_record_id: string }>(
      `INSERT INTO link_decision (source_record_id, person_id, action, reason, model_version, explanation, actor)
       SELECT t.s, t.p, 'new', 'benchmark bulk load', 'bulk', '{}'::jsonb, 'auto' FROM unnest($1::bigint[], $2::uuid[]) AS t(s, p)
       RETURNING id::text, source_record_id::text`,
      [ids, recs.map((r) => r.person)],
    );
    const decisionOf = new Map(dec.rows.map((d) => [d.source_record_id, d.id]));
    await pg.query(
      `INSERT INTO linkage_record (source_record_id, person_id, decision_id, normalised)
       SELECT t.s, t.p, t.d, t.n::json FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::text[]) AS t(s, p, d, n)`,
      [ids, recs.map((r) => r.person), ids.map((id) => decisionOf.get(id)), recs.map((r) => JSON.stringify(r.normalised))],
    );
    const k: string[] = [];
    const s: string[] = [];
    recs.forEach((r, i) => r.keys.forEach((key) => (k.push(key), s.push(ids[i]))));
    await pg.query(`INSERT INTO blocking_key (key, source_record_id) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING`, [k, s]);
    await pg.query('COMMIT');
  } catch (e) {
    await pg.query('ROLLBACK');
    throw e;
  }
}
