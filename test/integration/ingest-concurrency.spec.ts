import { TestStack, waitFor } from '../support/stack';

const RECORDS = 30;
const EVENTS = 600;

/** Deterministic shuffle (mulberry32) so a failure can be replayed. */
function shuffle<T>(items: T[], seed = 42): T[] {
  let a = seed;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Two worker processes' worth of consumers on one queue: every event takes effect exactly once. */
describe('ingest with two concurrent workers', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0, env: { WORKER_CONCURRENCY: '8', DB_POOL_SIZE: '12' } });
  });
  afterAll(async () => stack?.close());

  it('applies 600 shuffled events over 30 records once each, newest demographics winning', async () => {
    const key = await stack.createSource('conc-src', 'jail');
    const base = Date.parse('2025-06-01T00:00:00Z');
    // Event i belongs to record i % 50 and happened at minute i; names repeat so some events
    // carry demographics the record already has.
    const events = shuffle(
      Array.from({ length: EVENTS }, (_, i) => ({
        eventId: `c-${i}`,
        type: 'service',
        occurredAt: new Date(base + i * 60_000).toISOString(),
        subject: { recordId: `CR-${i % RECORDS}`, firstName: 'Sam', lastName: `Name${Math.floor(i / RECORDS) % 7}`, dateOfBirth: '1990-05-06' },
        details: { serviceType: 'visit' },
      })),
    );
    // Queue everything first, then let both workers race for it.
    for (let i = 0; i < EVENTS; i += 1000) {
      const res = await stack.sendEvents(key, events.slice(i, i + 1000));
      expect(res.status).toBe(202);
    }
    await stack.startWorker();
    await stack.startWorker();

    await waitFor(async () => {
      const [r] = await stack.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event WHERE applied_at IS NULL`);
      return Number(r.n) === 0;
    }, 170_000, 'every event applied');

    // Exactly one record_event per inbox event, no failed attempts.
    const [counts] = await stack.query<{ inbox: string; events: string; distinct_inbox: string; failed: string }>(
      `SELECT (SELECT count(*) FROM inbox_event) AS inbox,
              (SELECT count(*) FROM record_event) AS events,
              (SELECT count(DISTINCT inbox_event_id) FROM record_event) AS distinct_inbox,
              (SELECT count(*) FROM inbox_event WHERE attempts > 0 OR dead_lettered_at IS NOT NULL) AS failed`,
    );
    expect(counts).toEqual({ inbox: String(EVENTS), events: String(EVENTS), distinct_inbox: String(EVENTS), failed: '0' });
    const events2 = await stack.query<{ ok: boolean }>(
      `SELECT bool_and(re.occurred_at = e.occurred_at AND sr.record_id = e.record_id) AS ok
         FROM record_event re JOIN inbox_event e ON e.id = re.inbox_event_id JOIN source_record sr ON sr.id = re.source_record_id`,
    );
    expect(events2[0].ok).toBe(true);

    // Versions per record are 1..n, each from a distinct inbox event, and the record's version is n.
    const versions = await stack.query<{ record_id: string; version: number; versions: number[]; from_distinct: boolean }>(
      `SELECT sr.record_id, sr.version, array_agg(v.version ORDER BY v.version) AS versions,
              count(DISTINCT v.inbox_event_id) = count(*) AS from_distinct
         FROM source_record sr JOIN source_record_version v ON v.source_record_id = sr.id
        GROUP BY sr.id ORDER BY sr.record_id`,
    );
    expect(versions).toHaveLength(RECORDS);
    for (const v of versions) {
      expect({ record: v.record_id, versions: v.versions, distinct: v.from_distinct }).toEqual({
        record: v.record_id, versions: Array.from({ length: v.version }, (_, i) => i + 1), distinct: true,
      });
    }

    // Each record carries the demographics of its latest event.
    const latest = await stack.query<{ record_id: string; current: string; expected: string; as_of: Date; max_at: Date }>(
      `SELECT sr.record_id, sr.demographics->>'lastName' AS current, last.payload->'subject'->>'lastName' AS expected,
              sr.demographics_as_of AS as_of, last.occurred_at AS max_at
         FROM source_record sr
         JOIN LATERAL (SELECT payload, occurred_at FROM inbox_event e
                        WHERE e.source_id = sr.source_id AND e.record_id = sr.record_id
                        ORDER BY occurred_at DESC LIMIT 1) last ON true
        ORDER BY sr.record_id`,
    );
    expect(latest).toHaveLength(RECORDS);
    for (const r of latest) {
      expect({ record: r.record_id, lastName: r.current, asOf: r.as_of.toISOString() }).toEqual({
        record: r.record_id, lastName: r.expected, asOf: r.max_at.toISOString(),
      });
    }
  });
});
