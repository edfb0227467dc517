import { randomBytes } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import Redis from 'ioredis';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { LocalIssuerService } from '../../src/access/local-issuer.service';
import type { Role } from '../../src/access/roles';
import { createHttpApp, createWorkerContext } from '../../src/app/bootstrap';
import { PartnersService } from '../../src/partners/partners.service';
import { RUN_ID_VAR, serverUrl, templateDb, testDbPrefix } from './run-env';

const ORIGINAL_ENV: NodeJS.ProcessEnv = { ...process.env };
let appliedEnvKeys = new Set<string>();

export interface StackOptions {
  /** Extra settings (env names from AppConfig). */
  env?: Record<string, string>;
  api?: boolean;
  workers?: number;
}

/**
 * A real service for one test file: its own database (cloned from the run's migrated
 * template) and its own queue prefix, with the api and N workers in this process.
 */
export class TestStack {
  api?: NestExpressApplication;
  readonly workers: INestApplicationContext[] = [];
  db!: DataSource;
  redis!: Redis;

  private constructor(
    readonly dbUrl: string,
    readonly prefix: string,
    private readonly env: Record<string, string>,
  ) {}

  static async start(opts: StackOptions = {}): Promise<TestStack> {
    const runId = process.env[RUN_ID_VAR];
    if (!runId) throw new Error('test run id missing: run through jest with test/support/global-setup.ts');
    const suffix = randomBytes(4).toString('hex');
    const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/familiar_faces';
    const dbName = `${testDbPrefix(runId)}${suffix}`;
    const admin = new Client({ connectionString: serverUrl(base, 'postgres') });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${dbName}" TEMPLATE "${templateDb(runId)}"`);
    } finally {
      await admin.end();
    }
    const dbUrl = serverUrl(base, dbName);
    const prefix = `fft${runId}${suffix}`;
    const env = {
      DATABASE_URL: dbUrl,
      QUEUE_PREFIX: prefix,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      LOG_LEVEL: 'silent',
      INGEST_BACKOFF_MS: '50',
      DB_POOL_SIZE: '10',
      ...opts.env,
    };
    const stack = new TestStack(dbUrl, prefix, env);
    stack.db = new DataSource({ type: 'postgres', url: dbUrl, poolSize: 4 });
    await stack.db.initialize();
    stack.redis = new Redis(env.REDIS_URL);
    if (opts.api !== false) await stack.startApi();
    for (let i = 0; i < (opts.workers ?? 1); i++) await stack.startWorker();
    return stack;
  }

  /** Config is read from process.env at start-up; undo what another stack of this file set. */
  private applyEnv(): void {
    for (const k of appliedEnvKeys) {
      if (ORIGINAL_ENV[k] === undefined) delete process.env[k];
      else process.env[k] = ORIGINAL_ENV[k];
    }
    appliedEnvKeys = new Set(Object.keys(this.env));
    Object.assign(process.env, this.env);
  }

  async startApi(): Promise<NestExpressApplication> {
    this.applyEnv();
    this.api = await createHttpApp('api');
    await this.api.init();
    return this.api;
  }

  async startWorker(env: Record<string, string> = {}): Promise<INestApplicationContext> {
    this.applyEnv();
    Object.assign(process.env, env);
    for (const k of Object.keys(env)) appliedEnvKeys.add(k);
    const w = await createWorkerContext();
    await w.init();
    this.workers.push(w);
    return w;
  }

  async stopWorkers(): Promise<void> {
    for (const w of this.workers.splice(0)) await w.close();
  }

  http(): ReturnType<typeof request> {
    if (!this.api) throw new Error('no api in this stack');
    return request(this.api.getHttpServer());
  }

  async createSource(code: string, kind: 'court' | 'jail' | 'provider' | 'other', agency?: string): Promise<string> {
    const app = this.api ?? this.workers[0];
    const res = await app.get(PartnersService).createSource({ code, name: code, kind, agency });
    return res.apiKey;
  }

  async sendEvents(key: string, events: unknown[]): Promise<request.Response> {
    return this.http().post('/api/v1/events').set('Authorization', `Bearer ${key}`).send({ events });
  }

  /** Sends events that must all be accepted, then waits until every one is applied and its persons refolded. */
  async sendApplied(key: string, events: unknown[], timeoutMs = 60_000): Promise<void> {
    const res = await this.sendEvents(key, events);
    if (res.status !== 202) throw new Error(`POST /api/v1/events answered ${res.status}: ${JSON.stringify(res.body)}`);
    const refused = (res.body.results as { eventId: string; status: string }[]).filter((r) => r.status !== 'accepted');
    if (refused.length > 0) throw new Error(`events not accepted: ${JSON.stringify(refused)}`);
    await waitFor(async () => {
      const [r] = await this.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM inbox_event WHERE applied_at IS NULL AND dead_lettered_at IS NULL)
              + (SELECT count(*) FROM person_refold_due) AS n`,
      );
      return Number(r.n) === 0;
    }, timeoutMs, 'every accepted event applied and refolded');
  }

  /**
   * Waits until at least `events` events are applied and no person awaits the refold an apply made
   * due: what a test needs before reading read models (the refold commits just after its apply).
   */
  async waitAppliedAndRefolded(events: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => {
      const [r] = await this.query<{ applied: string; due: string }>(
        `SELECT (SELECT count(*) FROM inbox_event WHERE applied_at IS NOT NULL) AS applied, (SELECT count(*) FROM person_refold_due) AS due`,
      );
      return Number(r.due) === 0 && Number(r.applied) >= events;
    }, timeoutMs, `${events} events applied and refolded`);
  }

  /** A bearer token from the stack's local issuer. */
  token(sub: string, agency: string, roles: Role | Role[], ttlSeconds = 3600): Promise<string> {
    if (!this.api) throw new Error('no api in this stack');
    return this.api.get(LocalIssuerService).mint({ sub, agency, roles: Array.isArray(roles) ? roles : [roles], ttlSeconds });
  }

  /** GET as a person, with the purpose of use the read states. */
  read(path: string, token: string, purpose = 'care_coordination'): request.Test {
    return this.http().get(path).set('Authorization', `Bearer ${token}`).set('X-Purpose-Of-Use', purpose);
  }

  /** The person a source record is linked to. */
  async personOf(source: string, recordId: string): Promise<string> {
    const [r] = await this.query<{ person_id: string }>(
      `SELECT lr.person_id FROM linkage_record lr JOIN source_record sr ON sr.id = lr.source_record_id JOIN source s ON s.id = sr.source_id
        WHERE s.code = $1 AND sr.record_id = $2`,
      [source, recordId],
    );
    if (!r) throw new Error(`no linked record ${source}/${recordId}`);
    return r.person_id;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.db.query(sql, params);
  }

  async close(): Promise<void> {
    await this.stopWorkers();
    await this.api?.close();
    await this.db.destroy();
    this.redis.disconnect();
  }
}

/** Polls until check() returns a truthy value or the time is up. */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let seq = 0;
/** A valid contract-v1 event; override any part. */
export function makeEvent(over: Record<string, unknown> = {}, subject: Record<string, unknown> = {}): Record<string, unknown> {
  seq += 1;
  return {
    eventId: `ev-${Date.now()}-${seq}`,
    type: 'service',
    occurredAt: '2026-01-15T10:00:00Z',
    subject: { recordId: 'r-1', firstName: 'Maria', lastName: 'Lopez', dateOfBirth: '1980-02-03', ...subject },
    details: { serviceType: 'intake' },
    ...over,
  };
}
