// Read API benchmark: loads a county of persons straight into the read model (bulk SQL; each
// person's state from the real fold), starts the REAL built API process, drives the list, the
// search and the person page with autocannon, prints latency percentiles and the query plans,
// and writes the `## API reads` section of docs/benchmarks.md.
//
// Each endpoint is measured twice: as shipped (every read commits its audit entry before it
// answers) and with the audit append replaced by a no-op (a preload that patches AuditService in
// the API process; the product has no switch to turn auditing off), so the audit's cost per read
// is measured on the same requests (issue 6).
//
// Run: npm run bench:api   (builds, makes sure PG/Redis answer, then runs this file)
// Knobs (env): BENCH_PERSONS (200000), BENCH_CONNECTIONS (4), BENCH_DURATION_S per endpoint (20),
//              BENCH_NO_DOCS=1 to skip writing the docs, BENCH_KEEP_DB=1 to keep the database,
//              BENCH_DB=<name> to reuse a database a previous run kept (no load),
//              BENCH_ONLY=list,search,page to measure some endpoints, BENCH_AUDIT=both|on|off (both),
//              BENCH_API_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the API process.
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import 'reflect-metadata';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { blockingKeys } from '../src/linkage/engine/blocking.rules';
import { normaliseRecord } from '../src/linkage/engine/record.normalise';
import { seededRng, pick, randInt, type Rng } from '../src/linkage/engine/random.seed';
import { parseCriteria } from '../src/persons/familiar-criteria';
import { foldPerson, viewColumns, type AgencyInfo, type FoldEvent, type FoldRecord } from '../src/persons/person.fold';
import {
  assertLocal, databaseExists, describeMachine, dropDatabase, intEnv, loadAverage, log, percentile, replaceSection, startApiProcess, withDb,
  type ApiProcess,
} from './bench-support';

const ROOT = path.resolve(__dirname, '..');
const BUILT = path.join(ROOT, 'dist');
const SNAPSHOT = fs.mkdtempSync(path.join(os.tmpdir(), 'ff-apibench-'));
const DIST = path.join(SNAPSHOT, 'dist');
const DOCS = path.join(ROOT, 'docs', 'benchmarks.md');
const BASE_DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/familiar_faces';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PERSONS = intEnv('BENCH_PERSONS', 200_000);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 4);
const DURATION_S = intEnv('BENCH_DURATION_S', 20);
const LOADED_WARM_S = intEnv('BENCH_LOADED_WARM_S', 5);
const STAMP = `${Date.now()}`;
const REUSE_DB = process.env.BENCH_DB ?? '';
const DB_NAME = REUSE_DB || `ff_apibench_${STAMP}`;
const QUEUE_PREFIX = `ffapibench${STAMP}`;
const ONLY = new Set((process.env.BENCH_ONLY ?? 'list,search,page').split(',').map((x) => x.trim()));
const AUDIT_MODES = ({ both: ['on', 'off'], on: ['on'], off: ['off'] } as const)[(process.env.BENCH_AUDIT ?? 'both') as 'both' | 'on' | 'off'];
const API_NODE_ARGS = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean);
const BATCH = 2000;
const DAY = 86_400_000;

const childEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  // One user drives thousands of requests: the per-user rate limit would measure 429s, so it is off here.
  ...process.env, DATABASE_URL: withDb(BASE_DB, DB_NAME), REDIS_URL, QUEUE_PREFIX, LOG_LEVEL: 'warn', RATE_LIMIT_USER_PER_MIN: '0', ...extra,
});
function runCli(args: string[]): string {
  const res = spawnSync(process.execPath, [path.join(DIST, 'cli.js'), ...args], { env: childEnv(), encoding: 'utf8', timeout: 120_000 });
  if (res.status !== 0) throw new Error(`cli ${args[0]} failed (${res.status}): ${res.stderr}`);
  return res.stdout;
}

// ------------------------------------------------------------------ the synthetic county

