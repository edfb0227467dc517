// Audit benchmark: what the audit write costs a read. Serves GET /api/v1/audit (a cheap indexed
// read, so the worst case for the relative cost) from an in-process API three ways:
//   none  - AuditService replaced by a no-op (the read alone)
//   read  - as shipped: the read, then one autocommitted audit_append() before answering
//   tx    - the read, then BEGIN / audit_append() / COMMIT, as record(em) inside a caller's transaction
// and drives each with autocannon at 1, 10 and 50 connections. Then the chain's ceiling: appends/s
// from N database clients calling audit_append() in a loop, against plain INSERTs into an
// unchained table (which commit in parallel). Prints markdown tables.
//
// Run: DATABASE_URL=postgres://... REDIS_URL=redis://... npx ts-node --transpile-only bench/audit.bench.ts
//      (or: node scripts/services.mjs -- npx ts-node --transpile-only bench/audit.bench.ts)
// Knobs (env): BENCH_DURATION_S per run (10), BENCH_CONNECTIONS (1,10,50), BENCH_SEED_ENTRIES (50000).
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { LocalIssuerService } from '../src/access/local-issuer.service';
import { AppModule } from '../src/app/app.module';
import { configureHttp } from '../src/app/bootstrap';
import type { AuditContext, AuditDetails, AuditEntryInput } from '../src/audit/audit.context';
import { AuditService, type AuditReceipt } from '../src/audit/audit.service';
import { loadConfig } from '../src/config/app.config';
import { migrate } from '../src/database/data-source';
import { PartnersService } from '../src/partners/partners.service';
import { assertLocal, describeMachine, dropDatabase, loadAverage, log, withDb } from './bench-support';

const BASE_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/familiar_faces';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DURATION = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,10,50').split(',').map(Number);
const SEED = Number(process.env.BENCH_SEED_ENTRIES ?? 50_000);
const STAMP = `${Date.now()}`;
const DB_NAME = `ff_bench_audit_${STAMP}`;

type Mode = 'none' | 'read' | 'tx';
type ReadFn<T> = () => Promise<{ result: T; personIds?: readonly string[]; details?: AuditDetails }>;
type Ctx = AuditContext & { action: string; resource: string; details?: AuditDetails };

const FAKE: AuditReceipt = { seq: '0', time: new Date(0).toISOString() };
class NoAudit extends AuditService {
  override recordAlone(_entry: AuditEntryInput): Promise<AuditReceipt> {
    return Promise.resolve(FAKE);
  }
}
/** As a caller's transaction would: the head lock is held from the append through the COMMIT round trip. */
class TxAudit extends AuditService {
  override async auditedRead<T>(ctx: Ctx, fn: ReadFn<T>): Promise<T> {
    const out = await fn();
    return this.audited({ ...ctx, details: { ...ctx.details, ...out.details } }, () => Promise.resolve({ result: out.result, personIds: out.personIds }));
  }
}

async function startApi(mode: Mode): Promise<{ app: NestExpressApplication; url: string }> {
  let builder = Test.createTestingModule({ imports: [AppModule.forRole('api')] });
  if (mode === 'none') builder = builder.overrideProvider(AuditService).useClass(NoAudit);
  if (mode === 'tx') builder = builder.overrideProvider(AuditService).useClass(TxAudit);
  const mod = await builder.compile();
  const app = mod.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: false });
  configureHttp(app, loadConfig());
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, url: `http://127.0.0.1:${port}` };
}

interface Row {
  mode: Mode;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function run(url: string, headers: Record<string, string>, connections: number, duration: number): Promise<autocannon.Result> {
  return autocannon({ url: `${url}/api/v1/audit?limit=20&action=person.read`, connections, duration, headers });
}

/** N clients, each committing one statement after another for `seconds`: statements/s and mean ms. */
async function sqlLoop(url: string, clients: number, seconds: number, sql: string): Promise<{ perSec: number; meanMs: number }> {
  const cs = await Promise.all(Array.from({ length: clients }, async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    return c;
  }));
  const until = Date.now() + seconds * 1000;
  let n = 0;
  let busy = 0;
  const started = Date.now();
  await Promise.all(cs.map(async (c) => {
    while (Date.now() < until) {
      const t = process.hrtime.bigint();
      await c.query(sql);
      busy += Number(process.hrtime.bigint() - t) / 1e6;
      n += 1;
    }
  }));
  const elapsed = (Date.now() - started) / 1000;
  await Promise.all(cs.map((c) => c.end()));
  return { perSec: n / elapsed, meanMs: busy / n };
}

