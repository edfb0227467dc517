import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { print, withApp } from '../app/cli-context';
import { currentAuditContext } from '../audit/audit.context';
import { AuditService } from '../audit/audit.service';
import { LinksService } from './links.service';
import { ModelStoreService } from './model-store.service';

function threshold(v: string, name: string): number {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new Error(`${name} must be a probability between 0 and 1`);
  return n;
}

export function registerLinkageCommands(program: Command): void {
  const links = program.command('links').description('record-to-person links');
  links
    .command('export')
    .description('TSV source<TAB>recordId<TAB>personId with a header, one row per source record')
    .action(async () => {
      await withApp(async (app) => {
        // Rows stream out as they are read: the entry (every person, so no ids) is committed first.
        // Link data serves linkage quality only: that is the purpose recorded.
        await app.get(AuditService).recordAlone({ ...currentAuditContext(), purpose: 'data_quality', action: 'links.export', resource: 'links', details: { scope: 'all' } });
        return app.get(LinksService).exportTsv((chunk) => process.stdout.write(chunk));
      });
    });
  links
    .command('explain')
    .description("a record's link decisions, newest first, with each field's contribution in bits")
    .requiredOption('--source <code>', 'source code')
    .requiredOption('--record <id>', "the source's record id")
    .option('--json', 'print JSON')
    .action(async (o: { source: string; record: string; json?: boolean }) => {
      const res = await withApp((app) =>
        app.get(AuditService).auditedRead(
          { ...currentAuditContext(), purpose: 'data_quality', action: 'links.explain.read', resource: `source/${o.source}/record/${o.record}` },
          async () => {
            const r = await app.get(LinksService).explain(o.source, o.record);
            const ids = r.decisions.flatMap((d) => [d.personId, ...(d.previousPersonId ? [d.previousPersonId] : [])]);
            return { result: r, personIds: [...new Set(ids)], details: { source: o.source, decisions: r.decisions.length } };
          },
        ),
      );
      if (o.json) return print(res, true);
      const lines = [`${res.source}:${res.recordId}${res.locked ? ' (link locked by a steward)' : ''}`];
      for (const d of res.decisions) {
        lines.push(`- ${d.decidedAt} ${d.action} -> person ${d.personId} (${d.reason}, p=${d.probability?.toFixed(4) ?? 'n/a'}, ${d.actor}, model ${d.modelVersion})`);
        const best = (d.explanation as { bestMatch?: { lines?: string[] } }).bestMatch;
        for (const l of best?.lines ?? []) lines.push(`    ${l}`);
      }
      print(lines.join('\n'), false);
    });

  const model = program.command('model').description('linkage models (Fellegi-Sunter, trained by EM without labels)');
  model
    .command('train')
    .description('fit a model from the current records and store it (inactive)')
    .option('--sample <n>', 'records to train on', '50000')
    .option('--seed <n>', 'random seed', '1')
    .option('--upper <p>', 'link threshold (probability)')
    .option('--lower <p>', 'review threshold (probability)')
    .option('--activate', 'activate it once trained')
    .option('--json', 'print JSON')
    .action(async (o: { sample: string; seed: string; upper?: string; lower?: string; activate?: boolean; json?: boolean }) => {
      const thresholds = o.upper && o.lower ? { upper: threshold(o.upper, '--upper'), lower: threshold(o.lower, '--lower') } : undefined;
      const res = await withApp(async (app) => {
        const store = app.get(ModelStoreService);
        const audit = app.get(AuditService);
        // Each change commits with its audit entry or not at all.
        const trained = await store.train({ sample: Number(o.sample), seed: Number(o.seed), thresholds }, (em, m) =>
          audit.record(em, { ...currentAuditContext(), action: 'model.train', resource: `model/${m.version}`, details: { trainedOn: m.trainedOn, activate: !!o.activate } }));
        if (!o.activate) return trained;
        return store.activate(trained.version, (em) => audit.record(em, { ...currentAuditContext(), action: 'model.activate', resource: `model/${trained.version}` }));
      });
      print(res, !!o.json);
    });
  model
    .command('activate <version>')
    .option('--json', 'print JSON')
    .action(async (version: string, o: { json?: boolean }) =>
      print(
        await withApp(async (app) => {
          const store = app.get(ModelStoreService);
          // An unknown version is refused inside the transaction, before anything is recorded.
          return store.activate(version, (em) => app.get(AuditService).record(em, { ...currentAuditContext(), action: 'model.activate', resource: `model/${version}` }));
        }),
        !!o.json,
      ));
  model
    .command('list')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => print(await withApp((app) => app.get(ModelStoreService).list()), !!o.json));
  model
    .command('show [version]')
    .description('a model (default: the active one) with its m and u probabilities')
    .option('--json', 'print JSON')
    .action(async (version: string | undefined, o: { json?: boolean }) => print(await withApp((app) => app.get(ModelStoreService).show(version)), !!o.json));
  model
    .command('evaluate')
    .description('precision, recall and F1 of the current links and of the active model by threshold, from labelled pairs')
    .requiredOption('--labels <file>', 'TSV with a header: source:recordId<TAB>source:recordId<TAB>1|0')
    .option('--json', 'print JSON')
    .action(async (o: { labels: string; json?: boolean }) => {
      const text = readFileSync(o.labels, 'utf8');
      const res = await withApp((app) => app.get(LinksService).evaluate(text));
      if (o.json) return print(res, true);
      const pct = (x: number): string => x.toFixed(4);
      const lines = [
        `model ${res.modelVersion}, ${res.labelledPairs} labelled pairs${res.skipped.length ? `, ${res.skipped.length} skipped` : ''}`,
        `current links: precision ${pct(res.current.precision)} recall ${pct(res.current.recall)} F1 ${pct(res.current.f1)}`,
        'threshold  precision  recall  F1      matches',
        ...res.byThreshold.map((r) => `${r.threshold.toFixed(3).padEnd(10)} ${pct(r.precision)}     ${pct(r.recall)}  ${pct(r.f1)}  ${r.predictedMatches}`),
        `suggested: upper ${res.suggested.upper ?? 'none reaches precision 0.995'}, lower ${res.suggested.lower}`,
        ...res.skipped.map((s) => `skipped line ${s.line}: ${s.message}`),
      ];
      print(lines.join('\n'), false);
    });
}