const AGENCIES: { code: string; kind: 'court' | 'jail' | 'provider' | 'other' }[] = [
  { code: 'county-jail', kind: 'jail' }, { code: 'county-court', kind: 'court' }, { code: 'bh-clinic', kind: 'provider' },
  { code: 'shelter', kind: 'other' }, { code: 'hospital-ed', kind: 'provider' },
];
const FIRST_M = ['James', 'Robert', 'John', 'Michael', 'David', 'William', 'Richard', 'Joseph', 'Thomas', 'Charles', 'Daniel', 'Matthew', 'Anthony', 'Mark', 'Steven', 'Paul', 'Andrew', 'Joshua', 'Kenneth', 'Kevin', 'Brian', 'George', 'Timothy', 'Ronald', 'Jose', 'Luis', 'Carlos', 'Juan', 'Miguel', 'Darnell', 'Tyrone', 'Ahmed', 'Wei', 'Nathaniel', 'Elijah'];
const FIRST_F = ['Mary', 'Patricia', 'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica', 'Sarah', 'Karen', 'Lisa', 'Nancy', 'Betty', 'Margaret', 'Sandra', 'Ashley', 'Kimberly', 'Emily', 'Donna', 'Michelle', 'Maria', 'Rosa', 'Guadalupe', 'Keisha', 'Aaliyah', 'Mei', 'Fatima', 'Katherine', 'Deborah', 'Rebecca'];
const NICK: Record<string, string> = { Robert: 'Bob', William: 'Bill', Richard: 'Rick', Joseph: 'Joe', Thomas: 'Tom', Michael: 'Mike', Elizabeth: 'Liz', Katherine: 'Kathy', Margaret: 'Peggy', Jennifer: 'Jen', Daniel: 'Dan', Anthony: 'Tony' };
const LAST = ['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores', 'Begay', 'Yazzie', 'Tsosie', 'Chavez', 'Baca', 'Gallegos', 'Montoya', 'Trujillo', 'Vigil', 'Archuleta'];
const SYL = ['ka', 'mo', 'ran', 'del', 'vi', 'son', 'ter', 'lo', 'wen', 'bar', 'ric', 'ton', 'mer', 'sa', 'go', 'ley', 'nor', 'din', 've', 'ash', 'quin', 'ber', 'tal', 'zo'];
const NEEDS = ['housing', 'behavioral_health', 'substance_use', 'medical', 'medication', 'benefits', 'employment', 'legal', 'transportation', 'food', 'identification'];

function surname(r: Rng): string {
  if (r() < 0.55) return pick(r, LAST);
  const n = 2 + randInt(r, 2);
  const s = Array.from({ length: n }, () => pick(r, SYL)).join('');
  return s[0].toUpperCase() + s.slice(1);
}
const isoDay = (t: number): string => new Date(t).toISOString().slice(0, 10);

interface Generated {
  personId: string;
  state: ReturnType<typeof foldPerson>;
  records: (FoldRecord & { normalised: ReturnType<typeof normaliseRecord>; createdAt: string })[];
}

let recordSeq = 0;
let eventSeq = 0;

function generatePerson(r: Rng, now: number, registry: Map<string, AgencyInfo>, criteria: ReturnType<typeof parseCriteria>): Generated {
  const personId = randomUUID();
  const male = r() < 0.6;
  const first = pick(r, male ? FIRST_M : FIRST_F);
  const last = surname(r);
  const dob = isoDay(Date.UTC(1950 + randInt(r, 55), randInt(r, 12), 1 + randInt(r, 28)));
  const ssn = `${100 + randInt(r, 660)}-${10 + randInt(r, 89)}-${1000 + randInt(r, 8999)}`;
  const k = r() < 0.45 ? 1 : r() < 0.65 ? 2 : 3;
  const agencies = [...AGENCIES].sort(() => r() - 0.5).slice(0, k);
  const records: Generated['records'] = [];
  const events: FoldEvent[] = [];
  const ev = (rec: FoldRecord, type: string, at: number, details: Record<string, unknown>): void => {
    eventSeq += 1;
    events.push({ id: String(eventSeq), eventId: `e${eventSeq}`, sourceRecordId: rec.sourceRecordId, type, occurredAt: new Date(at).toISOString(), details });
  };
  for (const a of agencies) {
    recordSeq += 1;
    const fn = NICK[first] && r() < 0.25 ? NICK[first] : first;
    const demographics: Record<string, unknown> = { firstName: fn, lastName: last, dateOfBirth: dob, sex: male ? 'M' : 'F' };
    if (r() < 0.6) demographics.ssn = ssn;
    const rec: FoldRecord = { sourceRecordId: String(recordSeq), source: a.code, agency: a.code, recordId: `${a.code}-${recordSeq}`, demographics };
    const normalised = normaliseRecord({ id: rec.sourceRecordId, firstName: fn, lastName: last, dateOfBirth: dob, sex: male ? 'M' : 'F', ssn: demographics.ssn as string | undefined });
    const start = now - randInt(r, 700) * DAY;
    records.push({ ...rec, normalised, createdAt: new Date(start).toISOString() });
    if (a.kind === 'jail') {
      const inCustody = r() < 0.35;
      const booked = inCustody ? now - randInt(r, 60) * DAY : start;
      const release = inCustody ? now + (randInt(r, 40) - 3) * DAY + randInt(r, 86_400) * 1000 : booked + 20 * DAY;
      ev(rec, 'booking', booked, { bookingNumber: `B${recordSeq}`, facility: pick(r, ['Main', 'Annex', 'Youth']), scheduledReleaseAt: new Date(release).toISOString() });
      if (!inCustody) ev(rec, 'release', booked + randInt(r, 20) * DAY, { bookingNumber: `B${recordSeq}` });
    } else if (a.kind === 'court') {
      ev(rec, 'court_case', start, { caseNumber: `CR${recordSeq}`, caseType: pick(r, ['misdemeanor', 'felony', 'traffic']) });
      ev(rec, 'hearing', start + DAY, { caseNumber: `CR${recordSeq}`, hearingAt: new Date(now + randInt(r, 60) * DAY).toISOString(), hearingType: 'arraignment' });
    } else {
      ev(rec, 'service', start, { serviceType: 'intake' });
      const need = pick(r, NEEDS);
      ev(rec, 'need_opened', start + DAY, { needId: `N${recordSeq}`, category: need });
      if (r() < 0.4) ev(rec, 'need_closed', start + 30 * DAY, { needId: `N${recordSeq}` });
      if (r() < 0.3) ev(rec, 'referral', start + 2 * DAY, { referralId: `R${recordSeq}`, need, status: 'open', toAgency: pick(r, AGENCIES).code });
    }
    if (r() < 0.6) ev(rec, 'contact_assigned', start + 3 * DAY, { name: `${pick(r, FIRST_F)} ${pick(r, LAST)}`, role: 'case manager', phone: '505-555-0100' });
    if (r() < 0.2) {
      const signed = start + 4 * DAY;
      ev(rec, 'consent_signed', signed, {
        consentId: `U${recordSeq}`, form: 'uroi', partners: r() < 0.5 ? ['*'] : agencies.map((x) => x.code),
        signedAt: new Date(signed).toISOString(), expiresAt: new Date(Math.max(signed + 30 * DAY, now + (randInt(r, 400) - 30) * DAY)).toISOString(),
      });
    }
  }
  const state = foldPerson(personId, events, records, registry, criteria, new Date(now));
  return { personId, state, records };
}

