import { blockingKeys, DEFAULT_CANDIDATE_LIMIT, DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY, isCandidate, isKeyCapped, keyEvidence } from './engine/blocking.rules';
import { foldCandidate, type PersonBest } from './engine/candidate.score';
import { decide, type CandidatePerson, type StewardConstraints } from './engine/link.decide';
import type { ModelParams } from './engine/model.params';
import { explain, scorePair } from './engine/model.score';
import { normaliseRecord } from './engine/record.normalise';
import type { NormalisedRecord, RawPersonRecord } from './engine/record.types';
import { neutralForUnseen, termValues, type TermFrequencies } from './engine/tf.table';
import { decisionRows, type DecisionRows } from './link-decision.rows';

interface Held {
  /** The record; as its JSON in a copy without a key index (see `compact`). */
  n: NormalisedRecord | string;
  personId: string;
  locked: boolean;
  /** Its keys; joined by KEY_SEP in a copy without a key index. */
  keys: string[] | string;
}

const KEY_SEP = '\n';

/** One scored candidate record: what foldCandidate needs of its PairScore. */
export interface CandidateScore {
  id: string;
  probability: number;
  weight: number;
  excludesPerson?: boolean;
}

/** A record normalised (as JSON: one string crosses threads and is what the writes store), its keys, and its candidates scored in record-id order. */
export interface ScoredRecord {
  json: string;
  keys: string[];
  scored: CandidateScore[];
}

export interface BulkLink extends DecisionRows {
  recordId: string;
  /** The normalised record as JSON, as linkage_record stores it. */
  normalisedJson: string;
  keys: string[];
  /** Keys the record held before (replaced). */
  oldKeys: string[];
  previousPersonId: string | null;
  reason: string;
  flags: string[];
  /** A move emptied the previous person: retire it into personId. */
  retirePrevious: boolean;
}

const rid = (id: string): string => `r:${id}`;
const pid = (id: string): string => `p:${id}`;

/**
 * The record linker's per-record steps (normalise, keys, capped candidates, score persons,
 * decide, decision rows) over an in-memory copy of the linked base. The backfill seeds it with
 * every linked record; the ingest batch (RecordLinkerService.linkBatch) seeds only the candidates
 * it picked and passes them to link(). Each link() updates the copy as the service's writes would,
 * so record N sees records 1..N-1 exactly as incremental linking in the same order does.
 * Nothing here touches the database: the caller writes the returned rows.
 */
export class BulkLinker {
  private readonly records = new Map<string, Held>();
  /** Key → the slots of the records holding it (see slotOf). */
  private readonly keyIndex = new Map<string, number[]>();
  /** A dense number per record id, for the key index and the per-candidate tallies below. */
  private readonly slots = new Map<string, number>();
  private readonly slotId: string[] = [];
  private readonly slotNum: number[] = [];
  // Per-slot tallies of candidatesOf (addKeyHit's KeyHits), valid where stamp === tally: no map
  // or object per reached record, which at a million records is thousands per linked record.
  private tally = 0;
  private stamp = new Int32Array(1024);
  private hitShared = new Int32Array(1024);
  private hitSmallest = new Int32Array(1024);
  private hitEvidence = new Float64Array(1024);
  private readonly personSize = new Map<string, number>();
  private readonly first = new Map<string, number>();
  private readonly last = new Map<string, number>();
  private firstTotal = 0;
  private lastTotal = 0;
  private mustLink: [string, string][] = [];
  private mustNotLink: [string, string][] = [];

  constructor(
    readonly model: ModelParams,
    private readonly newPersonId: () => string,
    private readonly keyCap = DEFAULT_KEY_CAP,
    private readonly selective = DEFAULT_SELECTIVE_KEY,
    /**
     * false: no key index (candidates come from link()'s caller or linkScored()); records keep their keys for the writes.
     * Such a copy also holds each record as its JSON and its keys as one string: a few strings per
     * record instead of an object graph keep the garbage collector's marking of a large base cheap.
     */
    private readonly indexKeys = true,
  ) {}

  private get compact(): boolean {
    return !this.indexKeys;
  }

  get size(): number {
    return this.records.size;
  }