async function main(): Promise<void> {
  assertLocal(BASE_DB, 'DATABASE_URL');
  Object.assign(process.env, { DATABASE_URL: withDb(BASE_DB, DB_NAME), REDIS_URL, QUEUE_PREFIX: `ffbenchaudit${STAMP}`, LOG_LEVEL: 'silent', DB_POOL_SIZE: '20',
    // One user drives thousands of requests: the per-user rate limit would measure 429s.
    RATE_LIMIT_USER_PER_MIN: '0',
  });
  log(`database ${DB_NAME}`);
  const loadAtStart = loadAverage();
  await migrate(loadConfig());
  const pg = new Client({ connectionString: process.env.DATABASE_URL });
  await pg.connect();
  const settings = await pg.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'server_version')`,
  );
  log(`postgres ${settings.rows.map((r) => `${r.name}=${r.setting}`).join(' ')}`);
  log(`seeding ${SEED} audit entries`);
  await pg.query(
    `SELECT audit_append('user-' || (i % 500), 'user', 'county-jail', 'case_manager', 'care_coordination', 'person.read',
                         'person/' || gen_random_uuid(), ARRAY[gen_random_uuid()], 'allowed', 'r-' || i, '10.0.0.1', '{}')
       FROM generate_series(1, $1::int) AS i`,
    [SEED],
  );

  const rows: Row[] = [];
  let headers: Record<string, string> | undefined;
  for (const mode of ['none', 'read', 'tx'] as const) {
    const { app, url } = await startApi(mode);
    if (!headers) {
      await app.get(PartnersService).createSource({ code: 'county-jail', name: 'County Jail', kind: 'jail' });
      const token = await app.get(LocalIssuerService).mint({ sub: 'bench-auditor', agency: 'county-jail', roles: ['auditor'], ttlSeconds: 3600 });
      headers = { authorization: `Bearer ${token}`, 'x-purpose-of-use': 'audit' };
    }
    await run(url, headers, 4, 2); // warm-up
    for (const c of CONNECTIONS) {
      const r = await run(url, headers, c, DURATION);
      rows.push({ mode, connections: c, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx });
      log(`${mode} c=${c}: ${r.requests.average} req/s p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms non2xx ${r.non2xx}`);
    }
    // Let autocannon's last requests finish before the pool closes.
    await new Promise((r) => setTimeout(r, 500));
    await app.close();
  }
  await pg.query(`CREATE TABLE bench_plain (id bigserial PRIMARY KEY, actor text, resource text, details jsonb, at timestamptz DEFAULT clock_timestamp())`);
  const append = `SELECT audit_append('bench', 'system', null, null, null, 'bench.append', 'bench', ARRAY[gen_random_uuid()], 'allowed', null, null, '{"n":1}')`;
  const plain = `INSERT INTO bench_plain (actor, resource, details) VALUES ('bench', 'bench', '{"n":1}')`;
  const sqlRows: string[] = [];
  for (const c of [1, 10, 50]) {
    const a = await sqlLoop(process.env.DATABASE_URL!, c, DURATION, append);
    const p = await sqlLoop(process.env.DATABASE_URL!, c, DURATION, plain);
    log(`sql c=${c}: audit_append ${a.perSec.toFixed(0)}/s (${a.meanMs.toFixed(2)} ms), plain insert ${p.perSec.toFixed(0)}/s (${p.meanMs.toFixed(2)} ms)`);
    sqlRows.push(`| ${c} | ${Math.round(a.perSec)} | ${a.meanMs.toFixed(2)} | ${Math.round(p.perSec)} | ${p.meanMs.toFixed(2)} |`);
  }
  const entries = await pg.query<{ n: string }>(`SELECT count(*) AS n FROM audit_entry`);
  await pg.end();

  const none = new Map(rows.filter((r) => r.mode === 'none').map((r) => [r.connections, r]));
  const out = [
    `${await describeMachine()}, load ${loadAtStart} -> ${loadAverage()}; PostgreSQL ${settings.rows.map((r) => `${r.name}=${r.setting}`).join(', ')};`,
    `${SEED} entries seeded, ${entries.rows[0].n} at the end; ${DURATION} s per run.`,
    '',
    '| audit | connections | req/s | p50 ms | p99 ms | p50 vs none | errors |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const base = none.get(r.connections);
      const ratio = base && base.p50 > 0 ? `${(r.p50 / base.p50).toFixed(2)}x` : '-';
      return `| ${r.mode} | ${r.connections} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${ratio} | ${r.errors} |`;
    }),
    '',
    '| db clients | audit_append/s | ms each | plain INSERT/s | ms each |',
    '|---:|---:|---:|---:|---:|',
    ...sqlRows,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  await dropDatabase(BASE_DB, DB_NAME);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