// ------------------------------------------------------------------ loading

async function load(pg: Client, agencyIds: Map<string, string>, sourceIds: Map<string, string>): Promise<{ ownIds: string[]; searches: string[] }> {
  const r = seededRng(7);
  const now = Date.now();
  const registry = new Map<string, AgencyInfo>(AGENCIES.map((a) => [a.code, { kind: a.kind, part2: false }]));
  const criteria = parseCriteria('[{"id":"multi_agency","minAgencies":2}]');
  const ownIds: string[] = [];
  const searches: string[] = [];
  const t0 = Date.now();
  for (let done = 0; done < PERSONS; done += BATCH) {
    const people = Array.from({ length: Math.min(BATCH, PERSONS - done) }, () => generatePerson(r, now, registry, criteria));
    const persons = people.map((p) => ({ id: p.personId }));
    const recs = people.flatMap((p) => p.records.map((x) => ({
      id: Number(x.sourceRecordId), source_id: sourceIds.get(x.source), record_id: x.recordId, demographics: x.demographics,
      demographics_hash: `\\x${createHash('sha256').update(JSON.stringify(x.demographics)).digest('hex')}`, demographics_as_of: x.createdAt,
      person_id: p.personId, normalised: x.normalised,
    })));
    const views = people.filter((p) => p.state).map((p) => {
      const c = viewColumns(p.state!);
      return {
        person_id: p.personId, state: p.state, display_name: c.displayName, search_name: c.searchName, birth_year: c.birthYear,
        agencies: c.agencies, agency_count: c.agencies.length, familiar: c.familiar, criteria: c.criteria, in_custody: c.inCustody,
        scheduled_release_at: c.scheduledReleaseAt, open_needs: c.openNeeds, last_activity_at: c.lastActivityAt, filter_keys: c.filterKeys,
      };
    });
    const consents = people.flatMap((p) => (p.state?.consents ?? []).map((c) => ({
      person_id: p.personId, consent_id: c.consentId, agency: c.agency, form: c.form, partners: c.partners, categories: c.categories,
      signed_at: c.signedAt, expires_at: c.expiresAt, revoked_at: c.revokedAt ?? null,
    })));
    for (const p of people) {
      if (p.state && p.records.some((x) => x.agency === 'county-jail')) {
        if (ownIds.length < 2000) ownIds.push(p.personId);
        if (searches.length < 1000 && r() < 0.2) {
          const rec = p.records[0];
          const d = rec.demographics as { firstName: string; lastName: string; dateOfBirth: string };
          // A case manager's typing: a nickname or the full name, a slipped letter, day and month swapped sometimes.
          const lastName = r() < 0.3 ? d.lastName.replace(/[aeiou](?=[^aeiou]*$)/, 'y') : d.lastName;
          const dob = r() < 0.2 && Number(d.dateOfBirth.slice(8)) <= 12 ? `${d.dateOfBirth.slice(0, 5)}${d.dateOfBirth.slice(8)}-${d.dateOfBirth.slice(5, 7)}` : d.dateOfBirth;
          searches.push(`firstName=${encodeURIComponent(d.firstName)}&lastName=${encodeURIComponent(lastName)}&dateOfBirth=${dob}`);
        }
      }
    }
    await pg.query('BEGIN');
    await pg.query(`INSERT INTO person (id) SELECT id FROM jsonb_to_recordset($1::jsonb) AS x(id uuid)`, [JSON.stringify(persons)]);
    await pg.query(
      `INSERT INTO source_record (id, source_id, record_id, demographics, demographics_hash, demographics_as_of) OVERRIDING SYSTEM VALUE
       SELECT id, source_id, record_id, demographics, decode(substr(demographics_hash, 3), 'hex'), demographics_as_of
         FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, source_id uuid, record_id text, demographics jsonb, demographics_hash text, demographics_as_of timestamptz)`,
      [JSON.stringify(recs)],
    );
    await pg.query(
      `INSERT INTO link_decision (id, source_record_id, person_id, action, reason, model_version, explanation, actor) OVERRIDING SYSTEM VALUE
       SELECT id, id, person_id, 'new', 'bench load', 'bench', '{}'::jsonb, 'bench' FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, person_id uuid)`,
      [JSON.stringify(recs.map((x) => ({ id: x.id, person_id: x.person_id })))],
    );
    await pg.query(
      `INSERT INTO linkage_record (source_record_id, person_id, decision_id, normalised)
       SELECT id, person_id, id, normalised FROM jsonb_to_recordset($1::jsonb) AS x(id bigint, person_id uuid, normalised json)`,
      [JSON.stringify(recs.map((x) => ({ id: x.id, person_id: x.person_id, normalised: x.normalised })))],
    );
    // The linker's blocking keys (the search's candidates), as linking these records would have stored them.
    const keyRows = recs.flatMap((x) => blockingKeys(x.normalised).map((k) => [k, x.id] as const));
    await pg.query(
      `INSERT INTO blocking_key (key, source_record_id) SELECT * FROM unnest($1::text[], $2::bigint[])`,
      [keyRows.map((k) => k[0]), keyRows.map((k) => k[1])],
    );
    await pg.query(
      `INSERT INTO person_view (person_id, state, display_name, search_name, birth_year, agencies, agency_count, familiar, criteria,
                                in_custody, scheduled_release_at, open_needs, last_activity_at, filter_keys)
       SELECT person_id, state, display_name, search_name, birth_year, agencies, agency_count, familiar, criteria,
              in_custody, scheduled_release_at, open_needs, last_activity_at, filter_keys
         FROM jsonb_to_recordset($1::jsonb) AS x(person_id uuid, state jsonb, display_name text, search_name text, birth_year int,
              agencies text[], agency_count int, familiar boolean, criteria text[], in_custody boolean, scheduled_release_at timestamptz,
              open_needs text[], last_activity_at timestamptz, filter_keys text[])`,
      [JSON.stringify(views)],
    );
    if (consents.length) {
      await pg.query(
        `INSERT INTO person_consent (person_id, consent_id, agency, form, partners, categories, signed_at, expires_at, revoked_at)
         SELECT person_id, consent_id, agency, form, partners, categories, signed_at, expires_at, revoked_at
           FROM jsonb_to_recordset($1::jsonb) AS x(person_id uuid, consent_id text, agency text, form text, partners text[],
                categories text[], signed_at timestamptz, expires_at timestamptz, revoked_at timestamptz)`,
        [JSON.stringify(consents)],
      );
    }
    await pg.query('COMMIT');
    if ((done / BATCH) % 10 === 0) log(`  ${done + people.length} persons loaded (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  void agencyIds;
  for (const t of ['source_record', 'link_decision']) {
    await pg.query(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT max(id) FROM ${t}))`);
  }
  await pg.query('VACUUM ANALYZE');
  return { ownIds, searches };
}