  /** An already linked record of the base. `keys`: its entries in the copy's key index (default: its blocking keys; [] when the caller picks candidates). */
  seed(recordId: string, n: NormalisedRecord | string, personId: string, locked: boolean, keys?: string[]): void {
    const rec = typeof n === 'string' ? JSON.parse(n) as NormalisedRecord : n;
    const k = keys ?? blockingKeys(rec);
    this.put(recordId, this.compact
      ? { n: typeof n === 'string' ? n : JSON.stringify(n), personId, locked, keys: k.join(KEY_SEP) }
      : { n: rec, personId, locked, keys: k });
  }

  /**
   * The name_frequency table as the last recount left it (the service reads the same). `totals`:
   * the recount's totals per field, when `rows` are only the names the caller needs.
   */
  setNameCounts(rows: readonly { field: string; value: string; records: number }[], totals?: { first: number; last: number }): void {
    for (const r of rows) (r.field === 'first' ? this.first : this.last).set(r.value, r.records);
    // The service's total: the records the same recount counted, per field.
    this.firstTotal = totals?.first ?? rows.filter((r) => r.field === 'first').reduce((a, r) => a + r.records, 0);
    this.lastTotal = totals?.last ?? rows.filter((r) => r.field === 'last').reduce((a, r) => a + r.records, 0);
  }

  /** How many records a person holds, when only part of the base was seeded. */
  setPersonSize(personId: string, records: number): void {
    this.personSize.set(personId, records);
  }

  setConstraints(rows: readonly { kind: string; a: string; b: string }[]): void {
    this.mustLink = rows.filter((r) => r.kind === 'must_link').map((r) => [r.a, r.b]);
    this.mustNotLink = rows.filter((r) => r.kind === 'must_not_link').map((r) => [r.a, r.b]);
  }

  personOf(recordId: string): string | undefined {
    return this.records.get(recordId)?.personId;
  }

  /**
   * Links one record against the copy and updates the copy. `candidateIds`: the candidates when
   * the caller picked them (batchCandidates, over a partly seeded copy); otherwise from the copy's key index.
   */
  link(
    recordId: string, demographics: Omit<RawPersonRecord, 'id'>, candidateIds?: readonly string[],
    /** The record normalised and its keys, when the caller has them already. */
    pre?: { rec: NormalisedRecord; keys: string[] },
  ): BulkLink {
    const rec = pre?.rec ?? normaliseRecord({ ...demographics, id: recordId });
    const keys = pre?.keys ?? blockingKeys(rec);
    const held = this.records.get(recordId);
    const prev = this.previous(held);
    // The service replaces the record's keys, then counts every other record per key.
    if (held) this.remove(recordId, held);
    const tf = this.tfOf(rec);
    return this.decideAndPut(recordId, rec, JSON.stringify(rec), keys, held, prev, tf, this.score(rec, tf, candidateIds ?? this.candidatesOf(keys)));
  }

  /**
   * The first half of link() for a copy that only scores (another thread's; see ScoringThread):
   * normalise, keys, candidates and their scores, then the record is put in the copy (no person).
   * The linking copy then finishes with linkScored(), in the same order, so both copies hold the
   * same records and keys when each record is scored: the candidates are the ones link() would find.
   */
  scoreAhead(recordId: string, demographics: Omit<RawPersonRecord, 'id'>): ScoredRecord {
    const rec = normaliseRecord({ ...demographics, id: recordId });
    const keys = blockingKeys(rec);
    const held = this.records.get(recordId);
    if (held) this.remove(recordId, held);
    const scored = this.score(rec, this.tfOf(rec), this.candidatesOf(keys));
    this.put(recordId, { n: rec, personId: '', locked: false, keys });
    return { json: JSON.stringify(rec), keys, scored };
  }

  /** The second half of link(), with candidates scored by scoreAhead() on a copy with the same records. */
  linkScored(recordId: string, s: ScoredRecord): BulkLink {
    const held = this.records.get(recordId);
    const prev = this.previous(held);
    if (held) this.remove(recordId, held);
    const rec = JSON.parse(s.json) as NormalisedRecord;
    return this.decideAndPut(recordId, rec, s.json, s.keys, held, prev, this.tfOf(rec), s.scored);
  }

