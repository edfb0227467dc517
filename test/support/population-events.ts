import { checkEvent } from '../../src/ingest/event.contract';
import { generatePopulation } from '../../src/linkage/engine/population.generate';
import type { RawPersonRecord } from '../../src/linkage/engine/record.types';

type Obj = Record<string, unknown>;

function prune(v: unknown): unknown {
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
  return v === '' || v === null ? undefined : v;
}

/**
 * A generated record as a contract-v1 subject: YYYYMMDD dates get dashes, a missing name is '-',
 * and a field the contract refuses (an impossible date ...) is dropped.
 */
export function contractSubject(rec: RawPersonRecord): Obj {
  const { id, ...rest } = rec;
  const s = (prune({ ...rest, recordId: id }) ?? {}) as Obj;
  if (typeof s.dateOfBirth === 'string' && /^\d{8}$/.test(s.dateOfBirth)) s.dateOfBirth = `${s.dateOfBirth.slice(0, 4)}-${s.dateOfBirth.slice(4, 6)}-${s.dateOfBirth.slice(6)}`;
  for (const f of ['firstName', 'lastName']) if (typeof s[f] !== 'string') s[f] = '-';
  for (let i = 0; i < 5; i++) {
    const res = checkEvent({ eventId: 'probe', type: 'service', occurredAt: '2025-01-01T00:00:00Z', subject: s, details: { serviceType: 'intake' } });
    if (res.ok) return s;
    for (const e of res.errors) {
      const top = e.path.split('.')[1];
      if (!top || top === 'recordId' || top === 'firstName' || top === 'lastName') throw new Error(`record cannot be made contract-safe at ${e.path}`);
      delete s[top];
    }
  }
  throw new Error('record cannot be made contract-safe');
}

export interface SourceEvents {
  source: string;
  kind: 'court' | 'jail' | 'provider' | 'other';
  events: Obj[];
}

const KIND: Record<string, SourceEvents['kind']> = { municipal_court: 'court', county_jail: 'jail', probation: 'other' };

/**
 * Contract events for a generated population, one list per partner source: a `service` event per
 * record, and for every `extraEvery`-th record a later `booking`/`need_opened` with the same subject.
 */
export function populationEvents(opts: { seed: number; persons: number; extraEvery?: number }): SourceEvents[] {
  const bySource = new Map<string, SourceEvents>();
  const base = Date.UTC(2024, 0, 1);
  let n = 0;
  for (const g of generatePopulation({ seed: opts.seed, persons: opts.persons })) {
    const source = g.source.replace(/_/g, '-');
    let s = bySource.get(source);
    if (!s) bySource.set(source, (s = { source, kind: KIND[g.source] ?? 'provider', events: [] }));
    const subject = contractSubject(g.record);
    // Seconds apart: a million records stay in the past (the contract refuses occurredAt in the future).
    const at = (k: number): string => new Date(base + (n * 10 + k) * 1000).toISOString();
    s.events.push({ eventId: `e-${n}`, type: 'service', occurredAt: at(0), subject, details: { serviceType: 'intake' } });
    if (opts.extraEvery && n % opts.extraEvery === 0) {
      s.events.push(n % 2
        ? { eventId: `e-${n}-b`, type: 'booking', occurredAt: at(1), subject, details: { bookingNumber: `B-${n}`, facility: 'Main' } }
        : { eventId: `e-${n}-n`, type: 'need_opened', occurredAt: at(1), subject, details: { needId: `N-${n}`, category: 'housing' } });
    }
    n += 1;
  }
  return [...bySource.values()].sort((a, b) => (a.source < b.source ? -1 : 1));
}
