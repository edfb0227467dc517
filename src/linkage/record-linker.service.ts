import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { blockingKeys, DEFAULT_KEY_CAP } from './engine/blocking.rules';
import { decide, type CandidatePerson, type Decision } from './engine/link.decide';
import { explain, scorePair, type Explanation } from './engine/model.score';
import type { ModelParams } from './engine/model.params';
import { normaliseRecord } from './engine/record.normalise';
import type { NormalisedRecord, RawPersonRecord } from './engine/record.types';
import { termValues, type TermFrequencies } from './engine/tf.table';
import { ModelStoreService } from './model-store.service';

export interface LinkResult {
  personId: string;
  previousPersonId: string | null;
  action: 'link' | 'new' | 'review' | 'keep' | 'move' | 'split' | 'locked';
  decisionId: string;
}

interface CandidateRow {
  source_record_id: string;
  person_id: string;
  normalised: NormalisedRecord;
}

const rid = (id: string): string => `r:${id}`;
const pid = (id: string): string => `p:${id}`;
const unp = (id: string): string => id.slice(2);

/**
 * Links one source record to a person inside the caller's transaction (the ingest apply),
 * so an event counts as processed only once its record is linked. Candidates come from the
 * record's blocking keys, which are advisory-locked in sorted order first: two records that
 * could match share a key and serialise, unrelated ones run in parallel, and the lock order
 * rules out deadlocks. Every decision is appended to link_decision; nothing is overwritten.
 */
@Injectable()
export class RecordLinkerService {
  private totalCache?: { at: number; total: number };

  constructor(private readonly models: ModelStoreService) {}

  async linkRecord(em: EntityManager, sourceRecordId: string, demographics: Omit<RawPersonRecord, 'id'>): Promise<LinkResult> {
    const model = await this.models.active(em);
    const rec = normaliseRecord({ ...demographics, id: sourceRecordId });
    const keys = blockingKeys(rec);
    await em.query(`SELECT pg_advisory_xact_lock(hashtextextended(k, 1)) FROM (SELECT unnest($1::text[]) AS k ORDER BY 1) s`, [keys]);

    const current: { person_id: string; locked: boolean }[] = await em.query(
      `SELECT person_id, locked FROM linkage_record WHERE source_record_id = $1 FOR UPDATE`,
      [sourceRecordId],
    );
    const prev = current[0];
    await this.remember(em, sourceRecordId, keys);

    const candidates = await this.candidates(em, sourceRecordId, keys);
    const tf = await this.termFrequencies(em, rec);
    const best = new Map<string, { c: CandidatePerson; other: NormalisedRecord }>();
    for (const row of candidates) {
      const s = scorePair(model, rec, row.normalised, tf);
      const key = pid(row.person_id);
      const cur = best.get(key);
      if (cur) {
        (cur.c.recordIds as string[]).push(rid(row.source_record_id));
        if (s.probability > cur.c.probability) Object.assign(cur, { c: { ...cur.c, probability: s.probability, weight: s.weight, bestRecordId: rid(row.source_record_id) }, other: row.normalised });
      } else {
        best.set(key, { c: { personId: key, recordIds: [rid(row.source_record_id)], probability: s.probability, weight: s.weight, bestRecordId: rid(row.source_record_id) }, other: row.normalised });
      }
    }
    const constraints = await this.constraints(em, [rid(sourceRecordId), ...[...best.values()].flatMap((b) => [b.c.personId, ...b.c.recordIds])]);
    const decision = decide({ recordId: rid(sourceRecordId), candidates: [...best.values()].map((b) => b.c), thresholds: model.thresholds, constraints });

    const chosen = decision.action === 'link' ? best.get(decision.personId) : [...best.values()].sort((a, b) => b.c.probability - a.c.probability)[0];
    const why = chosen ? explain(model, rec, chosen.other, tf) : undefined;
    return this.apply(em, sourceRecordId, rec, prev, decision, model, why, [...best.values()].map((b) => b.c));
  }

