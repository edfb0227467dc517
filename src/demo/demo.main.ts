import 'reflect-metadata';
import { LocalIssuerService } from '../access/local-issuer.service';
import { createHttpApp, runMain } from '../app/bootstrap';
import { checkPostgres, checkRedis } from '../app/preflight';
import { migrate } from '../database/data-source';
import { IngestStatusService } from '../ingest/ingest-status.service';
import { PartnersService } from '../partners/partners.service';
import { DEMO_SOURCES, demoEvents } from './demo-population';

// The terminal shows the demo's progress and where to look; per-request logs would bury both.
// Set LOG_LEVEL=info to see them.
process.env.LOG_LEVEL ??= 'warn';
const PERSONS = Number(process.env.DEMO_PERSONS ?? 2000);
const ONCE = process.argv.includes('--once');

/**
 * `npm run demo`: migrate, start api + worker in one process, register the five partner
 * sources, stream a synthetic county through the public ingest API, then say where to look.
 */
runMain('migrate', async (cfg) => {
  await checkPostgres(cfg, false);
  await checkRedis(cfg);
  const applied = await migrate(cfg);
  if (applied.length) process.stderr.write(`demo: applied ${applied.length} migration(s)\n`);
  const app = await createHttpApp('all');
  await app.listen(cfg.PORT, '127.0.0.1');
  const base = `http://127.0.0.1:${cfg.PORT}`;
  const partners = app.get(PartnersService);

  const keys = new Map<string, string>();
  const existing = new Set((await partners.listSources()).map((s) => s.code));
  for (const s of DEMO_SOURCES) {
    // A re-run cannot read old keys back (only digests are kept), so it rotates them.
    const res = existing.has(s.code)
      ? await partners.rotateKey(s.code)
      : await partners.createSource({ code: s.code, name: s.name, kind: s.kind, part2: s.part2 });
    keys.set(s.code, res.apiKey);
  }

  const bySource = demoEvents(PERSONS);
  let sent = 0;
  const total = [...bySource.values()].reduce((n, e) => n + e.length, 0);
  const started = Date.now();
  for (const [code, events] of bySource) {
    for (let i = 0; i < events.length; i += 500) {
      const res = await fetch(`${base}/api/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.get(code)}` },
        body: JSON.stringify({ events: events.slice(i, i + 500) }),
      });
      if (res.status !== 202) throw new Error(`demo: ingest answered ${res.status} for ${code}`);
      const body = (await res.json()) as { results: { status: string; errors: { path: string; message: string }[] }[] };
      const bad = body.results.filter((r) => r.status === 'rejected');
      if (bad.length) throw new Error(`demo: ${bad.length} events rejected, e.g. ${JSON.stringify(bad[0].errors)}`);
      sent += Math.min(500, events.length - i);
      process.stderr.write(`\rdemo: sent ${sent}/${total} events`);
    }
  }
  const status = app.get(IngestStatusService);
  for (;;) {
    const s = await status.status();
    process.stderr.write(`\rdemo: sent ${sent}/${total} events, applied ${s.processed}, pending ${s.pending}, persons to refold ${s.refoldsPending}   `);
    // The list is ready once the refold after the last apply committed too.
    if (s.pending === 0 && s.refoldsPending === 0) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  process.stderr.write(`\ndemo: ${total} events from ${DEMO_SOURCES.length} partner sources in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  const issuer = app.get(LocalIssuerService);
  const admin = await issuer.mint({ sub: 'demo-admin', agency: 'county-jail', roles: ['admin'], ttlSeconds: 8 * 3600 });
  const planner = await issuer.mint({ sub: 'demo-planner', agency: 'county-jail', roles: ['discharge_planner'], ttlSeconds: 8 * 3600 });
  const asPlanner = `-H "Authorization: Bearer $PLANNER_TOKEN" -H "X-Purpose-Of-Use: discharge_planning"`;
  process.stdout.write(
    [
      '',
      `Familiar Faces is running at ${base}`,
      `  API docs (OpenAPI):      ${base}/api/docs`,
      `  readiness:               ${base}/health/ready`,
      `  familiar faces:          curl ${asPlanner} '${base}/api/v1/familiar-faces?limit=10'`,
      `  leaving custody (7 d):   curl ${asPlanner} '${base}/api/v1/custody/releases?withinDays=7'`,
      `  live updates (SSE):      curl -N ${asPlanner} ${base}/api/v1/familiar-faces/stream`,
      `  ingest status (admin):   curl -H "Authorization: Bearer $ADMIN_TOKEN" ${base}/api/v1/ingest/status`,
      '',
      `PLANNER_TOKEN=${planner}`,
      `ADMIN_TOKEN=${admin}`,
      `County jail source key (send events as the jail): ${keys.get('county-jail')}`,
      '',
      ONCE ? 'demo: --once given, stopping.' : 'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  if (ONCE) await app.close();
  return app;
});