// ------------------------------------------------------------------ measuring

interface Measured {
  name: string;
  audit: 'on' | 'off';
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  target: number;
}

async function measure(name: string, audit: 'on' | 'off', base: string, token: string, paths: string[], target: number): Promise<Measured> {
  let i = 0;
  const run = (duration: number, sink?: number[]): Promise<autocannon.Result> => new Promise((resolve, reject) => {
    const instance = autocannon({
      url: base,
      connections: CONNECTIONS,
      duration,
      headers: { authorization: `Bearer ${token}`, 'x-purpose-of-use': 'care_coordination' },
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: paths[i++ % paths.length] }) }],
    }, (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)));
    // autocannon's own percentiles are whole milliseconds, too coarse for a 3 ms read's ratios.
    if (sink) instance.on('response', (_client, status, _bytes, ms) => { if (status >= 200 && status < 300) sink.push(ms); });
  });
  // Unmeasured seconds under the same load first: JIT, pools and caches settle, so whichever run
  // comes first (always the audited list) is not the one that pays for them.
  if (LOADED_WARM_S > 0) await run(LOADED_WARM_S);
  const ms: number[] = [];
  const res = await run(DURATION_S, ms);
  const q = (x: number): number => Math.round(percentile(ms, x) * 10) / 10;
  return {
    name, audit, requests: res.requests.total, rps: res.requests.average, p50: q(0.5), p90: q(0.9),
    p99: q(0.99), max: Math.round(ms.reduce((a, b) => Math.max(a, b), 0) * 10) / 10, non2xx: res.non2xx + res.errors, target,
  };
}

