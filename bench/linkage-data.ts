// Datasets for the linkage benchmark, read from the repo's copy in data/eval/ (with their
// licences), turned into v1 events the contract accepts, and the truth-side measures: blocking
// recall with the engine's own keys and a deterministic exact-match baseline.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkEvent } from '../src/ingest/event.contract';
import { blockedPairs, blockingKeys } from '../src/linkage/engine/blocking.rules';
import { parseFebrlCsv, parseSplinkFakeCsv, type LabelledRecord } from '../src/linkage/engine/dataset.parse';
import { pairwiseMetrics, type PairwiseMetrics } from '../src/linkage/engine/eval.metrics';
import { generatePopulation } from '../src/linkage/engine/population.generate';
import { seededRng } from '../src/linkage/engine/random.seed';
import { normaliseRecord } from '../src/linkage/engine/record.normalise';
import type { RawPersonRecord } from '../src/linkage/engine/record.types';

export const DATA = process.env.FF_DATA_DIR ?? path.resolve(__dirname, '../data/eval');

type Obj = Record<string, unknown>;

export interface BenchRecord {
  /** Source code as registered (lower-case letters, digits, -). */
  source: string;
  recordId: string;
  entity: string;
  /** The subject as posted (contract-safe). */
  subject: Obj;
}

export interface Dataset {
  name: string;
  records: BenchRecord[];
  /** Source code -> source kind. */
  sources: Map<string, string>;
  /** What had to change for the contract, counted per kind (e.g. 'placeholder name', 'dropped dateOfBirth'). */
  adjustments: Map<string, number>;
}

export const TARGETS: Record<string, { f1: number; precision?: number }> = {
  febrl4: { f1: 0.998 },
  febrl3: { f1: 0.99 },
  fake_1000: { f1: 0.9 },
  population: { f1: 0.97, precision: 0.995 },
};

export const key = (source: string, recordId: string): string => `${source}\t${recordId}`;

