// What person search's candidate rule keeps and drops (docs/familiar-faces.md, "Search"): for the
// bench:api lookups on a kept bench:api database, the records every shared key reaches (the rule
// before 2026-12-03) against the linker's candidate rule over the probe's search keys (now), each
// scored with the default model. Run:
//   BENCH_KEEP_DB=1 npm run bench:api   (prints "kept database <name>")
//   DATABASE_URL=postgres://.../<name> npx ts-node --transpile-only bench/search-candidates.ts [lookups]
import { Client } from 'pg';
import { blockingKeys, DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY, searchKeys } from '../src/linkage/engine/blocking.rules';
import { defaultModel } from '../src/linkage/engine/model.params';
import { scorePair } from '../src/linkage/engine/model.score';
import { normaliseRecord } from '../src/linkage/engine/record.normalise';
import type { NormalisedRecord } from '../src/linkage/engine/record.types';

const HITS = `WITH hits AS (
  SELECT k.key, b.source_record_id FROM unnest($1::text[]) AS k(key)
  CROSS JOIN LATERAL (SELECT source_record_id FROM blocking_key b WHERE b.key = k.key LIMIT $2::integer + 1) b
), sizes AS (SELECT key, count(*) AS records FROM hits GROUP BY key HAVING count(*) <= $2::integer)`;
const ANY_KEY = `${HITS}, picked AS (SELECT DISTINCT source_record_id FROM hits JOIN sizes USING (key))
  SELECT lr.person_id, lr.normalised FROM picked JOIN linkage_record lr USING (source_record_id)`;
// The statement PersonQueryService.blockedRecords runs.
const RULE = `${HITS}, picked AS (SELECT h.source_record_id FROM hits h JOIN sizes s USING (key)
  GROUP BY h.source_record_id HAVING count(*) >= 2 OR min(s.records) <= $3::integer)
  SELECT lr.person_id, lr.normalised FROM picked JOIN linkage_record lr USING (source_record_id)`;

interface Row {
  person_id: string;
  normalised: NormalisedRecord;
}

async function main(): Promise<void> {
  const lookups = Number(process.argv[2] ?? 400);
  const pg = new Client({ connectionString: process.env.DATABASE_URL });
  await pg.connect();
  const meta = await pg.query<{ v: { searches: string[] } }>(`SELECT v FROM bench_meta WHERE k = 'loaded'`);
  const model = defaultModel();
  const best = (probe: NormalisedRecord, rows: Row[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(r.person_id, Math.max(m.get(r.person_id) ?? 0, scorePair(model, probe, r.normalised).probability));
    return m;
  };
  const t = { n: 0, recordsBefore: 0, recordsNow: 0, strongBefore: 0, dropped: 0, gained: 0 };
  for (const s of meta.rows[0].v.searches.slice(0, lookups)) {
    const q = new URLSearchParams(s);
    const probe = normaliseRecord({ id: 'query', firstName: q.get('firstName') ?? '', lastName: q.get('lastName') ?? '', dateOfBirth: q.get('dateOfBirth') ?? undefined });
    const before = (await pg.query<Row>(ANY_KEY, [blockingKeys(probe), DEFAULT_KEY_CAP])).rows;
    const now = (await pg.query<Row>(RULE, [searchKeys(probe), DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY])).rows;
    const a = best(probe, before);
    const b = best(probe, now);
    t.n += 1;
    t.recordsBefore += before.length;
    t.recordsNow += now.length;
    for (const [person, p] of a) if (p >= 0.5) { t.strongBefore += 1; if (!b.has(person)) t.dropped += 1; }
    for (const [person, p] of b) if (p >= 0.5 && !((a.get(person) ?? 0) >= 0.5)) t.gained += 1;
  }
  process.stdout.write(
    `${t.n} lookups: candidate records per lookup ${(t.recordsBefore / t.n).toFixed(1)} (any shared key) -> ${(t.recordsNow / t.n).toFixed(1)} (candidate rule over search keys); ` +
      `persons scoring >= 0.5: ${t.strongBefore} before, ${t.dropped} of them no longer candidates, ${t.gained} found only now\n`,
  );
  await pg.end();
}

main().catch((err: unknown) => {
  process.stderr.write(`search-candidates failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
