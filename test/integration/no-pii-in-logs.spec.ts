import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { LocalIssuerService } from '../../src/access/local-issuer.service';
import { makeEvent, TestStack, waitFor } from '../support/stack';

const ROOT = join(__dirname, '..', '..');

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function req(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        // Keep the stream open briefly so the service logs its life cycle, then hang up.
        setTimeout(() => {
          r.destroy();
          resolve(res.statusCode ?? 0);
        }, 300);
        return;
      }
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    r.on('error', reject);
    r.end(body);
  });
}

/**
 * The api and worker (src/main.ts) run as a child process at LOG_LEVEL=debug through a realistic
 * flow: ingest with names, dates of birth, SSNs and addresses; rejected events; a poison event
 * whose database error quotes a name; reads with names in the query string; refusals. Everything
 * it writes to stdout and stderr is scanned for the generated values.
 */
describe('no personal data in logs', () => {
  let stack: TestStack;
  let child: ChildProcess | undefined;
  let output = '';
  const tag = randomBytes(3).toString('hex');
  const people = Array.from({ length: 4 }, (_, i) => {
    const ssn = `${randomInt(100, 899)}-${randomInt(10, 99)}-${randomInt(1000, 9999)}`;
    return {
      recordId: `LOG-${i}`, firstName: `Quenby${tag}${i}`, lastName: `Thistlewood${tag}${i}`, middleName: `Marwick${tag}${i}`,
      dateOfBirth: `19${randomInt(40, 99)}-0${randomInt(1, 9)}-1${randomInt(0, 9)}`, ssn,
      phone: `505-555-${randomInt(1000, 9999)}`,
      address: { line1: `${randomInt(100, 9999)} Larkspur${tag} Lane`, city: 'Springfield', state: 'NM', postalCode: '87001' },
    };
  });
  const secrets = people.flatMap((p) => [p.firstName, p.lastName, p.middleName, p.dateOfBirth, p.ssn, p.ssn.replace(/-/g, ''), p.address.line1, p.phone]);

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await stack.close();
  });

  it('writes none of the names, dates of birth, SSNs (with or without dashes), phones or street lines', async () => {
    const jail = await stack.createSource('county-jail', 'jail');
    const court = await stack.createSource('county-court', 'court');
    const issuer = stack.api!.get(LocalIssuerService);
    const planner = await issuer.mint({ sub: 'jp', agency: 'county-jail', roles: ['discharge_planner'], ttlSeconds: 3600 });
    const steward = await issuer.mint({ sub: 'ds', agency: 'county-court', roles: ['data_steward'], ttlSeconds: 3600 });
    // The poison event's database error quotes the person's name, as driver errors quote row values.
    await stack.query(`CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.details->>'serviceType' = 'poison' THEN RAISE EXCEPTION 'poisoned event for % born %', '${people[3].lastName}', '${people[3].dateOfBirth}'; END IF;
        RETURN NEW;
      END $$`);
    await stack.query(`CREATE TRIGGER test_poison_trg BEFORE INSERT ON record_event FOR EACH ROW EXECUTE FUNCTION test_poison()`);

    const port = await freePort();
    child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(ROOT, 'src', 'main.ts')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '', DATABASE_URL: stack.dbUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        QUEUE_PREFIX: stack.prefix, PORT: String(port), LOG_LEVEL: 'debug', INGEST_ATTEMPTS: '2', INGEST_BACKOFF_MS: '50', NODE_ENV: 'development',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
    await waitFor(async () => (await req(port, 'GET', '/health/ready', {}).catch(() => 0)) === 200, 90_000, 'the spawned service ready');

    const src = (key: string) => ({ Authorization: `Bearer ${key}` });
    const events = [
      ...people.slice(0, 3).map((p) => makeEvent({ type: 'booking', details: { bookingNumber: `B-${p.recordId}`, facility: 'Main' } }, p)),
      ...people.slice(0, 3).map((p) => makeEvent({}, { ...p, recordId: `C-${p.recordId}` })),
      // Rejected by the contract, with personal data in the event.
      makeEvent({ type: 'booking', details: {} }, { ...people[0], dateOfBirth: '2999-01-01' }),
      makeEvent({ occurredAt: 'yesterday' }, { ...people[1], ssn: `${people[1].ssn}9` }),
      makeEvent({ details: { serviceType: 'poison' } }, people[3]),
    ];
    expect(await req(port, 'POST', '/api/v1/events', src(jail), JSON.stringify({ events: events.slice(0, 3).concat(events.slice(6)) }))).toBe(202);
    expect(await req(port, 'POST', '/api/v1/events', src(court), JSON.stringify({ events: events.slice(3, 6) }))).toBe(202);
    // Malformed JSON that carries a name, and a body with unknown fields.
    expect(await req(port, 'POST', '/api/v1/events', src(jail), `{"events": [{"subject": {"lastName": "${people[0].lastName}"`)).toBe(400);
    expect(await req(port, 'POST', '/api/v1/events', src(jail), JSON.stringify({ events: [], [people[2].lastName]: people[2].ssn }))).toBe(400);
    await waitFor(async () => {
      const [r] = await stack.query<{ applied: string; dead: string }>(
        `SELECT count(*) FILTER (WHERE applied_at IS NOT NULL) AS applied, count(*) FILTER (WHERE dead_lettered_at IS NOT NULL) AS dead FROM inbox_event`,
      );
      return Number(r.applied) >= 6 && Number(r.dead) >= 1;
    }, 90_000, 'events applied and the poison event dead-lettered');

    const read = (tok: string, purpose: string) => ({ Authorization: `Bearer ${tok}`, 'X-Purpose-Of-Use': purpose });
    const [{ person_id: id }] = await stack.query<{ person_id: string }>(
      `SELECT lr.person_id FROM linkage_record lr JOIN source_record sr ON sr.id = lr.source_record_id WHERE sr.record_id = 'LOG-0'`,
    );
    const q = `lastName=${people[0].lastName}&firstName=${people[0].firstName}&dateOfBirth=${people[0].dateOfBirth}`;
    expect(await req(port, 'GET', `/api/v1/persons/search?${q}`, read(steward, 'data_quality'))).toBe(200);
    expect(await req(port, 'GET', `/api/v1/persons/search?${q}`, read(planner, 'data_quality'))).toBe(403);
    expect(await req(port, 'GET', `/api/v1/persons/search?lastName=${people[1].lastName}&dateOfBirth=not-a-date-${people[1].ssn}`, read(steward, 'data_quality'))).toBe(400);
    expect(await req(port, 'GET', `/api/v1/persons/${id}`, read(planner, 'discharge_planning'))).toBe(200);
    expect(await req(port, 'GET', `/api/v1/persons/${id}`, read(steward, 'data_quality'))).toBe(200);
    expect(await req(port, 'GET', `/api/v1/familiar-faces?q=${people[1].lastName}`, read(planner, 'care_coordination'))).toBe(200);
    expect(await req(port, 'GET', '/api/v1/custody/releases', read(planner, 'discharge_planning'))).toBe(200);
    expect(await req(port, 'GET', '/api/v1/familiar-faces/stream', read(planner, 'care_coordination'))).toBe(200);
    expect(await req(port, 'GET', `/api/v1/persons/${id}`, { Authorization: `Bearer ${people[2].ssn}` })).toBe(401);

    child.kill('SIGTERM');
    await new Promise<void>((r) => (child!.exitCode !== null ? r() : child!.once('exit', () => r())));

    // The capture works: request logs, the failed applies and the 400s are there.
    expect(output).toContain('/api/v1/persons/search');
    expect(output).toContain('apply failed');
    expect(output).toContain('"statusCode":400');
    const leaks = secrets.filter((s) => output.includes(s));
    expect(leaks).toEqual([]);
  }, 240_000);
});