  /** The candidates link() would score for a record not yet in the copy, in record-id order. */
  candidatesFor(recordId: string, demographics: Omit<RawPersonRecord, 'id'>): string[] {
    if (this.records.has(recordId)) throw new Error(`record ${recordId} is in the copy: its own keys would count`);
    return this.candidatesOf(blockingKeys(normaliseRecord({ ...demographics, id: recordId }))).sort((a, b) => Number(a) - Number(b));
  }

  /** Candidates in record-id order, as the service scores them (ties within a person go to the lower id). */
  private score(rec: NormalisedRecord, tf: TermFrequencies, candidateIds: readonly string[]): CandidateScore[] {
    const out: CandidateScore[] = [];
    for (const id of [...candidateIds].sort((a, b) => Number(a) - Number(b))) {
      const other = this.records.get(id);
      if (!other) throw new Error(`candidate record ${id} was not seeded`);
      const s = scorePair(this.model, rec, this.recordOf(other), tf);
      out.push({ id, probability: s.probability, weight: s.weight, excludesPerson: s.excludesPerson });
    }
    return out;
  }

  private decideAndPut(
    recordId: string, rec: NormalisedRecord, json: string, keys: string[], held: Held | undefined, prev: ReturnType<BulkLinker['previous']>,
    tf: TermFrequencies, scored: readonly CandidateScore[],
  ): BulkLink {
    const model = this.model;
    const best = new Map<string, PersonBest<Held>>();
    for (const s of scored) {
      const other = this.records.get(s.id);
      if (!other) throw new Error(`candidate record ${s.id} was not seeded`);
      foldCandidate(best, pid(other.personId), rid(s.id), s, other);
    }
    const decision = decide({ recordId: rid(recordId), candidates: [...best.values()].map((b) => b.c), thresholds: model.thresholds, constraints: this.constraintsFor(recordId, best) });
    const chosen = decision.action === 'link' ? best.get(decision.personId) : [...best.values()].sort((a, b) => b.c.probability - a.c.probability)[0];
    const why = chosen ? explain(model, rec, this.recordOf(chosen.other), tf) : undefined;
    const rows = decisionRows(prev, decision, model, why, [...best.values()].map((b) => b.c), this.newPersonId);

    const retirePrevious = !!prev && rows.action === 'move' && !prev.shared;
    this.put(recordId, this.compact
      ? { n: json, personId: rows.personId, locked: held?.locked ?? false, keys: keys.join(KEY_SEP) }
      : { n: rec, personId: rows.personId, locked: held?.locked ?? false, keys });
    return {
      ...rows, recordId, normalisedJson: json, keys, oldKeys: held ? this.keysOf(held) : [], previousPersonId: prev?.person_id ?? null,
      reason: decision.reason, flags: decision.flags, retirePrevious,
    };
  }

  /** The record's link before this one, read before its entry is removed. */
  private previous(held: Held | undefined): { person_id: string; locked: boolean; shared: boolean } | undefined {
    return held ? { person_id: held.personId, locked: held.locked, shared: (this.personSize.get(held.personId) ?? 0) > 1 } : undefined;
  }

  private recordOf(h: Held): NormalisedRecord {
    return typeof h.n === 'string' ? JSON.parse(h.n) as NormalisedRecord : h.n;
  }

  private keysOf(h: Held): string[] {
    if (typeof h.keys !== 'string') return h.keys;
    return h.keys ? h.keys.split(KEY_SEP) : [];
  }

  private tfOf(rec: NormalisedRecord): TermFrequencies {
    return neutralForUnseen(this.tfFor(rec), rec, this.model);
  }