/**
 * One sequential pass over every path before measuring, so autocannon measures the service with
 * its working set read once (as a running service has it) rather than each request's first disk
 * read. Returns the pass's latencies: the cold-cache figures, reported alongside.
 */
async function warm(base: string, token: string, paths: readonly string[]): Promise<number[]> {
  const ms: number[] = [];
  for (const p of paths) {
    const t = performance.now();
    const res = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${token}`, 'x-purpose-of-use': 'care_coordination' } });
    const body = await res.text();
    ms.push(performance.now() - t);
    if (!res.ok) throw new Error(`GET ${p.split('?')[0]} answered ${res.status}: ${body.slice(0, 200)}`);
  }
  return ms;
}

/**
 * A preload for the API process that turns the audit append into a no-op, for the "audit off"
 * runs only. It patches the class in the snapshot's dist, which api.main.js then loads from cache.
 */
function writeNoAuditPreload(): string {
  const file = path.join(SNAPSHOT, 'no-audit.preload.js');
  const service = JSON.stringify(path.join(DIST, 'audit', 'audit.service.js'));
  fs.writeFileSync(file, [
    `const { AuditService } = require(${service});`,
    `AuditService.prototype.recordAlone = function () { return Promise.resolve({ seq: '0', time: new Date(0).toISOString() }); };`,
    'AuditService.prototype.auditedRead = async function (_ctx, fn) { return (await fn()).result; };',
    '',
  ].join('\n'));
  return file;
}

/** The statements the query layer runs for each endpoint (same shape and parameters as src/persons/person-query.service.ts). */
async function plans(pg: Client, personId: string): Promise<{ name: string; plan: string }[]> {
  const cols = `v.person_id, v.folded_at, v.display_name, v.scheduled_release_at, v.last_activity_at`;
  // The county-jail case manager's scope (src/familiar-faces/viewer-scope.sql.ts).
  const relation = `(v.agencies @> $1::text[] OR v.filter_keys && $2::text[])`;
  const scope = [['county-jail'], ['grant|county-jail', 'grant|*']];
  const housing = `(v.filter_keys @> $1::text[] OR (v.open_needs @> $2::text[] AND v.filter_keys && $3::text[]))`;
  const housingParams = [['need|county-jail|housing'], ['housing'], ['grant|county-jail|general', 'grant|*|general', 'grant|county-jail|housing', 'grant|*|housing']];
  const probe = normaliseRecord({ id: 'query', firstName: 'Bob', lastName: 'Smyth', dateOfBirth: '1988-12-04' });
  const some = (await pg.query<{ id: string }>(`SELECT person_id AS id FROM person_view WHERE familiar LIMIT 20`)).rows.map((r) => r.id);
  const stmts: { name: string; sql: string; params: unknown[] }[] = [
    { name: 'list (default sort, first page)', sql: `SELECT ${cols} FROM person_view v WHERE v.familiar AND ${relation} ORDER BY v.last_activity_at DESC, v.person_id LIMIT 26`, params: scope },
    {
      name: 'list (next page from a cursor)',
      sql: `SELECT ${cols} FROM person_view v WHERE v.familiar AND ${relation} AND v.last_activity_at <= $3::timestamptz AND (v.last_activity_at < $3::timestamptz OR v.person_id > $4::uuid) ORDER BY v.last_activity_at DESC, v.person_id LIMIT 26`,
      params: [...scope, new Date(Date.now() - 30 * DAY).toISOString(), personId],
    },
    { name: 'list ?needCategory=housing (a need the viewer may see: its own, or under a consent covering housing)', sql: `SELECT ${cols} FROM person_view v WHERE v.familiar AND ${housing} ORDER BY v.last_activity_at DESC, v.person_id LIMIT 26`, params: housingParams },
    { name: 'list ?agency=county-court', sql: `SELECT ${cols} FROM person_view v WHERE v.familiar AND v.agencies @> $3::text[] AND ${relation} ORDER BY v.last_activity_at DESC, v.person_id LIMIT 26`, params: [...scope, ['county-court']] },
    { name: 'list ?sort=name', sql: `SELECT ${cols} FROM person_view v WHERE v.familiar AND ${relation} ORDER BY v.display_name, v.person_id LIMIT 26`, params: scope },
    { name: 'states not in the API\'s cache (any endpoint)', sql: `SELECT person_id, folded_at, state FROM person_view WHERE person_id = ANY($1::uuid[])`, params: [some] },
    {
      name: 'search Bob Smyth 1988-12-04: candidate records by the linker\'s blocking keys (keys on more than 200 records skipped)',
      sql: `WITH hits AS (
         SELECT k.key, b.source_record_id FROM unnest($1::text[]) AS k(key)
         CROSS JOIN LATERAL (SELECT source_record_id FROM blocking_key b WHERE b.key = k.key LIMIT $2::integer + 1) b
       )
       SELECT lr.source_record_id::text AS id, lr.person_id, lr.normalised FROM linkage_record lr
        WHERE lr.source_record_id IN (SELECT source_record_id FROM hits WHERE key IN (SELECT key FROM hits GROUP BY key HAVING count(*) <= $2::integer))`,
      params: [blockingKeys(probe), 200],
    },
    { name: 'search: the best-scored candidates\' persons, 20 at a time', sql: `SELECT ${cols} FROM person_view v WHERE v.person_id = ANY($3::uuid[]) AND ${relation}`, params: [...scope, some] },
    {
      name: 'search by a last name alone (no blocking key): trigram candidates',
      sql: `SELECT lr.source_record_id::text AS id, lr.person_id, lr.normalised FROM linkage_record lr
             WHERE lr.person_id IN (SELECT v.person_id FROM person_view v WHERE (v.search_name % $3) AND ${relation} LIMIT 200)`,
      params: [...scope, 'smyth'],
    },
    { name: 'person page (retired chain)', sql: `WITH RECURSIVE chain AS (SELECT id, retired_into, 0 AS depth FROM person WHERE id = $1 UNION ALL SELECT p.id, p.retired_into, c.depth + 1 FROM person p JOIN chain c ON p.id = c.retired_into WHERE c.depth < 50) SELECT id, retired_into FROM chain ORDER BY depth`, params: [personId] },
    { name: 'person page (state)', sql: `SELECT ${cols} FROM person_view v WHERE v.person_id = $1`, params: [personId] },
    {
      name: 'release worklist (7 days)',
      sql: `SELECT ${cols} FROM person_view v WHERE v.in_custody AND v.scheduled_release_at >= $1 AND v.scheduled_release_at <= $2
              AND (v.filter_keys @> $3::text[] OR (v.in_custody AND v.filter_keys && $4::text[])) ORDER BY v.scheduled_release_at, v.person_id LIMIT 51`,
      params: [new Date(), new Date(Date.now() + 7 * DAY), ['custody|county-jail'], ['grant|county-jail|general', 'grant|*|general']],
    },
  ];
  const out: { name: string; plan: string }[] = [];
  for (const s of stmts) {
    const res = await pg.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) ${s.sql}`, s.params);
    out.push({ name: s.name, plan: res.rows.map((x) => x['QUERY PLAN']).join('\n') });
  }
  return out;
}

