import { getQueueToken } from '@nestjs/bullmq';
import type { INestApplicationContext } from '@nestjs/common';
import { InvalidArgumentError } from 'commander';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { withApp } from '../../app/cli-context';
import { AuditService } from '../../audit/audit.service';
import { ModelStoreService } from '../../linkage/model-store.service';
import { ProjectionService } from '../../persons/projection.service';
import { RefoldBatcher } from '../../persons/refold.batcher';
import { InboxService } from '../inbox.service';
import { INGEST_QUEUE, type ApplyJobData } from '../ingest.queue';
import { BackfillService, type BackfillFile, type BackfillProgress, type BackfillSummary } from './backfill.service';
import { EventImportService, type ImportProgress } from './event-import.service';
import type { ImportFormat } from './event-file.reader';

export interface BackfillCliOptions {
  source: string;
  format?: ImportFormat;
  rejects?: string;
  batchSize: number;
  chunkSize?: number;
  json?: boolean;
}

const LINE_EVERY_MS = 5000;

/** The backfill from the CLI's Nest context (it is only ever run there). */
export function backfillService(app: INestApplicationContext): BackfillService {
  return new BackfillService(
    app.get(DataSource), app.get(EventImportService), app.get(InboxService), app.get(AuditService), app.get(ModelStoreService),
    app.get(ProjectionService), app.get(RefoldBatcher), app.get<Queue<ApplyJobData>>(getQueueToken(INGEST_QUEUE)),
  );
}

/** One status line per phase: rewritten in place on a terminal, every few seconds otherwise. Counts only. */
class BackfillView {
  private readonly tty = process.stderr.isTTY === true;
  private readonly began = Date.now();
  private last = 0;
  private phase?: string;
  private label = '';

  file(f: BackfillFile, index: number, files: number): void {
    this.label = files > 1 ? ` [${index + 1}/${files} ${f.source}]` : '';
  }

  accept(p: ImportProgress): void {
    const rate = Math.round(p.rows / Math.max((Date.now() - this.began) / 1000, 0.001));
    const pct = p.totalBytes ? Math.floor((100 * p.bytes) / p.totalBytes) : 100;
    this.show(`${this.label}:accept`, `backfill${this.label} 1/3 accept: ${pct}% | ${p.rows} rows | ${rate} rows/s | accepted ${p.accepted} duplicate ${p.duplicate} rejected ${p.rejected}`);
  }

  backfill(p: BackfillProgress): void {
    const rate = Math.round(p.done / Math.max(p.elapsedMs / 1000, 0.001));
    if (p.phase === 'refold') {
      this.show('refold', `backfill refold (read model): ${p.done}/${p.total} persons | ${rate} persons/s`);
      return;
    }
    this.show(`${p.source}:${p.phase}`, p.phase === 'seed'
      ? `backfill${this.label} 2/3 load linked base: ${p.done}/${p.total} records`
      : `backfill${this.label} 3/3 apply+link: ${p.done}/${p.total} events | ${rate} events/s | ${p.records} records, ${p.linked} linked, ${p.persons} new persons`);
  }

  private show(phase: string, line: string): void {
    if (this.tty) {
      if (this.phase && this.phase !== phase) process.stderr.write('\n');
      this.phase = phase;
      process.stderr.write(`\r${line}\u001b[K`);
      return;
    }
    if (this.phase === phase && Date.now() - this.last < LINE_EVERY_MS) return;
    this.phase = phase;
    this.last = Date.now();
    process.stderr.write(`${line}\n`);
  }

  end(): void {
    if (this.tty && this.phase) process.stderr.write('\n');
  }
}

export function describeBackfill(s: BackfillSummary): string {
  const b = s.backfill;
  const rate = (n: number, ms: number): number => Math.round(n / Math.max(ms / 1000, 0.001));
  const out = [
    `backfilled ${s.file} for source ${s.source} (${s.format}): ${s.rows} rows`,
    `  accept: ${(b.phasesMs.accept / 1000).toFixed(1)} s (${s.rowsPerSecond} rows/s): accepted ${s.accepted}, duplicate ${s.duplicate}, rejected ${s.rejected}${s.warnings ? `, accepted with warnings ${s.warnings}` : ''}`,
    `  load linked base: ${(b.phasesMs.seed / 1000).toFixed(1)} s (${b.seededRecords} records, model ${b.modelVersion})`,
    `  apply+link: ${(b.phasesMs.apply / 1000).toFixed(1)} s (${rate(b.applied, b.phasesMs.apply)} events/s): applied ${b.applied} events, linked ${b.linked} records, ${b.newPersons} new persons, ${b.reviewTasks} review tasks, ${b.refolded} persons touched in ${b.chunks} chunks`,
  ];
  if (b.runRefold) out.push(`  refold (read model, once per person for the whole run): ${(b.runRefold.ms / 1000).toFixed(1)} s, ${b.runRefold.persons} persons`);
  if (s.rejectsFile) out.push(`  rejected rows (line numbers and errors): ${s.rejectsFile}`);
  if (s.readStoppedAtLine !== undefined) out.push(`  reading stopped at line ${s.readStoppedAtLine}: the rows after it were not imported (see the rejects file)`);
  return out.join('\n');
}

/** `--then source=file` pairs, checked before anything runs. */
export function parseThen(pairs: readonly string[]): BackfillFile[] {
  return pairs.map((v) => {
    const at = v.indexOf('=');
    if (at <= 0 || at === v.length - 1) throw new InvalidArgumentError(`--then ${v}: expected <source>=<file>, e.g. --then probation=probation.ndjson`);
    return { source: v.slice(0, at), file: v.slice(at + 1) };
  });
}

/** The files in order: the first from `--source` and the argument, then each `--then` pair (format from the extension). */
export async function runBackfill(files: readonly BackfillFile[], o: Omit<BackfillCliOptions, 'source'>): Promise<BackfillSummary[]> {
  const view = new BackfillView();
  try {
    return await withApp((app) =>
      backfillService(app).runFiles(files, {
        batchSize: o.batchSize, chunkSize: o.chunkSize,
        onFile: (f, i, n) => view.file(f, i, n), onProgress: (p) => view.accept(p), onBackfillProgress: (p) => view.backfill(p),
      }), true);
  } finally {
    view.end();
  }
}
