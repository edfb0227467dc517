// Repeat probes against a base kept by `npm run bench:linkage -- --scale --keep`: links 1,000 new
// records one at a time with the compiled RecordLinkerService (own transaction, commit included),
// 70% a second record of a base person, 30% a person not in the base, as the scale phase does.
// Each run takes other persons (RUN), so earlier probes do not meet their own copies.
// Run: DATABASE_URL=postgres://.../ff_benchlink_<stamp>_scale BENCH_DIST=dist RUN=1 \
//      npx ts-node --transpile-only bench/linkage-reuse.ts
import 'reflect-metadata';
import * as os from 'node:os';
import { Client } from 'pg';
import { generatePopulation, type GeneratedRecord } from '../src/linkage/engine/population.generate';
import { seededRng } from '../src/linkage/engine/random.seed';
import { InProcess, insertSourceRecords } from './linkage-inproc';
import { BASE_DB, assertLocal, log, Snapshot } from './linkage-stack';

const RUN = Number(process.env.RUN ?? 1);
const PROBES = Number(process.env.PROBES ?? 1000);

async function main(): Promise<void> {
  assertLocal(BASE_DB, 'DATABASE_URL');
  const pg = new Client({ connectionString: BASE_DB });
  await pg.connect();
  const snap = new Snapshot();
  try {
    const src = (await pg.query<{ id: string }>(`SELECT id FROM source WHERE code = 'scale-probe'`)).rows[0]?.id;
    if (!src) throw new Error('not a kept scale database (no scale-probe source)');
    const persons = Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM person`)).rows[0].n);
    // Base chunks are seeds 5000 + c with 20,000 persons each; chunk RUN + 10 is in any base of 300k+.
    const chunk = persons >= 300_000 ? 10 + RUN : 0;
    const byPerson = new Map<string, GeneratedRecord[]>();
    for (const g of generatePopulation({ seed: 5000 + chunk, persons: 20_000 })) byPerson.set(g.personId, [...(byPerson.get(g.personId) ?? []), g]);
    const rng = seededRng(1000 + RUN);
    const seconds = [...byPerson.values()].filter((l) => l.length >= 2).map((l) => l[1].record);
    const matches = seconds.filter((_, i) => i % 7 === RUN % 7).slice(0, Math.round(PROBES * 0.7));
    const seen = new Set<string>();
    const fresh = generatePopulation({ seed: 99_999 + 1000 * RUN, persons: PROBES })
      .filter((g) => (seen.has(g.personId) ? false : (seen.add(g.personId), true)))
      .map((g) => g.record)
      .slice(0, PROBES - matches.length);
    const all = [...matches, ...fresh];
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [all[i], all[j]] = [all[j], all[i]];
    }
    const probes = all.map((r, i) => {
      const { id: _id, ...demographics } = r;
      return { recordId: `u${Date.now()}-${i}`, demographics };
    });
    const ids = await insertSourceRecords(pg, src, probes);
    const inproc = await InProcess.open(snap, BASE_DB);
    try {
      const t = await inproc.timeLinks(ids.map((id, i) => ({ sourceRecordId: id, demographics: probes[i].demographics })));
      log(`base ${persons.toLocaleString('en-US')} persons, run ${RUN}: p50 ${t.p50.toFixed(1)} ms, p99 ${t.p99.toFixed(1)} ms, mean ${t.mean.toFixed(1)} ms ${JSON.stringify(t.actions)}; load ${os.loadavg()[0].toFixed(1)}`);
    } finally {
      await inproc.close();
    }
  } finally {
    snap.remove();
    await pg.end();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