// ------------------------------------------------------------------ main

interface Loaded {
  ownIds: string[];
  searches: string[];
  loadS: number;
}

async function main(): Promise<void> {
  assertLocal(BASE_DB, 'DATABASE_URL');
  assertLocal(REDIS_URL, 'REDIS_URL');
  for (const f of ['api.main.js', 'cli.js']) if (!fs.existsSync(path.join(BUILT, f))) throw new Error(`dist/${f} is missing: run npm run build first`);
  fs.cpSync(BUILT, DIST, { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'migrations'), path.join(SNAPSHOT, 'migrations'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(SNAPSHOT, 'node_modules'));
  const loadAtStart = loadAverage();
  let pg: Client | undefined;
  let api: ApiProcess | undefined;
  try {
    log(`database ${DB_NAME}${REUSE_DB ? ' (reused)' : ''}`);
    if (REUSE_DB && !(await databaseExists(BASE_DB, REUSE_DB))) throw new Error(`BENCH_DB=${REUSE_DB}: no such database`);
    runCli(['migrate', '--json']);
    pg = new Client({ connectionString: withDb(BASE_DB, DB_NAME) });
    await pg.connect();
    let loaded: Loaded;
    if (REUSE_DB) {
      const meta = await pg.query<{ v: Loaded }>(`SELECT v FROM bench_meta WHERE k = 'loaded'`);
      loaded = meta.rows[0].v;
    } else {
      for (const a of AGENCIES) runCli(['sources', 'create', '--code', a.code, '--name', a.code, '--kind', a.kind, '--json']);
      const agencyIds = new Map((await pg.query<{ code: string; id: string }>(`SELECT code, id FROM agency`)).rows.map((x) => [x.code, x.id]));
      const sourceIds = new Map((await pg.query<{ code: string; id: string }>(`SELECT code, id FROM source`)).rows.map((x) => [x.code, x.id]));
      log(`loading ${PERSONS} persons (fold per person, bulk SQL)`);
      const t0 = Date.now();
      const { ownIds, searches } = await load(pg, agencyIds, sourceIds);
      loaded = { ownIds, searches, loadS: (Date.now() - t0) / 1000 };
      // What a later BENCH_DB run needs to drive the same requests.
      await pg.query(`CREATE TABLE bench_meta (k text PRIMARY KEY, v jsonb NOT NULL)`);
      await pg.query(`INSERT INTO bench_meta (k, v) VALUES ('loaded', $1::jsonb)`, [JSON.stringify(loaded)]);
    }
    const { ownIds, searches, loadS } = loaded;
    const counts = (await pg.query<{ persons: string; familiar: string; records: string; custody: string }>(
      `SELECT (SELECT count(*) FROM person_view) AS persons, (SELECT count(*) FROM person_view WHERE familiar) AS familiar,
              (SELECT count(*) FROM linkage_record) AS records, (SELECT count(*) FROM person_view WHERE in_custody) AS custody`,
    )).rows[0];
    log(`loaded in ${loadS.toFixed(0)} s: ${counts.persons} persons, ${counts.familiar} familiar, ${counts.records} records`);

    // The load leaves ~1 GB of dirty pages and WAL: without this the checkpoint that writes them
    // out lands in the first measured run (the audited list), which then measures the load's tail.
    await pg.query('CHECKPOINT');
    const token = runCli(['users', 'token', '--sub', 'bench', '--agency', 'county-jail', '--role', 'case_manager', '--ttl', '2h']).trim().split('\n').pop()!;
    const listPaths = ['/api/v1/familiar-faces', '/api/v1/familiar-faces?limit=50', '/api/v1/familiar-faces?needCategory=housing', '/api/v1/familiar-faces?agency=county-court', '/api/v1/familiar-faces?sort=name'];
    const searchPaths = searches.map((s) => `/api/v1/persons/search?${s}`);
    const pagePaths = ownIds.map((id) => `/api/v1/persons/${id}`);
    const endpoints = ([
      ['list', 'GET /api/v1/familiar-faces (mixed filters)', listPaths, 50],
      ['search', 'GET /api/v1/persons/search', searchPaths, 50],
      ['page', 'GET /api/v1/persons/:id', pagePaths, 30],
    ] as const).filter(([key]) => ONLY.has(key));
    const results: Measured[] = [];
    const cold: { name: string; n: number; p50: number; p99: number; max: number }[] = [];
    for (const audit of AUDIT_MODES) {
      const preload = audit === 'off' ? ['--require', writeNoAuditPreload()] : [];
      api = await startApiProcess(path.join(DIST, 'api.main.js'), childEnv(), [...API_NODE_ARGS, ...preload]);
      for (const [, name, p] of endpoints) {
        log(`warm-up: ${p.length} paths of ${name}, one at a time`);
        const ms = await warm(api.base, token, p);
        if (cold.length < endpoints.length) cold.push({ name, n: ms.length, p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), max: Math.max(...ms) });
      }
      for (const [, name, paths, target] of endpoints) {
        log(`autocannon ${name} (audit ${audit}): ${CONNECTIONS} connections, ${DURATION_S} s`);
        const m = await measure(name, audit, api.base, token, [...paths], target);
        log(`  p50 ${m.p50} ms, p99 ${m.p99} ms, ${m.rps.toFixed(0)} req/s, load ${loadAverage()}`);
        results.push(m);
      }
      await api.stop();
      api = undefined;
    }
    const loadAtEnd = loadAverage();
    const planList = await plans(pg, ownIds[0]);
    const shipped = results.filter((m) => m.audit === 'on');
    const table = [
      '| endpoint | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | target p99 |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...shipped.map((m) => `| ${m.name} | ${m.requests} | ${m.rps.toFixed(0)} | ${m.p50} | ${m.p90} | ${m.p99} | ${m.max} | ${m.non2xx} | ≤ ${m.target} ${m.p99 <= m.target ? '✓' : '✗'} |`),
    ].join('\n');
    const auditTable = [
      '| endpoint | audit | req/s | p50 ms | p99 ms | p50 audited / not | p99 audited / not |',
      '|---|---|---:|---:|---:|---:|---:|',
      ...results.map((m) => {
        const off = results.find((x) => x.name === m.name && x.audit === 'off');
        const ratio = (a: number, b: number | undefined): string => (b ? `${(a / b).toFixed(2)}x` : '-');
        return `| ${m.name} | ${m.audit} | ${m.rps.toFixed(0)} | ${m.p50} | ${m.p99} | ${m.audit === 'on' ? ratio(m.p50, off?.p50) : ''} | ${m.audit === 'on' ? ratio(m.p99, off?.p99) : ''} |`;
      }),
    ].join('\n');
    const coldTable = [
      '| endpoint | requests | p50 ms | p99 ms | max ms |',
      '|---|---:|---:|---:|---:|',
      ...cold.map((c) => `| ${c.name} | ${c.n} | ${c.p50.toFixed(0)} | ${c.p99.toFixed(0)} | ${c.max.toFixed(0)} |`),
    ].join('\n');
    const machine = await describeMachine(pg);
    const fsync = (await pg.query<{ fsync: string }>('SHOW fsync')).rows[0].fsync;
    process.stdout.write(`\n${table}\n\n${auditTable}\n\nfirst pass (one connection, cold):\n${coldTable}\n\nmachine: ${machine}; fsync=${fsync}; load average ${loadAtStart} -> ${loadAtEnd}\n`);
    for (const p of planList) process.stdout.write(`\n-- ${p.name}\n${p.plan}\n`);
    const scans = planList.filter((p) => /Seq Scan on person_view/.test(p.plan)).map((p) => p.name);
    if (scans.length) process.stdout.write(`\nWARNING: sequential scans of person_view in: ${scans.join(', ')}\n`);

    if (process.env.BENCH_NO_DOCS !== '1' && ONLY.size === 3) {
      const section = [
        '## API reads',
        '',
        `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:api\` (bench/api.bench.ts): ${counts.persons} persons ` +
          `(${counts.familiar} familiar, ${counts.records} linked records, ${counts.custody} in custody) loaded straight into the read model ` +
          `(each state from the real fold, the linker's blocking keys of each record, bulk SQL, ${loadS.toFixed(0)} s` +
          `${REUSE_DB ? ', by an earlier run whose database this one reused' : ''}), then the built API process (\`dist/api.main.js\`, defaults, ` +
          `LOG_LEVEL=warn) driven by autocannon with ${CONNECTIONS} connections for ${DURATION_S} s per endpoint (after ${LOADED_WARM_S} s of the same load, not measured), as a county-jail case manager ` +
          '(every answer goes through the access policy per entry and field, and commits its audit entry before it answers). ' +
          'autocannon runs on the same 2 cores as the API and PostgreSQL, so it takes CPU from what it measures. ' +
          'Percentiles are computed from every 2xx response\'s own time (autocannon\'s summary rounds to whole milliseconds).',
        '',
        '- list: the default page, `limit=50`, `needCategory=housing`, `agency=county-court`, `sort=name` in turn;',
        '- search: 1000 lookups of real persons typed the way people do (nicknames from the records, a changed vowel in 30%, day and month swapped in 20%);',
        '- person page: 2000 different persons the viewer\'s agency knows.',
        '',
        table,
        '',
        `Machine: ${machine}; PostgreSQL fsync=${fsync}. Load average (1 min) ${loadAtStart} at the start, ${loadAtEnd} at the end.`,
        '',
        'Before measuring, the bench runs `VACUUM ANALYZE` and a `CHECKPOINT` (so the dirty pages of the load are not written out during the first measured run), then requests every path once, one at a time, so the measured runs find the working set read once, ' +
          'as a running service has it. That first pass is the cold-cache case (this VM keeps little page cache: a row not in ' +
          'PostgreSQL\'s 128 MB of shared buffers is a disk read):',
        '',
        coldTable,
        '',
        'The audit entry per read (issue 6: it must not double a read\'s latency): the same requests against an API process whose ' +
          'audit append is a no-op (a bench-only preload; the product cannot turn auditing off):',
        '',
        auditTable,
        '',
        'Query plans (EXPLAIN ANALYZE on the loaded database; the statements the query layer runs):',
        '',
        ...planList.flatMap((p) => [`${p.name}:`, '', '```', p.plan, '```', '']),
      ].join('\n');
      const doc = fs.existsSync(DOCS) ? fs.readFileSync(DOCS, 'utf8') : '# Benchmarks\n';
      fs.writeFileSync(DOCS, replaceSection(doc, 'API reads', section));
      log('wrote the API reads section of docs/benchmarks.md');
    }
  } finally {
    await api?.stop();
    await pg?.end();
    if (process.env.BENCH_KEEP_DB !== '1' && !REUSE_DB) await dropDatabase(BASE_DB, DB_NAME);
    else log(`kept database ${DB_NAME}`);
    fs.rmSync(SNAPSHOT, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:api failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