  private async apply(
    em: EntityManager, recordId: string, rec: NormalisedRecord, prev: { person_id: string; locked: boolean } | undefined,
    decision: Decision, model: ModelParams, why: Explanation | undefined, scored: CandidatePerson[],
  ): Promise<LinkResult> {
    const target = decision.action === 'link' ? unp(decision.personId) : null;
    let personId: string;
    let action: LinkResult['action'];
    const tasks: { kind: string; personIds: string[] }[] = [];

    if (!prev) {
      personId = target ?? (await this.newPerson(em));
      action = decision.action;
    } else if (prev.locked && target !== prev.person_id) {
      personId = prev.person_id;
      action = 'locked';
      tasks.push({ kind: 'locked_link_conflict', personIds: [prev.person_id, ...(target ? [target] : [])] });
    } else if (target === prev.person_id) {
      personId = prev.person_id;
      action = 'keep';
    } else if (target) {
      personId = target;
      action = 'move';
    } else {
      // No longer matches anyone it is linked with: alone already, it keeps its id; otherwise it splits off.
      const others: { n: string }[] = await em.query(`SELECT count(*) AS n FROM linkage_record WHERE person_id = $1 AND source_record_id <> $2`, [prev.person_id, recordId]);
      if (Number(others[0].n) === 0) {
        personId = prev.person_id;
        action = decision.action === 'review' ? 'review' : 'keep';
      } else {
        personId = await this.newPerson(em);
        action = 'split';
      }
    }

    if (decision.action === 'review') tasks.push({ kind: 'possible_match', personIds: [personId, ...decision.personIds.map(unp)] });
    if (decision.action === 'link' && decision.duplicatePersonIds.length)
      tasks.push({ kind: 'possible_duplicate_persons', personIds: [unp(decision.personId), ...decision.duplicatePersonIds.map(unp)] });
    if (decision.flags.includes('constraint_conflict')) tasks.push({ kind: 'constraint_conflict', personIds: [personId] });

    const probability = decision.action === 'new' ? (why?.probability ?? null) : decision.probability;
    const explanation = {
      decision: decision.action,
      reason: decision.reason,
      thresholds: model.thresholds,
      ...(why ? { bestMatch: { fields: why.fields, priorBits: why.priorBits, weight: why.weight, probability: why.probability, alias: why.alias ?? null, lines: why.lines } } : {}),
      candidates: scored.sort((a, b) => b.probability - a.probability).slice(0, 5).map((c) => ({ personId: unp(c.personId), probability: c.probability, records: c.recordIds.length })),
    };
    const ins: { id: string }[] = await em.query(
      `INSERT INTO link_decision (source_record_id, person_id, previous_person_id, action, reason, probability, weight, model_version, explanation, flags, actor)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'auto') RETURNING id`,
      [recordId, personId, prev?.person_id ?? null, action, decision.reason, probability, why?.weight ?? null, model.version, JSON.stringify(explanation), decision.flags],
    );
    const decisionId = ins[0].id;
    await em.query(
      `INSERT INTO linkage_record (source_record_id, person_id, decision_id, normalised) VALUES ($1, $2, $3, $4)
       ON CONFLICT (source_record_id) DO UPDATE SET person_id = excluded.person_id, decision_id = excluded.decision_id,
         normalised = excluded.normalised, updated_at = now()`,
      [recordId, personId, decisionId, JSON.stringify(rec)],
    );
    if (prev && prev.person_id !== personId && action === 'move') {
      // An emptied person is retired into the one that absorbed its record, so its id still resolves.
      await em.query(
        `UPDATE person SET retired_into = $2, retired_at = now()
          WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM linkage_record WHERE person_id = $1)`,
        [prev.person_id, personId],
      );
    }
    for (const t of tasks) {
      await em.query(
        `INSERT INTO review_task (kind, source_record_id, person_ids, probability, decision_id) VALUES ($1, $2, $3::uuid[], $4, $5)`,
        [t.kind, recordId, [...new Set(t.personIds)], probability, decisionId],
      );
    }
    return { personId, previousPersonId: prev?.person_id ?? null, action, decisionId };
  }

  private async newPerson(em: EntityManager): Promise<string> {
    const rows: { id: string }[] = await em.query(`INSERT INTO person DEFAULT VALUES RETURNING id`);
    return rows[0].id;
  }

  private async candidates(em: EntityManager, recordId: string, keys: string[]): Promise<CandidateRow[]> {
    if (keys.length === 0) return [];
    // Keys carried by more than the cap are too common to be evidence; counting stops at cap+1
    // on the key index, so a very common key costs no more than a rare one.
    return em.query(
      `WITH usable AS (
         SELECT k FROM unnest($1::text[]) AS k
          WHERE (SELECT count(*) FROM (SELECT 1 FROM blocking_key b WHERE b.key = k AND b.source_record_id <> $2 LIMIT $3 + 1) x) <= $3
       )
       SELECT lr.source_record_id, lr.person_id, lr.normalised FROM linkage_record lr
        WHERE lr.source_record_id IN (SELECT source_record_id FROM blocking_key WHERE key IN (SELECT k FROM usable))
          AND lr.source_record_id <> $2`,
      [keys, recordId, DEFAULT_KEY_CAP],
    );
  }

  private async remember(em: EntityManager, recordId: string, keys: string[]): Promise<void> {
    await em.query(`DELETE FROM blocking_key WHERE source_record_id = $1`, [recordId]);
    if (keys.length) await em.query(`INSERT INTO blocking_key (key, source_record_id) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING`, [keys, recordId]);
  }

  /** Counts for this record's names only, with the population total (cached: it moves slowly). */
  private async termFrequencies(em: EntityManager, rec: NormalisedRecord): Promise<TermFrequencies> {
    const v = termValues(rec);
    const rows: { field: string; value: string; records: number }[] = await em.query(
      `SELECT field, value, records FROM name_frequency WHERE (field = 'first' AND value = $1) OR (field = 'last' AND value = $2)`,
      [v.firstName, v.lastName],
    );
    if (!this.totalCache || Date.now() - this.totalCache.at > 10_000) {
      const t: { n: string }[] = await em.query(`SELECT count(*) AS n FROM linkage_record`);
      this.totalCache = { at: Date.now(), total: Number(t[0].n) + 1 };
    }
    const total = this.totalCache.total;
    const tf: TermFrequencies = { firstName: { total, counts: {} }, lastName: { total, counts: {} } };
    for (const r of rows) (r.field === 'first' ? tf.firstName : tf.lastName).counts[r.value] = r.records;
    return tf;
  }

  private async constraints(em: EntityManager, ids: string[]): Promise<{ mustLink: [string, string][]; mustNotLink: [string, string][] }> {
    const rows: { kind: string; a: string; b: string }[] = await em.query(
      `SELECT kind, a, b FROM steward_constraint WHERE revoked_at IS NULL AND (a = ANY($1::text[]) OR b = ANY($1::text[]))`,
      [ids],
    );
    return {
      mustLink: rows.filter((r) => r.kind === 'must_link').map((r) => [r.a, r.b]),
      mustNotLink: rows.filter((r) => r.kind === 'must_not_link').map((r) => [r.a, r.b]),
    };
  }
}