function shuffle<T>(xs: T[], seed: number): T[] {
  const rng = seededRng(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const read = (p: string): string => fs.readFileSync(path.join(DATA, p), 'utf8');

/** Removes empty strings, empty objects and empty arrays (the contract rejects empty values). */
function prune(v: unknown): unknown {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v;
  if (Array.isArray(v)) {
    const a = v.map(prune).filter((x) => x !== undefined);
    return a.length ? a : undefined;
  }
  if (v && typeof v === 'object') {
    const o: Obj = {};
    for (const [k, x] of Object.entries(v)) {
      const p = prune(x);
      if (p !== undefined) o[k] = p;
    }
    return Object.keys(o).length ? o : undefined;
  }
  return v;
}

function deletePath(o: Obj, parts: string[]): void {
  let cur: unknown = o;
  for (const p of parts.slice(0, -1)) {
    if (!cur || typeof cur !== 'object') return;
    cur = (cur as Obj)[p];
  }
  if (cur && typeof cur === 'object') {
    if (Array.isArray(cur)) cur.splice(Number(parts[parts.length - 1]), 1);
    else delete (cur as Obj)[parts[parts.length - 1]];
  }
}

/**
 * The record as a v1 subject. Dates YYYYMMDD become YYYY-MM-DD; a missing first or last name
 * becomes '-' (the contract requires both; the engine folds '-' to empty, i.e. missing); any
 * other field the contract rejects (impossible dates, ...) is dropped and counted.
 */
function toSubject(rec: RawPersonRecord, adjust: (what: string) => void): Obj {
  const { id, ...rest } = rec;
  const s = (prune({ ...rest, recordId: id }) ?? {}) as Obj;
  if (typeof s.dateOfBirth === 'string' && /^\d{8}$/.test(s.dateOfBirth)) {
    const d = s.dateOfBirth;
    s.dateOfBirth = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;
  }
  for (const f of ['firstName', 'lastName']) {
    if (typeof s[f] !== 'string') {
      s[f] = '-';
      adjust(`missing ${f} sent as '-'`);
    }
  }
  for (let i = 0; i < 5; i++) {
    const res = checkEvent({ eventId: 'probe', type: 'service', occurredAt: '2025-01-01T00:00:00Z', subject: s, details: { serviceType: 'intake' } });
    if (res.ok) return s;
    for (const e of res.errors) {
      const parts = e.path.split('.');
      if (parts[0] !== 'subject' || parts.length < 2) throw new Error(`event rejected at ${e.path}: ${e.message}`);
      deletePath(s, parts.slice(1));
      adjust(`dropped ${parts.slice(1).filter((p) => !/^\d+$/.test(p)).join('.')}`);
    }
    const again = prune(s) as Obj;
    Object.keys(s).forEach((k) => delete s[k]);
    Object.assign(s, again);
  }
  throw new Error(`record ${id} could not be made contract-safe`);
}

function build(name: string, rows: { source: string; kind: string; labelled: LabelledRecord }[]): Dataset {
  const adjustments = new Map<string, number>();
  const adjust = (what: string): void => void adjustments.set(what, (adjustments.get(what) ?? 0) + 1);
  const sources = new Map<string, string>();
  const records = rows.map(({ source, kind, labelled }) => {
    sources.set(source, kind);
    return { source, recordId: labelled.record.id, entity: labelled.entity, subject: toSubject(labelled.record, adjust) };
  });
  return { name, records, sources, adjustments };
}

const KIND: Record<string, string> = { municipal_court: 'court', county_jail: 'jail', probation: 'other' };

export const DATASETS: Record<string, () => Dataset> = {
  febrl4: () =>
    build('febrl4', [
      ...parseFebrlCsv(read('febrl/dataset4a.csv')).map((l) => ({ source: 'febrl4a', kind: 'provider', labelled: l })),
      ...parseFebrlCsv(read('febrl/dataset4b.csv')).map((l) => ({ source: 'febrl4b', kind: 'provider', labelled: l })),
    ]),
  febrl3: () => build('febrl3', shuffle(parseFebrlCsv(read('febrl/dataset3.csv')), 7).map((l) => ({ source: 'febrl3', kind: 'provider', labelled: l }))),
  fake_1000: () =>
    build('fake_1000', shuffle(parseSplinkFakeCsv(read('splink-fake/fake_1000_from_splink_demos.csv')), 7).map((l) => ({ source: 'fake1000', kind: 'provider', labelled: l }))),
  population: () =>
    build(
      'population',
      generatePopulation({ seed: 2024, persons: 3000 }).map((g) => ({
        source: g.source.replace(/_/g, '-'),
        kind: KIND[g.source] ?? 'provider',
        labelled: { record: g.record, entity: g.personId },
      })),
    ),
};

export function truthOf(ds: Dataset): Map<string, string> {
  return new Map(ds.records.map((r) => [key(r.source, r.recordId), r.entity]));
}

function normalisedOf(ds: Dataset): ReturnType<typeof normaliseRecord>[] {
  return ds.records.map((r) => normaliseRecord({ ...(r.subject as unknown as Omit<RawPersonRecord, 'id'>), id: key(r.source, r.recordId) }));
}

/** Share of true pairs that share at least one usable (not capped) blocking key of the engine. */
export function blockingRecall(ds: Dataset): number {
  const recs = normalisedOf(ds);
  const n = recs.length;
  const pairs = new Set(blockedPairs(recs.map((r) => blockingKeys(r))).map(([i, j]) => i * n + j));
  const byEntity = new Map<string, number[]>();
  ds.records.forEach((r, i) => {
    const list = byEntity.get(r.entity);
    if (list) list.push(i);
    else byEntity.set(r.entity, [i]);
  });
  let hit = 0;
  let total = 0;
  for (const l of byEntity.values()) {
    for (let x = 0; x < l.length; x++) {
      for (let y = x + 1; y < l.length; y++) {
        total++;
        if (pairs.has(Math.min(l[x], l[y]) * n + Math.max(l[x], l[y]))) hit++;
      }
    }
  }
  return total ? hit / total : 1;
}

/** Deterministic baseline: same folded first name, surname and full date of birth. */
export function exactBaseline(ds: Dataset): PairwiseMetrics {
  const out = new Map<string, string>();
  for (const r of normalisedOf(ds)) {
    const nm = r.names[0];
    const dob = r.dobs[0]?.digits;
    out.set(r.id, nm.first && nm.last && dob ? `${nm.first}|${nm.last}|${dob}` : `solo:${r.id}`);
  }
  return pairwiseMetrics(out, truthOf(ds));
}
