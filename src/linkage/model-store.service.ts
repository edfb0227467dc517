import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { ConflictError, NotFoundError } from '../errors/domain.error';
import { trainModel } from './engine/em.train';
import { defaultModel, validateModel, type ModelParams } from './engine/model.params';
import type { NormalisedRecord } from './engine/record.types';

const CACHE_MS = 5000;

export interface ModelSummary {
  version: string;
  active: boolean;
  trainedOn: number | null;
  createdAt: string;
  activatedAt: string | null;
  thresholds: { upper: number; lower: number };
}

/** Versioned linkage models in the database; the default model serves until one is activated. */
@Injectable()
export class ModelStoreService {
  private cached?: { at: number; model: ModelParams };

  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** The active model, re-read at most every few seconds so activation reaches every worker. */
  async active(em: EntityManager = this.db.manager): Promise<ModelParams> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.model;
    const rows: { params: ModelParams }[] = await em.query(`SELECT params FROM linkage_model WHERE active`);
    const model = rows[0]?.params ?? defaultModel();
    validateModel(model);
    this.cached = { at: Date.now(), model };
    return model;
  }

  /** Fits a model by EM on a sample of current records (no labels) and stores it inactive. */
  /** inTx (e.g. the audit entry) runs last in the transaction that stores the model. */
  async train(
    opts: { sample?: number; seed?: number; thresholds?: { upper: number; lower: number } } = {},
    inTx?: (em: EntityManager, model: { version: string; trainedOn: number }) => Promise<unknown>,
  ): Promise<ModelSummary> {
    const sample = opts.sample ?? 50_000;
    const rows: { normalised: NormalisedRecord }[] = await this.db.query(
      `SELECT normalised FROM linkage_record ORDER BY md5(source_record_id::text) LIMIT $1`,
      [sample],
    );
    if (rows.length < 50) throw new ConflictError(`only ${rows.length} linked records: training needs at least 50`);
    const records = rows.map((r) => r.normalised);
    const initial = defaultModel();
    if (opts.thresholds) initial.thresholds = opts.thresholds;
    const model = trainModel(records, { seed: opts.seed ?? 1, initialModel: initial });
    const version = `${model.version}@${new Date().toISOString()}`;
    model.version = version;
    await this.db.transaction(async (em) => {
      await em.query(`INSERT INTO linkage_model (version, params, trained_on) VALUES ($1, $2, $3)`, [version, JSON.stringify(model), records.length]);
      await inTx?.(em, { version, trainedOn: records.length });
    });
    return this.show(version);
  }

  /** inTx (e.g. the audit entry) runs last in the transaction that switches the model. */
  async activate(version: string, inTx?: (em: EntityManager) => Promise<unknown>): Promise<ModelSummary> {
    await this.db.transaction(async (em) => {
      const found: unknown[] = await em.query(`SELECT 1 FROM linkage_model WHERE version = $1`, [version]);
      if (found.length === 0) throw new NotFoundError(`model ${version} not found`);
      await em.query(`UPDATE linkage_model SET active = false, activated_at = NULL WHERE active`);
      await em.query(`UPDATE linkage_model SET active = true, activated_at = now() WHERE version = $1`, [version]);
      await inTx?.(em);
    });
    this.cached = undefined;
    return this.show(version);
  }

  async list(): Promise<ModelSummary[]> {
    const rows: ModelRow[] = await this.db.query(`SELECT version, active, trained_on, created_at, activated_at, params FROM linkage_model ORDER BY created_at`);
    return rows.map(summary);
  }

  async show(version?: string): Promise<ModelSummary & { params: ModelParams }> {
    if (!version) {
      const params = await this.active();
      const rows: ModelRow[] = await this.db.query(`SELECT version, active, trained_on, created_at, activated_at, params FROM linkage_model WHERE active`);
      if (rows[0]) return { ...summary(rows[0]), params };
      return { version: params.version, active: true, trainedOn: null, createdAt: '', activatedAt: null, thresholds: params.thresholds, params };
    }
    const rows: ModelRow[] = await this.db.query(`SELECT version, active, trained_on, created_at, activated_at, params FROM linkage_model WHERE version = $1`, [version]);
    if (!rows[0]) throw new NotFoundError(`model ${version} not found`);
    return { ...summary(rows[0]), params: rows[0].params };
  }
}

interface ModelRow {
  version: string;
  active: boolean;
  trained_on: number | null;
  created_at: Date;
  activated_at: Date | null;
  params: ModelParams;
}

function summary(r: ModelRow): ModelSummary {
  return {
    version: r.version, active: r.active, trainedOn: r.trained_on, createdAt: r.created_at.toISOString(),
    activatedAt: r.activated_at?.toISOString() ?? null, thresholds: r.params.thresholds,
  };
}
