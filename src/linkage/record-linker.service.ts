import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { preparedQuery } from '../database/multi-statement.query';
import { BulkLinker } from './backfill.linker';
import { writeBulkLinks } from './bulk-link.writer';
import { batchCandidates, type BatchKeys } from './engine/batch.candidates';
import { blockingKeys, DEFAULT_CANDIDATE_LIMIT, DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY } from './engine/blocking.rules';
import { foldCandidate, type PersonBest } from './engine/candidate.score';
import { decide, type CandidatePerson, type Decision } from './engine/link.decide';
import { explain, scorePair, type Explanation } from './engine/model.score';
import type { ModelParams } from './engine/model.params';
import { normaliseRecord } from './engine/record.normalise';
import type { NormalisedRecord, RawPersonRecord } from './engine/record.types';
import { neutralForUnseen, termValues, type TermFrequencies } from './engine/tf.table';
import { decisionRows } from './link-decision.rows';
import { ModelStoreService } from './model-store.service';

export interface LinkResult {
  personId: string;
  previousPersonId: string | null;
  action: 'link' | 'new' | 'review' | 'keep' | 'move' | 'split' | 'locked';
  decisionId: string;
}

const rid = (id: string): string => `r:${id}`;
// Blocking-key locks, their own hash namespace (1), in sorted order so two linkers cannot deadlock.
const LOCK_KEYS_SQL = `SELECT pg_advisory_xact_lock(hashtextextended(k, 1)) FROM (SELECT unnest($1::text[]) AS k ORDER BY 1) s`;
// The totals of the last name recount, per field (read with the counts: see lockAndRead).
const NAME_TOTALS_SQL = `(SELECT json_build_array(coalesce(sum(records) FILTER (WHERE field = 'first'), 0), coalesce(sum(records) FILTER (WHERE field = 'last'), 0))
                    FROM name_frequency)`;
const pid = (id: string): string => `p:${id}`;

/**
 * Links one source record to a person inside the caller's transaction (the ingest apply),
 * so an event counts as processed only once its record is linked. Candidates come from the
 * record's blocking keys, which are advisory-locked in sorted order first: two records that
 * could match share a key and serialise, unrelated ones run in parallel, and the lock order
 * rules out deadlocks. Every decision is appended to link_decision; nothing is overwritten.
 */
@Injectable()
export class RecordLinkerService {
  private totalCache?: { at: number; first: number; last: number };
  /** Makes the id of each new person (tests replace it to compare runs that break ties by person id). */
  newPersonId: () => string = randomUUID;

  constructor(private readonly models: ModelStoreService) {}

  /**
   * Two round trips: (1) the key locks, then in one statement the current link (FOR UPDATE), the
   * key replacement, the candidates, the name counts and the steward constraints; (2) every write
   * of the decision in one statement of data-modifying CTEs.
   */
  async linkRecord(em: EntityManager, sourceRecordId: string, demographics: Omit<RawPersonRecord, 'id'>): Promise<LinkResult> {
    const model = await this.models.active(em);
    const rec = normaliseRecord({ ...demographics, id: sourceRecordId });
    const keys = blockingKeys(rec);
    const found = await this.lockAndRead(em, sourceRecordId, rec, keys);
    const prev = found.current ?? undefined;
    const tf = neutralForUnseen(found.tf, rec, model);

    const best = new Map<string, PersonBest<NormalisedRecord>>();
    // In record-id order: a tie between records of one person goes to the lower id, whatever order the read returned.
    const candidates = [...found.candidates].sort((a, b) => Number(a[0]) - Number(b[0]));
    for (const [recordId, personId, normalised] of candidates) foldCandidate(best, pid(personId), rid(recordId), scorePair(model, rec, normalised, tf), normalised);
    const decision = decide({ recordId: rid(sourceRecordId), candidates: [...best.values()].map((b) => b.c), thresholds: model.thresholds, constraints: found.constraints });

    // Only the chosen (or best) candidate is explained.
    const chosen = decision.action === 'link' ? best.get(decision.personId) : [...best.values()].sort((a, b) => b.c.probability - a.c.probability)[0];
    const why = chosen ? explain(model, rec, chosen.other, tf) : undefined;
    return this.apply(em, sourceRecordId, rec, prev, decision, model, why, [...best.values()].map((b) => b.c));
  }

