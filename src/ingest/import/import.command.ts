import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { withApp } from '../../app/cli-context';
import { describeBackfill, parseThen, runBackfill } from './backfill.command';
import { BACKFILL_CHUNK_DEFAULT, BACKFILL_CHUNK_MAX } from './backfill.service';
import { EventImportService, IMPORT_BATCH_MAX, type ImportProgress, type ImportSummary } from './event-import.service';
import type { ImportFormat } from './event-file.reader';

interface ImportCliOptions {
  source: string;
  format?: ImportFormat;
  rejects?: string;
  wait?: boolean;
  waitTimeout?: number;
  batchSize: number;
  json?: boolean;
}

const LINE_EVERY_MS = 5000;

function positiveInt(max?: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || (max !== undefined && n > max)) {
      throw new InvalidArgumentError(max ? `must be a whole number 1-${max}` : 'must be a whole number of at least 1');
    }
    return n;
  };
}

/** A bar on a terminal; otherwise one line every few seconds. Counts only, never row content. */
class ProgressView {
  private bar?: SingleBar;
  private barPhase?: ImportProgress['phase'];
  private lastLine = Date.now(); // first line after LINE_EVERY_MS: short imports print only the summary
  private announcedWait = false;
  private readonly tty = process.stderr.isTTY === true;
  private readonly began = Date.now();

  update(p: ImportProgress): void {
    const rate = Math.round(p.rows / Math.max((Date.now() - this.began) / 1000, 0.001));
    if (p.phase === 'waiting' && !this.announcedWait) {
      this.announcedWait = true;
      this.stopBar();
      process.stderr.write(`waiting for workers to apply ${p.tracked} events (the import only queues them; a worker must be running: npm run start:worker)\n`);
    }
    if (this.tty) {
      if (this.barPhase !== p.phase) {
        this.stopBar();
        this.barPhase = p.phase;
        this.bar = new SingleBar({
          stream: process.stderr,
          hideCursor: true,
          format: p.phase === 'reading'
            ? 'importing |{bar}| {percentage}% | {rows} rows | {rate} rows/s | accepted {accepted} duplicate {duplicate} rejected {rejected}'
            : 'applying  |{bar}| {percentage}% | {value}/{total} applied | dead-lettered {dead}',
        });
        this.bar.start(p.phase === 'reading' ? Math.max(p.totalBytes, 1) : Math.max(p.tracked, 1), 0, {
          rows: 0, rate: 0, accepted: 0, duplicate: 0, rejected: 0, dead: 0,
        });
      }
      if (p.phase === 'reading') {
        this.bar?.update(p.bytes, { rows: p.rows, rate, accepted: p.accepted, duplicate: p.duplicate, rejected: p.rejected });
      } else {
        this.bar?.setTotal(Math.max(p.tracked, 1));
        this.bar?.update(p.applied + p.deadLettered, { dead: p.deadLettered });
      }
      return;
    }
    if (Date.now() - this.lastLine < LINE_EVERY_MS) return;
    this.lastLine = Date.now();
    process.stderr.write(
      p.phase === 'reading'
        ? `import: ${p.rows} rows (${rate} rows/s), ${p.accepted} accepted, ${p.duplicate} duplicate, ${p.rejected} rejected\n`
        : `import: ${p.applied}/${p.tracked} applied, ${p.deadLettered} dead-lettered\n`,
    );
  }

  stopBar(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.barPhase = undefined;
  }
}

/** Import failed as a whole only for these; rejected rows alone are not a failure. */
export function importFailed(s: ImportSummary): boolean {
  return s.readStoppedAtLine !== undefined || (s.deadLettered ?? 0) > 0 || s.waitTimedOut === true;
}