  /**
   * The service's candidate rule over the copy's key index (the record's own entries already
   * removed): addKeyHit and pickCandidates of blocking.rules, on per-slot arrays.
   */
  private candidatesOf(keys: readonly string[]): string[] {
    if (!this.indexKeys) throw new Error('this copy has no key index: pass the candidates, or use linkScored()');
    // Usable keys (not over the cap) shared with the record, two of them or one selective one.
    const t = ++this.tally;
    const reached: number[] = [];
    for (const k of new Set(keys)) {
      const ids = this.keyIndex.get(k);
      if (!ids || isKeyCapped(ids.length, this.keyCap)) continue;
      const n = ids.length;
      const ev = keyEvidence(n);
      for (const s of ids) {
        if (this.stamp[s] !== t) {
          this.stamp[s] = t;
          this.hitShared[s] = 1;
          this.hitSmallest[s] = n;
          this.hitEvidence[s] = ev;
          reached.push(s);
        } else {
          this.hitShared[s] += 1;
          if (n < this.hitSmallest[s]) this.hitSmallest[s] = n;
          this.hitEvidence[s] += ev;
        }
      }
    }
    const picked = reached.filter((s) => isCandidate(this.hitShared[s], this.hitSmallest[s], this.selective));
    // At most DEFAULT_CANDIDATE_LIMIT by shared-key evidence, ties to the lower record id (as the service).
    if (picked.length > DEFAULT_CANDIDATE_LIMIT) {
      picked.sort((a, b) => this.hitEvidence[b] - this.hitEvidence[a] || this.slotNum[a] - this.slotNum[b]);
      picked.length = DEFAULT_CANDIDATE_LIMIT;
    }
    return picked.map((s) => this.slotId[s]);
  }

  private slotOf(recordId: string): number {
    let s = this.slots.get(recordId);
    if (s !== undefined) return s;
    s = this.slotId.length;
    this.slots.set(recordId, s);
    this.slotId.push(recordId);
    this.slotNum.push(Number(recordId));
    if (s >= this.stamp.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.stamp = grow(this.stamp, (n) => new Int32Array(n));
      this.hitShared = grow(this.hitShared, (n) => new Int32Array(n));
      this.hitSmallest = grow(this.hitSmallest, (n) => new Int32Array(n));
      this.hitEvidence = grow(this.hitEvidence, (n) => new Float64Array(n));
    }
    return s;
  }

  private tfFor(rec: NormalisedRecord): TermFrequencies {
    // As the service: counts and total from the same recount.
    const names = termValues(rec);
    // Null-prototype counts: one name-keyed object per record must not mint a hidden class per name.
    const tf: TermFrequencies = {
      firstName: { total: this.firstTotal, counts: Object.create(null) as Record<string, number> },
      lastName: { total: this.lastTotal, counts: Object.create(null) as Record<string, number> },
    };
    const f = this.first.get(names.firstName);
    const l = this.last.get(names.lastName);
    if (f !== undefined) tf.firstName.counts[names.firstName] = f;
    if (l !== undefined) tf.lastName.counts[names.lastName] = l;
    return tf;
  }

  /** The steward constraints that touch the record or a candidate, as the service selects them. */
  private constraintsFor(recordId: string, best: Map<string, { c: CandidatePerson }>): StewardConstraints {
    if (this.mustLink.length === 0 && this.mustNotLink.length === 0) return { mustLink: [], mustNotLink: [] };
    const ids = new Set<string>([rid(recordId)]);
    for (const [personKey, b] of best) {
      ids.add(personKey);
      for (const r of b.c.recordIds) ids.add(r);
    }
    const touching = (pairs: [string, string][]): [string, string][] => pairs.filter(([a, b]) => ids.has(a) || ids.has(b));
    return { mustLink: touching(this.mustLink), mustNotLink: touching(this.mustNotLink) };
  }

  private put(recordId: string, h: Held): void {
    this.records.set(recordId, h);
    this.personSize.set(h.personId, (this.personSize.get(h.personId) ?? 0) + 1);
    if (!this.indexKeys) return;
    const slot = this.slotOf(recordId);
    for (const k of this.keysOf(h)) {
      const ids = this.keyIndex.get(k);
      if (ids) ids.push(slot);
      else this.keyIndex.set(k, [slot]);
    }
  }

  private remove(recordId: string, h: Held): void {
    this.records.delete(recordId);
    const left = (this.personSize.get(h.personId) ?? 1) - 1;
    if (left > 0) this.personSize.set(h.personId, left);
    else this.personSize.delete(h.personId);
    if (!this.indexKeys) return;
    const slot = this.slotOf(recordId);
    for (const k of this.keysOf(h)) {
      const ids = this.keyIndex.get(k);
      const at = ids ? ids.indexOf(slot) : -1;
      if (at >= 0) ids!.splice(at, 1);
    }
  }
}