  /**
   * Links several records in this order, with exactly the decisions linkRecord would make one record
   * at a time (integration test: linkage-batch.spec), in four round trips instead of two per record:
   * the key locks; one read of the key index for every key of the batch (records outside the batch,
   * up to the cap), the records' current links and old keys, and the name counts; one read of the
   * picked candidates, the steward constraints touching them and the decision ids; one write of
   * every decision (writeBulkLinks, as the backfill). The candidates of every record are picked
   * before the first decision (batchCandidates: they depend on key membership only), the decisions
   * are made in order by a BulkLinker seeded with the candidates and the batch's current links.
   */
  async linkBatch(em: EntityManager, items: readonly { sourceRecordId: string; demographics: Omit<RawPersonRecord, 'id'> }[]): Promise<Map<string, LinkResult>> {
    const out = new Map<string, LinkResult>();
    const ids = items.map((i) => String(i.sourceRecordId));
    if (new Set(ids).size !== ids.length) throw new Error('linkBatch: a record appears twice in one batch');
    // One record: linkRecord's two round trips are fewer than four.
    if (items.length <= 1) {
      for (const it of items) out.set(ids[0], await this.linkRecord(em, ids[0], it.demographics));
      return out;
    }
    const model = await this.models.active(em);
    const recs = items.map((it, i) => normaliseRecord({ ...it.demographics, id: ids[i] }));
    const newKeys = recs.map((r) => [...new Set(blockingKeys(r))]);
    const allKeys = [...new Set(newKeys.flat())];
    if (allKeys.length) await preparedQuery(em, LOCK_KEYS_SQL, [allKeys]);

    const names = recs.map((r) => termValues(r));
    // After the locks: this snapshot sees every record that shares a key with the batch and committed before us.
    const [read] = await preparedQuery<{
      cur: [string, string, boolean, NormalisedRecord, number][] | null;
      old: [string, string][] | null;
      others: [string, string[]][] | null;
      tf: [string, string, number][] | null;
      total?: [number | string, number | string];
    }>(
      em,
      `WITH cur AS (
         SELECT lr.source_record_id, lr.person_id, lr.locked, lr.normalised,
                (SELECT count(*) FROM linkage_record o WHERE o.person_id = lr.person_id) AS size
           FROM linkage_record lr WHERE lr.source_record_id = ANY($1::bigint[]) FOR UPDATE OF lr
       )
       SELECT (SELECT json_agg(json_build_array(source_record_id::text, person_id, locked, normalised, size)) FROM cur) AS cur,
              (SELECT json_agg(json_build_array(source_record_id::text, key)) FROM blocking_key WHERE source_record_id = ANY($1::bigint[])) AS old,
              (SELECT json_agg(json_build_array(k.k, m.ids)) FROM unnest($2::text[]) AS k(k)
                 CROSS JOIN LATERAL (SELECT array_agg(b.source_record_id::text) AS ids FROM (
                   SELECT bk.source_record_id FROM blocking_key bk
                    WHERE bk.key = k.k AND bk.source_record_id <> ALL($1::bigint[]) LIMIT $5::integer + 1) b) m
                WHERE m.ids IS NOT NULL) AS others,
              (SELECT json_agg(json_build_array(field, value, records)) FROM name_frequency
                WHERE (field = 'first' AND value = ANY($3::text[])) OR (field = 'last' AND value = ANY($4::text[]))) AS tf
              ${this.totalsColumn()}`,
      [ids, allKeys, [...new Set(names.map((n) => n.firstName))], [...new Set(names.map((n) => n.lastName))], DEFAULT_KEY_CAP],
    );
    const totals = this.keepTotals(read.total);

    const oldKeys = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const [id, key] of read.old ?? []) oldKeys.get(id)!.push(key);
    const batch: BatchKeys[] = ids.map((id, i) => ({ id, oldKeys: oldKeys.get(id)!, newKeys: newKeys[i] }));
    const picked = batchCandidates(batch, new Map(read.others ?? []), DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY, DEFAULT_CANDIDATE_LIMIT);
    const inBatch = new Set(ids);
    const outside = [...new Set(picked.flat())].filter((id) => !inBatch.has(id));
    const cur = read.cur ?? [];
    // Constraints touching any record or person a decision can see (each decision then keeps those touching its own).
    const touch = [...ids.map(rid), ...outside.map(rid), ...cur.map((c) => pid(c[1]))];
    const [more] = await preparedQuery<{ cand: [string, string, boolean, NormalisedRecord][] | null; cons: [string, string, string][] | null; ids: string[] }>(
      em,
      `WITH cand AS (SELECT source_record_id, person_id, locked, normalised FROM linkage_record WHERE source_record_id = ANY($1::bigint[])),
       ids AS (SELECT unnest($2::text[]) AS id UNION SELECT 'p:' || person_id FROM cand)
       SELECT (SELECT json_agg(json_build_array(source_record_id::text, person_id, locked, normalised)) FROM cand) AS cand,
              (SELECT json_agg(json_build_array(kind, a, b)) FROM steward_constraint
                WHERE revoked_at IS NULL AND (a IN (SELECT id FROM ids) OR b IN (SELECT id FROM ids))) AS cons,
              ARRAY(SELECT nextval(pg_get_serial_sequence('link_decision', 'id'))::text FROM generate_series(1, $3::integer)) AS ids`,
      [outside, touch, items.length],
    );

