import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { NotFoundError, ValidationFailedError } from '../errors/domain.error';
import { parseLabelsTsv, precisionRecallTable, suggestThresholds, type PrRow, type SuggestedThresholds } from './engine/eval.metrics';
import { scorePair } from './engine/model.score';
import type { NormalisedRecord } from './engine/record.types';
import { ModelStoreService } from './model-store.service';

export interface DecisionView {
  decisionId: string;
  personId: string;
  previousPersonId: string | null;
  action: string;
  reason: string;
  probability: number | null;
  modelVersion: string;
  actor: string;
  decidedAt: string;
  flags: string[];
  explanation: unknown;
}

export interface Evaluation {
  labelledPairs: number;
  skipped: { line: number; message: string }[];
  current: { precision: number; recall: number; f1: number; truePositives: number; predictedMatches: number; trueMatches: number };
  byThreshold: PrRow[];
  suggested: SuggestedThresholds;
  modelVersion: string;
}

const PAGE = 5000;

@Injectable()
export class LinksService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly models: ModelStoreService,
  ) {}

  /** `source<TAB>recordId<TAB>personId`, one row per source record, in pages so memory stays flat. */
  async exportTsv(write: (chunk: string) => void): Promise<number> {
    write('source\trecordId\tpersonId\n');
    let after = '0';
    let n = 0;
    for (;;) {
      const rows: { id: string; source: string; record_id: string; person_id: string | null }[] = await this.db.query(
        `SELECT sr.id, s.code AS source, sr.record_id, lr.person_id
           FROM source_record sr JOIN source s ON s.id = sr.source_id
           LEFT JOIN linkage_record lr ON lr.source_record_id = sr.id
          WHERE sr.id > $1 ORDER BY sr.id LIMIT ${PAGE}`,
        [after],
      );
      if (rows.length === 0) return n;
      write(rows.map((r) => `${r.source}\t${r.record_id}\t${r.person_id ?? ''}\n`).join(''));
      n += rows.length;
      after = rows[rows.length - 1].id;
    }
  }

  /** The record's decisions, newest first; the first is the current link. */
  async explain(sourceCode: string, recordId: string): Promise<{ source: string; recordId: string; locked: boolean; decisions: DecisionView[] }> {
    const rec: { id: string; locked: boolean | null }[] = await this.db.query(
      `SELECT sr.id, lr.locked FROM source_record sr JOIN source s ON s.id = sr.source_id
         LEFT JOIN linkage_record lr ON lr.source_record_id = sr.id
        WHERE s.code = $1 AND sr.record_id = $2`,
      [sourceCode, recordId],
    );
    if (!rec[0]) throw new NotFoundError(`no record ${recordId} from source ${sourceCode}`);
    const rows: {
      id: string; person_id: string; previous_person_id: string | null; action: string; reason: string; probability: number | null;
      model_version: string; actor: string; decided_at: Date; flags: string[]; explanation: unknown;
    }[] = await this.db.query(`SELECT * FROM link_decision WHERE source_record_id = $1 ORDER BY id DESC`, [rec[0].id]);
    return {
      source: sourceCode,
      recordId,
      locked: rec[0].locked ?? false,
      decisions: rows.map((r) => ({
        decisionId: r.id, personId: r.person_id, previousPersonId: r.previous_person_id, action: r.action, reason: r.reason,
        probability: r.probability, modelVersion: r.model_version, actor: r.actor, decidedAt: r.decided_at.toISOString(), flags: r.flags,
        explanation: r.explanation,
      })),
    };
  }

  /**
   * Scores hand-labelled pairs (`source:recordId` on each side) with the active model and
   * measures the current links against the labels.
   */
  async evaluate(labelsTsv: string): Promise<Evaluation> {
    const parsed = parseLabelsTsv(labelsTsv);
    if (parsed.pairs.length === 0) {
      throw new ValidationFailedError('no usable labelled pairs', [{ path: 'labels', message: 'the file has no valid rows' }, ...parsed.errors.map((e) => ({ path: `line ${e.line}`, message: e.message }))]);
    }
    const refs = [...new Set(parsed.pairs.flatMap((p) => [p.recordIdA, p.recordIdB]))];
    const bad = refs.filter((r) => !/^[a-z0-9][a-z0-9-]*:.+$/.test(r));
    if (bad.length) throw new ValidationFailedError('record ids must be source:recordId', bad.slice(0, 5).map((r) => ({ path: 'labels', message: `bad record reference ${JSON.stringify(r)}` })));
    const rows: { ref: string; person_id: string; normalised: NormalisedRecord }[] = await this.db.query(
      `SELECT s.code || ':' || sr.record_id AS ref, lr.person_id, lr.normalised
         FROM source_record sr JOIN source s ON s.id = sr.source_id JOIN linkage_record lr ON lr.source_record_id = sr.id
        WHERE s.code || ':' || sr.record_id = ANY($1::text[])`,
      [refs],
    );
    const byRef = new Map(rows.map((r) => [r.ref, r]));
    const model = await this.models.active();
    const skipped = [...parsed.errors];
    const scored: { probability: number; match: boolean; linked: boolean }[] = [];
    parsed.pairs.forEach((p, i) => {
      const a = byRef.get(p.recordIdA);
      const b = byRef.get(p.recordIdB);
      if (!a || !b) {
        skipped.push({ line: i + 2, message: `unknown record ${!a ? p.recordIdA : p.recordIdB}` });
        return;
      }
      scored.push({ probability: scorePair(model, a.normalised, b.normalised).probability, match: p.match, linked: a.person_id === b.person_id });
    });
    const tp = scored.filter((s) => s.match && s.linked).length;
    const predicted = scored.filter((s) => s.linked).length;
    const trueMatches = scored.filter((s) => s.match).length;
    const precision = predicted ? tp / predicted : 1;
    const recall = trueMatches ? tp / trueMatches : 1;
    const table = precisionRecallTable(scored);
    return {
      labelledPairs: scored.length,
      skipped,
      current: { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, truePositives: tp, predictedMatches: predicted, trueMatches },
      byThreshold: table,
      suggested: suggestThresholds(table),
      modelVersion: model.version,
    };
  }

  /**
   * The current link of each given record (its latest decision) and the open review tasks raised
   * on them. The caller decides which records the reader may see; this reads only those.
   */
  async currentLinks(sourceRecordIds: readonly string[]): Promise<{ links: CurrentLink[]; openTasks: OpenReviewTask[] }> {
    if (sourceRecordIds.length === 0) return { links: [], openTasks: [] };
    const ids = [...sourceRecordIds];
    const rows: {
      source_record_id: string; person_id: string; locked: boolean; id: string; action: string; reason: string; probability: number | null;
      weight: number | null; model_version: string; actor: string; decided_at: Date; flags: string[]; explanation: unknown;
    }[] = await this.db.query(
      `SELECT lr.source_record_id::text AS source_record_id, lr.person_id, lr.locked, d.id::text AS id, d.action, d.reason, d.probability,
              d.weight, d.model_version, d.actor, d.decided_at, d.flags, d.explanation
         FROM linkage_record lr JOIN link_decision d ON d.id = lr.decision_id
        WHERE lr.source_record_id = ANY($1::bigint[]) ORDER BY lr.source_record_id`,
      [ids],
    );
    const tasks: { id: string; kind: string; source_record_id: string; person_ids: string[]; probability: number | null; created_at: Date }[] =
      await this.db.query(
        `SELECT id::text AS id, kind, source_record_id::text AS source_record_id, person_ids, probability, created_at
           FROM review_task WHERE source_record_id = ANY($1::bigint[]) AND status = 'open' ORDER BY id`,
        [ids],
      );
    return {
      links: rows.map((r) => ({
        sourceRecordId: r.source_record_id, personId: r.person_id, locked: r.locked, decisionId: r.id, action: r.action, reason: r.reason,
        probability: r.probability, weight: r.weight, modelVersion: r.model_version, actor: r.actor, decidedAt: r.decided_at.toISOString(),
        flags: r.flags, explanation: r.explanation,
      })),
      openTasks: tasks.map((t) => ({
        id: t.id, kind: t.kind, sourceRecordId: t.source_record_id, personIds: t.person_ids, probability: t.probability, createdAt: t.created_at.toISOString(),
      })),
    };
  }
}

export interface CurrentLink {
  sourceRecordId: string;
  personId: string;
  locked: boolean;
  decisionId: string;
  action: string;
  reason: string;
  probability: number | null;
  weight: number | null;
  modelVersion: string;
  actor: string;
  decidedAt: string;
  flags: string[];
  /** As stored by the linker (decision, thresholds, bestMatch field contributions, candidates). */
  explanation: unknown;
}

export interface OpenReviewTask {
  id: string;
  kind: string;
  sourceRecordId: string;
  personIds: string[];
  probability: number | null;
  createdAt: string;
}