export function describeImport(s: ImportSummary): string {
  const out = [
    `imported ${s.file} for source ${s.source} (${s.format}): ${s.rows} rows in ${(s.elapsedMs / 1000).toFixed(1)} s (${s.rowsPerSecond} rows/s)`,
    `  accepted ${s.accepted}, duplicate ${s.duplicate}, rejected ${s.rejected}${s.warnings ? `, accepted with warnings ${s.warnings}` : ''}`,
  ];
  if (s.rejectsFile) out.push(`  rejected rows (line numbers and errors): ${s.rejectsFile}`);
  if (s.readStoppedAtLine !== undefined) out.push(`  reading stopped at line ${s.readStoppedAtLine}: the rows after it were not imported (see the rejects file)`);
  if (s.applied !== undefined) {
    out.push(`  applied ${s.applied}, dead-lettered ${s.deadLettered ?? 0}, pending ${s.pending ?? 0} (waited ${((s.waitedMs ?? 0) / 1000).toFixed(1)} s)`);
    if (s.deadLettered) out.push(`  FAILED: ${s.deadLettered} events were dead-lettered; see 'ingest status', fix the cause, then 'ingest retry --source ${s.source}'`);
    if (s.waitTimedOut) out.push(`  FAILED: gave up waiting with ${s.pending} events not yet applied (they stay queued)`);
  }
  return out.join('\n');
}

export function registerImportCommand(program: Command): void {
  program
    .command('import <file>')
    .description('bulk-import events from an NDJSON or CSV file through the inbox (see docs/import.md)')
    .requiredOption('--source <code>', 'the source the events come from')
    .addOption(new Option('--format <format>', 'file format (default: from the extension .ndjson/.jsonl/.csv)').choices(['ndjson', 'csv']))
    .option('--rejects <path>', 'where to write rejected rows (default: <file>.rejects.ndjson)')
    .option('--wait', 'return only when every row of the file is applied by the workers')
    .option('--wait-timeout <seconds>', 'with --wait: give up after this long (exit 1)', positiveInt())
    .option('--batch-size <n>', `events per inbox commit (1-${IMPORT_BATCH_MAX})`, positiveInt(IMPORT_BATCH_MAX), IMPORT_BATCH_MAX)
    .option('--json', 'print the summary as JSON (last line)')
    .option('--backfill', 'apply and link the file in bulk in this process instead of queueing it (no worker may run; see docs/import.md)')
    .option('--chunk-size <n>', `with --backfill: events per transaction (1-${BACKFILL_CHUNK_MAX}, default ${BACKFILL_CHUNK_DEFAULT})`, positiveInt(BACKFILL_CHUNK_MAX))
    .option('--then <source=file>', 'with --backfill: then this source\'s file in the same run, the linked base loaded once (repeatable, in order)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (file: string, o: ImportCliOptions & { backfill?: boolean; chunkSize?: number; then: string[] }) => {
      if (o.then.length > 0 && !o.backfill) throw new InvalidArgumentError('--then needs --backfill');
      if (o.backfill) {
        if (o.wait) throw new InvalidArgumentError('--wait does not apply to --backfill (it returns when every row is applied)');
        if (o.rejects && o.then.length > 0) throw new InvalidArgumentError('--rejects names one file: with --then, each file\'s rejected rows go to <file>.rejects.ndjson');
        const files = [{ source: o.source, file, rejectsPath: o.rejects }, ...parseThen(o.then)].map((f) => ({ ...f, format: o.format }));
        const summaries = await runBackfill(files, o);
        // One summary per file; with --json one line each, in file order.
        process.stdout.write(`${summaries.map((s) => (o.json ? JSON.stringify(s) : describeBackfill(s))).join('\n')}\n`);
        if (summaries.length < files.length) {
          process.stderr.write(`backfill stopped after ${files[summaries.length - 1].file}: not backfilled: ${files.slice(summaries.length).map((f) => f.file).join(', ')}\n`);
        }
        if (summaries.some((s) => s.readStoppedAtLine !== undefined)) process.exitCode = 1;
        return;
      }
      const view = new ProgressView();
      const summary = await withApp(async (app) => {
        try {
          return await app.get(EventImportService).importFile({
            file, source: o.source, format: o.format, rejectsPath: o.rejects, wait: o.wait,
            waitTimeoutMs: o.waitTimeout === undefined ? undefined : o.waitTimeout * 1000,
            batchSize: o.batchSize, onProgress: (p) => view.update(p),
          });
        } finally {
          view.stopBar();
        }
      }, true);
      process.stdout.write(`${o.json ? JSON.stringify(summary) : describeImport(summary)}\n`);
      if (importFailed(summary)) process.exitCode = 1;
    });
}