    const linker = new BulkLinker(model, this.newPersonId);
    // Candidates are picked already, so the copy needs no key index.
    for (const [id, person, locked, n] of more.cand ?? []) linker.seed(id, n, person, locked, []);
    for (const [id, person, locked, n] of cur) linker.seed(id, n, person, locked, []);
    for (const [, person, , , size] of cur) linker.setPersonSize(person, Number(size));
    linker.setNameCounts((read.tf ?? []).map(([field, value, records]) => ({ field, value, records })), totals);
    linker.setConstraints((more.cons ?? []).map(([kind, a, b]) => ({ kind, a, b })));
    // As linkRecord's join with linkage_record: a key row whose record has no link is no candidate.
    const linked = new Set([...(more.cand ?? []).map((c) => c[0]), ...cur.map((c) => c[0])]);
    const position = new Map(ids.map((id, i) => [id, i]));
    const links = items.map((it, i) => {
      const candidates = picked[i].filter((id) => linked.has(id) || (position.get(id) ?? Infinity) < i);
      return { ...linker.link(ids[i], it.demographics, candidates, { rec: recs[i], keys: newKeys[i] }), oldKeys: oldKeys.get(ids[i])! };
    });
    await writeBulkLinks(em, links, more.ids, model.version);
    links.forEach((l, i) => out.set(l.recordId, { personId: l.personId, previousPersonId: l.previousPersonId, action: l.action, decisionId: more.ids[i] }));
    return out;
  }

  /**
   * The key locks are taken in sorted order (no deadlocks) by one statement; the read is the next
   * statement, so its snapshot is taken after the locks and sees every record that shared a key
   * with this one and committed before us. Both are prepared: planning the read cost more than a
   * round trip.
   */
  private async lockAndRead(em: EntityManager, recordId: string, rec: NormalisedRecord, keys: string[]): Promise<LinkRead> {
    const names = termValues(rec);
    if (keys.length) await preparedQuery(em, LOCK_KEYS_SQL, [keys]);
    // Keys carried by more than the cap are too common to be evidence; each key's records are read
    // from the key index only up to cap+1, so a very common key costs no more than a rare one. A
    // record is a candidate when it shares two usable keys or one selective key (isCandidate), and
    // at most DEFAULT_CANDIDATE_LIMIT of them are scored, by shared-key evidence (keyEvidence:
    // 1,000,000 / records per key, summed; ties to the lower record id), so the candidates stay
    // few as the base grows. pickCandidates does the same for the in-memory and bulk linkers. The record's own keys are replaced in the same
    // statement (kept keys untouched, so the insert cannot meet the delete).
    const rows = await preparedQuery<unknown>(
      em,
      `WITH cur AS (
         SELECT lr.person_id, lr.locked,
                EXISTS (SELECT 1 FROM linkage_record o WHERE o.person_id = lr.person_id AND o.source_record_id <> $1) AS shared
           FROM linkage_record lr WHERE lr.source_record_id = $1 FOR UPDATE OF lr
       ),
       del AS (DELETE FROM blocking_key WHERE source_record_id = $1 AND NOT (key = ANY($2::text[]))),
       ins AS (INSERT INTO blocking_key (key, source_record_id) SELECT unnest($2::text[]), $1 ON CONFLICT DO NOTHING),
       hit AS (
         SELECT k.k, b.source_record_id FROM unnest($2::text[]) AS k(k)
          CROSS JOIN LATERAL (SELECT bk.source_record_id FROM blocking_key bk WHERE bk.key = k.k AND bk.source_record_id <> $1 LIMIT $5::integer + 1) b
       ),
       sized AS (SELECT source_record_id, count(*) OVER (PARTITION BY k) AS n FROM hit),
       picked AS (
         SELECT source_record_id FROM sized WHERE n <= $5::integer
          GROUP BY source_record_id HAVING count(*) >= 2 OR min(n) <= $6::integer
          ORDER BY sum(1000000 / n) DESC, source_record_id LIMIT $7::integer
       ),
       cand AS (SELECT lr.source_record_id, lr.person_id, lr.normalised FROM picked JOIN linkage_record lr USING (source_record_id)),
       ids AS (SELECT 'r:' || $1::bigint AS id UNION SELECT 'r:' || source_record_id FROM cand UNION SELECT 'p:' || person_id FROM cand)
       SELECT (SELECT json_build_array(person_id, locked, shared) FROM cur) AS cur,
              (SELECT json_agg(json_build_array(source_record_id::text, person_id, normalised)) FROM cand) AS cand,
              (SELECT json_agg(json_build_array(field, value, records)) FROM name_frequency
                WHERE (field = 'first' AND value = $3::text) OR (field = 'last' AND value = $4::text)) AS tf,
              (SELECT json_agg(json_build_array(kind, a, b)) FROM steward_constraint
                WHERE revoked_at IS NULL AND (a IN (SELECT id FROM ids) OR b IN (SELECT id FROM ids))) AS cons
              ${this.totalsColumn()}`,
      [recordId, keys, names.firstName, names.lastName, DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY, DEFAULT_CANDIDATE_LIMIT],
    );
    const row = rows[0] as {
      cur: [string, boolean, boolean] | null;
      cand: [string, string, NormalisedRecord][] | null;
      tf: [string, string, number][] | null;
      cons: [string, string, string][] | null;
      total?: [number | string, number | string];
    };
    const { first, last } = this.keepTotals(row.total);
    const tf: TermFrequencies = { firstName: { total: first, counts: {} }, lastName: { total: last, counts: {} } };
    for (const [field, value, records] of row.tf ?? []) (field === 'first' ? tf.firstName : tf.lastName).counts[value] = records;
    const cons = row.cons ?? [];
    const pairs = (kind: string): [string, string][] => cons.filter((c) => c[0] === kind).map((c) => [c[1], c[2]]);
    return {
      current: row.cur ? { person_id: row.cur[0], locked: row.cur[1], shared: row.cur[2] } : null,
      candidates: row.cand ?? [],
      tf,
      constraints: { mustLink: pairs('must_link'), mustNotLink: pairs('must_not_link') },
    };
  }

  /**
   * A name's frequency is its count over the records counted by the same recount (the sum of
   * name_frequency per field), never over a live record count: counts and total from different
   * moments make every name look rarer (counts behind a growing base) or commoner (counts loaded
   * before the records) than it is. The totals are re-read every 10 s, as an extra column `total`
   * of the statement that reads the counts.
   */
  private totalsColumn(): string {
    return !this.totalCache || Date.now() - this.totalCache.at > 10_000 ? `, ${NAME_TOTALS_SQL} AS total` : '';
  }

  private keepTotals(total: [number | string, number | string] | undefined): { first: number; last: number } {
    if (total !== undefined) this.totalCache = { at: Date.now(), first: Number(total[0]), last: Number(total[1]) };
    return this.totalCache!;
  }

  private apply(
    em: EntityManager, recordId: string, rec: NormalisedRecord, prev: CurrentLink | undefined,
    decision: Decision, model: ModelParams, why: Explanation | undefined, scored: CandidatePerson[],
  ): Promise<LinkResult> {
    // A new person's id is made here so every write can name it in one statement.
    const { personId, action, created, tasks, probability, explanation } = decisionRows(prev, decision, model, why, scored, this.newPersonId);

    const params: unknown[] = [recordId, personId, prev?.person_id ?? null, action, decision.reason, probability, why?.weight ?? null, model.version, JSON.stringify(explanation), decision.flags];
    const p = (v: unknown): string => `$${params.push(v)}`;
    const steps: string[] = [];
    if (created) steps.push(`p AS (INSERT INTO person (id) VALUES ($2::uuid))`);
    steps.push(`d AS (INSERT INTO link_decision (source_record_id, person_id, previous_person_id, action, reason, probability, weight, model_version, explanation, flags, actor)
       VALUES ($1::bigint, $2::uuid, $3::uuid, $4, $5, $6::double precision, $7::double precision, $8, $9::jsonb, $10::text[], 'auto') RETURNING id)`);
    steps.push(`l AS (INSERT INTO linkage_record (source_record_id, person_id, decision_id, normalised) SELECT $1::bigint, $2::uuid, d.id, ${p(JSON.stringify(rec))}::json FROM d
       ON CONFLICT (source_record_id) DO UPDATE SET person_id = excluded.person_id, decision_id = excluded.decision_id,
         normalised = excluded.normalised, updated_at = now())`);
    if (prev && prev.person_id !== personId && action === 'move') {
      // An emptied person is retired into the one that absorbed its record, so its id still resolves.
      // (This statement's snapshot still shows the record on the old person, hence "other records".)
      steps.push(`r AS (UPDATE person SET retired_into = $2::uuid, retired_at = now()
          WHERE id = $3::uuid AND NOT EXISTS (SELECT 1 FROM linkage_record WHERE person_id = $3::uuid AND source_record_id <> $1::bigint))`);
    }
    tasks.forEach((t, i) =>
      steps.push(`t${i} AS (INSERT INTO review_task (kind, source_record_id, person_ids, probability, decision_id)
         SELECT ${p(t.kind)}, $1::bigint, ${p([...new Set(t.personIds)])}::uuid[], $6::double precision, d.id FROM d)`),
    );
    return preparedQuery<{ id: string }>(em, `WITH ${steps.join(',\n')} SELECT id FROM d`, params).then((ins) => ({
      personId, previousPersonId: prev?.person_id ?? null, action, decisionId: String(ins[0].id),
    }));
  }
}

interface CurrentLink {
  person_id: string;
  locked: boolean;
  /** Other records are linked to the same person. */
  shared: boolean;
}

interface LinkRead {
  current: CurrentLink | null;
  /** [source record id, person id, normalised record] */
  candidates: [string, string, NormalisedRecord][];
  tf: TermFrequencies;
  constraints: { mustLink: [string, string][]; mustNotLink: [string, string][] };
}
