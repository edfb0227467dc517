import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Queue } from 'bullmq';
import { DataSource, type EntityManager } from 'typeorm';
import { currentAuditContext } from '../../audit/audit.context';
import { AuditService } from '../../audit/audit.service';
import { preparedQuery } from '../../database/multi-statement.query';
import { ConflictError, NotFoundError, ValidationFailedError } from '../../errors/domain.error';
import { BulkLinker, type BulkLink } from '../../linkage/backfill.linker';
import type { ModelParams } from '../../linkage/engine/model.params';
import { writeBulkLinks } from '../../linkage/bulk-link.writer';
import { RecordScoringPool } from '../../linkage/record-scoring.pool';
import { ModelStoreService } from '../../linkage/model-store.service';
import { ProjectionService } from '../../persons/projection.service';
import { RefoldBatcher } from '../../persons/refold.batcher';
import { startWorkerThread } from '../../threads/worker-thread.factory';
import { acceptedEvent, contentHash, type ValidEvent } from '../event.contract';
import { InboxService } from '../inbox.service';
import type { ApplyJobData } from '../ingest.queue';
import type { AcceptThreadInput, AcceptThreadMessage } from './backfill-accept.thread';
import { formatFromName } from './event-file.reader';
import { EventImportService, type ImportOptions, type ImportProgress, type ImportSummary } from './event-import.service';

export const BACKFILL_CHUNK_DEFAULT = 2000;
/** Person and key locks of one chunk must fit PostgreSQL's shared lock table (64 per connection by default). */
export const BACKFILL_CHUNK_MAX = 5000;

export type BackfillPhase = 'accept' | 'seed' | 'apply' | 'refold';

export interface BackfillProgress {
  /** The source whose file is being backfilled. */
  source: string;
  phase: BackfillPhase;
  /** accept: the import's counts; seed: linked records loaded; apply: events applied; refold: persons refolded. */
  done: number;
  /** apply: pending events when the phase began; seed: linked records; refold: persons due. */
  total: number;
  records: number;
  linked: number;
  persons: number;
  elapsedMs: number;
}

export interface BackfillSummary extends ImportSummary {
  backfill: {
    /** Pending events of the source applied by this run (this file's and any left earlier). */
    applied: number;
    /** Source records (re)linked. */
    linked: number;
    /** Persons created. */
    newPersons: number;
    /** Persons this file's chunks touched, refolded once at the end of the run (a person touched by several files counts in each). */
    refolded: number;
    reviewTasks: number;
    chunks: number;
    seededRecords: number;
    modelVersion: string;
    /** accept: the accept phase's own time; acceptWait: how long the run waited for it (less when it ran in a thread while the file before linked). */
    phasesMs: { accept: number; acceptWait: number; seed: number; apply: number };
    /** On the run's last summary: the read model's refold of every person the run touched, each once. */
    runRefold?: { persons: number; ms: number };
  };
}

/** One source's file of a backfill run. */
export type BackfillFile = Pick<ImportOptions, 'file' | 'source' | 'format' | 'rejectsPath'>;

export type BackfillRunOptions = Omit<ImportOptions, 'file' | 'source' | 'rejectsPath' | 'wait' | 'waitTimeoutMs' | 'waitPollMs' | 'inbox'> & {
  chunkSize?: number;
  onBackfillProgress?: (p: BackfillProgress) => void;
  /** Before each file's accept phase (index from 0). */
  onFile?: (f: BackfillFile, index: number, files: number) => void;
};

/** Phase 1 of a backfill: the file into the inbox exactly as `import` puts it there, without queueing jobs. */
export function acceptWithoutQueueing(importer: EventImportService, inbox: InboxService, opts: Omit<ImportOptions, 'inbox' | 'wait'>): Promise<ImportSummary> {
  const quiet = Object.create(inbox) as InboxService;
  quiet.enqueue = (): Promise<void> => Promise.resolve();
  return importer.importFile({ ...opts, inbox: quiet, wait: false });
}

/**
 * The accept phase of a file in a worker thread (backfill-accept.thread.ts), with the caller's
 * audit context; `onProgress` gets its progress.
 */
function acceptInThread(f: BackfillFile, batchSize: number | undefined, onProgress: (p: ImportProgress) => void): Promise<ImportSummary> {
  const input: AcceptThreadInput = { file: f, batchSize, audit: currentAuditContext() };
  const worker = startWorkerThread(__dirname, 'backfill-accept.thread', __filename, input);
  return new Promise((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: AcceptThreadMessage) => {
      if ('progress' in m) onProgress(m.progress);
      else if ('summary' in m) { settled = true; resolve(m.summary); }
      else { settled = true; reject(new Error(`accepting ${f.file}: ${m.error}`)); }
    });
    worker.on('error', (err) => { settled = true; reject(err); });
    worker.on('exit', (code) => { if (!settled) reject(new Error(`accepting ${f.file}: the accept thread exited with code ${code}`)); });
  });
}

/** Progress at most every PROGRESS_EVERY_MS, unless forced. */
function progressTicker(source: string, on?: (p: BackfillProgress) => void) {
  let last = 0;
  return (p: Omit<BackfillProgress, 'source'>, force = false): void => {
    if (!on || (!force && Date.now() - last < PROGRESS_EVERY_MS)) return;
    last = Date.now();
    on({ ...p, source });
  };
}

type Demographics = Omit<ValidEvent['subject'], 'recordId'>;

interface PendingRow {
  id: string;
  source_id: string;
  record_id: string;
  payload: unknown;
}

interface RecordRow {
  id: string;
  record_id: string;
  demographics_hash: Buffer;
  demographics_as_of: Date;
  version: number;
}

interface PlannedEvent {
  inboxId: string;
  event: ValidEvent;
  occurred: Date;
  demographics: Demographics;
  hash: Buffer;
  version?: number;
}

interface RecordPlan {
  recordId: string;
  recId: string | null;
  hash: Buffer | null;
  asOf: Date | null;
  version: number;
  demographics: Demographics | null;
  changed: boolean;
  touched: boolean;
  asOfMoved: boolean;
  events: PlannedEvent[];
}

// The worker's batched apply (EventApplyService.applyBatch) writes the same rows with this shape.
const RECORD_WRITE_SQL = `
WITH ins AS (
  INSERT INTO source_record (source_id, record_id, demographics, demographics_hash, demographics_as_of, version)
  SELECT $1::uuid, * FROM unnest($2::text[], $3::jsonb[], $4::bytea[], $5::timestamptz[], $6::integer[])
  RETURNING id, record_id
), upd AS (
  UPDATE source_record sr
     SET demographics = COALESCE(u.dem, sr.demographics), demographics_hash = COALESCE(u.hash, sr.demographics_hash),
         demographics_as_of = u.as_of, version = u.version, updated_at = CASE WHEN u.touch THEN now() ELSE sr.updated_at END
    FROM unnest($7::bigint[], $8::jsonb[], $9::bytea[], $10::timestamptz[], $11::integer[], $12::boolean[]) AS u(id, dem, hash, as_of, version, touch)
   WHERE sr.id = u.id
), recs AS (
  SELECT id, record_id FROM ins
  UNION ALL
  SELECT * FROM unnest($13::bigint[], $14::text[]) AS x(id, record_id)
), ver AS (
  INSERT INTO source_record_version (source_record_id, version, demographics, demographics_hash, occurred_at, inbox_event_id)
  SELECT recs.id, v.version, v.dem, v.hash, v.occurred_at, v.inbox_id
    FROM unnest($15::text[], $16::integer[], $17::jsonb[], $18::bytea[], $19::timestamptz[], $20::bigint[])
         AS v(record_id, version, dem, hash, occurred_at, inbox_id)
    JOIN recs ON recs.record_id = v.record_id
), ev AS (
  INSERT INTO record_event (inbox_event_id, source_record_id, event_id, type, occurred_at, details)
  SELECT e.inbox_id, recs.id, i.event_id, e.type, e.occurred_at, e.details
    FROM unnest($21::bigint[], $22::text[], $23::text[], $24::timestamptz[], $25::jsonb[]) WITH ORDINALITY
         AS e(inbox_id, record_id, type, occurred_at, details, n)
    JOIN recs ON recs.record_id = e.record_id
    JOIN inbox_event i ON i.id = e.inbox_id
   ORDER BY e.n
), mark AS (
  UPDATE inbox_event SET applied_at = now(), last_error = NULL WHERE id = ANY($26::bigint[])
)
SELECT id::text AS id, record_id FROM ins`;

const PROGRESS_EVERY_MS = 500;
/** Records linked per write statement. */
const LINK_SLICE = 250;
/** The final refold: persons per transaction, and transactions at a time. */
const REFOLD_BATCH = 1000;
const REFOLD_LANES = 2;

/**
 * `import --backfill`: the file goes into the inbox exactly as `import` puts it there (same
 * validation, de-duplication, rejects file and audit), but no job is queued; the pending events of
 * the source are then applied in chunks, each chunk in one transaction: the source records and
 * events as the worker's apply stores them, the changed records linked one by one in order by the
 * in-memory BulkLinker (the service's steps over a copy of the linked base), the decisions, links,
 * keys, persons and review tasks written with set-based statements, the touched persons recorded
 * as due, one audit entry, and the applied marks. After the last file, every touched person is
 * refolded once (refoldAll). A rerun skips applied rows. runFiles() takes
 * several sources' files in one run: the base is loaded once, and each next file is accepted in a
 * worker thread while the one before links.
 *
 * Guard: it refuses to start, and stops between chunks, while a worker is connected to the ingest
 * queue, because live linking next to the in-memory copy would be racing it.
 */
export class BackfillService {
  constructor(
    private readonly db: DataSource,
    private readonly importer: EventImportService,
    private readonly inbox: InboxService,
    private readonly audit: AuditService,
    private readonly models: ModelStoreService,
    private readonly projection: ProjectionService,
    private readonly refolds: RefoldBatcher,
    private readonly queue: Queue<ApplyJobData>,
  ) {}

  /** Throws when a worker is connected to the ingest queue. */
  async assertNoWorkers(): Promise<void> {
    const workers = await this.queue.getWorkers();
    if (workers.length > 0) {
      throw new ConflictError(
        `${workers.length} worker(s) are connected to the ingest queue: stop them before a backfill (it links in bulk and must not race live linking); start them again afterwards`,
      );
    }
  }

  /**
   * One or several sources' files in one run, in order: each file is accepted and then applied,
   * the linked base loaded once, before the first apply, and carried from file to
   * file in memory (this process is the only linker), instead of being reloaded per file. The
   * result is what running them one by one gives. A file whose reading stopped ends the run after
   * its accepted rows are applied; fewer summaries than files then come back.
   */
  async runFiles(files: readonly BackfillFile[], opts: BackfillRunOptions): Promise<BackfillSummary[]> {
    const chunkSize = opts.chunkSize ?? BACKFILL_CHUNK_DEFAULT;
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > BACKFILL_CHUNK_MAX) throw new ValidationFailedError(`chunk size must be 1-${BACKFILL_CHUNK_MAX}`);
    if (files.length === 0) throw new ValidationFailedError('no file to backfill');
    await this.assertNoWorkers();
    await this.preflight(files, opts.format);
    const { onBackfillProgress, onFile, onProgress, chunkSize: _c, ...importOpts } = opts;
    let base: { linker: BulkLinker; pool: RecordScoringPool } | undefined;
    // Persons touched by any chunk: refolded once, after the last file (a person with records
    // in several files would otherwise be refolded once per file). Their due rows are committed
    // with each chunk, so a run that fails first leaves them to the workers' sweep.
    const due = new Set<string>();
    let foreground = 0;
    const out: BackfillSummary[] = [];
    // The next file's accept, in a worker thread while this file links (another source only: rows
    // of the source being applied would join its pass).
    let next: { index: number; done: Promise<ImportSummary> } | undefined;
    try {
      for (const [i, f] of files.entries()) {
        foreground = i;
        onFile?.(f, i, files.length);
        // Phase 1: the inbox, without queueing (this process applies the rows).
        const t0 = Date.now();
        const imported = next?.index === i
          ? await next.done
          : await acceptWithoutQueueing(this.importer, this.inbox, { ...importOpts, ...f, format: f.format ?? importOpts.format, onProgress });
        // In a thread: its own reading and committing time (it ran while the file before linked).
        const acceptMs = next?.index === i ? imported.elapsedMs : Date.now() - t0;
        next = undefined;
        const sum: BackfillSummary['backfill'] = {
          applied: 0, linked: 0, newPersons: 0, refolded: 0, reviewTasks: 0, chunks: 0, seededRecords: 0, modelVersion: '',
          phasesMs: { accept: acceptMs, acceptWait: Date.now() - t0, seed: 0, apply: 0 },
        };
        const [source] = await this.db.query<{ id: string }[]>(`SELECT id FROM source WHERE code = $1`, [f.source]);
        if (!source) throw new NotFoundError(`source ${f.source} not found`);
        // A file whose reading stopped (see its rejects file) ends the run after its accepted rows: the later files wait until it is fixed.
        const last = imported.readStoppedAtLine !== undefined || i === files.length - 1;
        const after = files[i + 1];
        if (!last && after.source !== f.source) {
          next = {
            index: i + 1,
            done: acceptInThread({ ...after, format: after.format ?? importOpts.format }, importOpts.batchSize, (p) => { if (foreground === i + 1) onProgress?.(p); }),
          };
          // Awaited when its turn comes (or below on failure): not an unhandled rejection meanwhile.
          next.done.catch(() => undefined);
        }
        const tick = progressTicker(f.source, onBackfillProgress);
        if (!base) {
          const t1 = Date.now();
          const model = await this.models.active();
          const pool = new RecordScoringPool({ model });
          // A live thread would keep the process from exiting: closed on failure here, else below.
          const linker = await this.loadBase(model, pool, (p, force) => tick({ ...p, elapsedMs: Date.now() - t1 }, force))
            .catch(async (err: unknown) => { await pool.close(); throw err; });
          base = { pool, linker };
          sum.seededRecords = base.linker.size;
          sum.phasesMs.seed = Date.now() - t1;
        }
        sum.modelVersion = base.linker.model.version;
        await this.applySource(source.id, f.source, chunkSize, base.linker, base.pool, sum, due, tick);
        out.push({ ...imported, backfill: sum });
        if (imported.readStoppedAtLine !== undefined) break;
      }
      if (out.length) {
        const last = out[out.length - 1];
        const t = Date.now();
        await this.refoldAll([...due], progressTicker(last.source, opts.onBackfillProgress));
        last.backfill.runRefold = { persons: due.size, ms: Date.now() - t };
      }
    } finally {
      // A failed run lets the accept in flight finish (its rows are accepted, as by an interrupted run).
      await next?.done.catch(() => undefined);
      await base?.pool.close();
    }
    return out;
  }

  /** Every source known and every file present, before anything is read. */
  private async preflight(files: readonly BackfillFile[], format: BackfillRunOptions['format']): Promise<void> {
    const codes = [...new Set(files.map((f) => f.source))];
    const known = new Set((await this.db.query<{ code: string }[]>(`SELECT code FROM source WHERE code = ANY($1::text[])`, [codes])).map((r) => r.code));
    const unknown = codes.filter((c) => !known.has(c));
    if (unknown.length) throw new NotFoundError(`source ${unknown.join(', ')} not found`);
    for (const f of files) {
      if (!(await stat(f.file).catch(() => null))?.isFile()) throw new NotFoundError(`file ${f.file} not found`);
      if (!(f.format ?? format ?? formatFromName(f.file))) throw new ValidationFailedError(`cannot tell the format of ${f.file} from its extension: give --format ndjson or --format csv`);
    }
  }

  /**
   * Phase 2: the linked base, name counts and steward constraints, into a new in-memory linker
   * that decides (no key index) and the pool's copy that scores.
   */
  private async loadBase(
    model: ModelParams, pool: RecordScoringPool, tick: (p: Omit<BackfillProgress, 'elapsedMs' | 'source'>, force?: boolean) => void,
  ): Promise<BulkLinker> {
    const linker = new BulkLinker(model, randomUUID, undefined, undefined, false);
    const [{ n: baseCount }] = await this.db.query<{ n: string }[]>(`SELECT count(*) AS n FROM linkage_record`);
    let after = '0';
    for (;;) {
      // The JSON as text: the deciding copy keeps it so, and the scoring thread parses its own.
      const rows = await this.db.query<{ id: string; person_id: string; normalised: string; locked: boolean }[]>(
        `SELECT source_record_id::text AS id, person_id::text AS person_id, normalised::text AS normalised, locked FROM linkage_record
          WHERE source_record_id > $1 ORDER BY source_record_id LIMIT 20000`,
        [after],
      );
      if (rows.length === 0) break;
      for (const r of rows) linker.seed(r.id, r.normalised, r.person_id, r.locked);
      await pool.seed(rows.map((r) => [r.id, r.normalised]));
      after = rows[rows.length - 1].id;
      tick({ phase: 'seed', done: linker.size, total: Number(baseCount), records: 0, linked: 0, persons: 0 });
    }
    const names = await this.db.query<{ field: string; value: string; records: number }[]>(`SELECT field, value, records FROM name_frequency`);
    linker.setNameCounts(names);
    await pool.setNameCounts(names);
    linker.setConstraints(await this.db.query(`SELECT kind, a, b FROM steward_constraint WHERE revoked_at IS NULL`));
    tick({ phase: 'seed', done: linker.size, total: Number(baseCount), records: 0, linked: 0, persons: 0 }, true);
    return linker;
  }

  /** Phase 3: the source's pending events in chunks, in inbox order; `due` gains each chunk's persons. */
  private async applySource(
    sourceId: string, sourceCode: string, chunkSize: number, linker: BulkLinker, pool: RecordScoringPool, sum: BackfillSummary['backfill'],
    due: Set<string>, tick: (p: Omit<BackfillProgress, 'source'>, force?: boolean) => void,
  ): Promise<void> {
    const t0 = Date.now();
    const [{ n: pendingCount }] = await this.db.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM inbox_event WHERE source_id = $1 AND applied_at IS NULL AND dead_lettered_at IS NULL`,
      [sourceId],
    );
    const progress = (force = false): void =>
      tick({ phase: 'apply', done: sum.applied, total: Number(pendingCount), records, linked: sum.linked, persons: sum.newPersons, elapsedMs: Date.now() - t0 }, force);
    let records = 0;
    let cursor = '0';
    for (;;) {
      await this.assertNoWorkers();
      const res = await this.db.transaction((em) => this.chunk(em, sourceId, sourceCode, cursor, chunkSize, linker, pool, sum));
      if (!res) break;
      cursor = res.lastId;
      records += res.records;
      sum.chunks += 1;
      for (const p of res.persons) due.add(p);
      progress();
    }
    progress(true);
    sum.phasesMs.apply = Date.now() - t0;
  }

  /**
   * Phase 4, once per run: the touched persons refolded through the projection, in transactions
   * of REFOLD_BATCH persons, REFOLD_LANES at a time on their own connections (disjoint persons, so
   * they do not wait on each other; one folds here while the other's statements run). Each
   * publishes its familiar-list changes after its commit. On a failure the other lane stops after
   * its transaction; the persons not refolded keep their due rows for the workers' sweep.
   */
  private async refoldAll(ids: readonly string[], tick: (p: Omit<BackfillProgress, 'source'>, force?: boolean) => void): Promise<void> {
    const t0 = Date.now();
    let next = 0;
    let done = 0;
    let failed = false;
    const progress = (force = false): void =>
      tick({ phase: 'refold', done, total: ids.length, records: 0, linked: 0, persons: 0, elapsedMs: Date.now() - t0 }, force);
    const lane = async (): Promise<void> => {
      while (!failed && next < ids.length) {
        const batch = ids.slice(next, next + REFOLD_BATCH);
        next += batch.length;
        try {
          await this.refolds.refoldNow(batch);
        } catch (err) {
          failed = true;
          throw err;
        }
        done += batch.length;
        progress();
      }
    };
    const lanes = await Promise.allSettled(Array.from({ length: REFOLD_LANES }, lane));
    const err = lanes.find((l) => l.status === 'rejected');
    if (err) throw err.reason;
    progress(true);
  }

  /**
   * One chunk in the caller's transaction. On failure the transaction rolls back and the run
   * stops (the in-memory copy is then ahead of the database, so it is not reused): rerunning
   * reloads it and carries on from the first unapplied row.
   */
  private async chunk(
    em: EntityManager, sourceId: string, sourceCode: string, after: string, size: number, linker: BulkLinker, pool: RecordScoringPool,
    sum: BackfillSummary['backfill'],
  ): Promise<{ lastId: string; records: number; persons: string[] } | null> {
    const rows = await preparedQuery<PendingRow>(
      em,
      `SELECT id::text AS id, source_id::text AS source_id, record_id, payload FROM inbox_event
        WHERE source_id = $1 AND applied_at IS NULL AND dead_lettered_at IS NULL AND id > $2::bigint
        ORDER BY inbox_event.id LIMIT $3::integer FOR UPDATE`,
      [sourceId, after, size],
    );
    if (rows.length === 0) return null;
    const recordIds = [...new Set(rows.map((r) => r.record_id))];
    const current = await preparedQuery<RecordRow>(
      em,
      `SELECT id::text AS id, record_id, demographics_hash, demographics_as_of, version FROM source_record
        WHERE source_id = $1 AND record_id = ANY($2::text[]) FOR UPDATE`,
      [sourceId, recordIds],
    );
    const plans = new Map<string, RecordPlan>();
    const byRecord = new Map(current.map((c) => [c.record_id, c]));
    for (const row of rows) {
      let plan = plans.get(row.record_id);
      if (!plan) {
        const c = byRecord.get(row.record_id);
        plan = {
          recordId: row.record_id, recId: c?.id ?? null, hash: c?.demographics_hash ?? null, asOf: c?.demographics_as_of ?? null,
          version: c?.version ?? 0, demographics: null, changed: false, touched: false, asOfMoved: false, events: [],
        };
        plans.set(row.record_id, plan);
      }
      const event = acceptedEvent(row.payload);
      const { recordId: _r, ...demographics } = event.subject;
      plan.events.push({ inboxId: row.id, event, occurred: new Date(event.occurredAt), demographics, hash: contentHash(demographics) });
    }

    // The apply rules of the worker, per record in occurredAt order.
    for (const plan of plans.values()) {
      plan.events.sort((a, b) => a.occurred.getTime() - b.occurred.getTime() || Number(a.inboxId) - Number(b.inboxId));
      for (const e of plan.events) {
        if (plan.hash === null) {
          Object.assign(plan, { hash: e.hash, asOf: e.occurred, version: 1, demographics: e.demographics, changed: true, touched: true });
          e.version = 1;
        } else if (!plan.hash.equals(e.hash)) {
          plan.version += 1;
          plan.touched = true;
          e.version = plan.version;
          // A late event keeps its version in history but does not overwrite newer demographics.
          if (e.occurred >= plan.asOf!) Object.assign(plan, { hash: e.hash, asOf: e.occurred, demographics: e.demographics, changed: true });
        } else if (e.occurred > plan.asOf!) {
          plan.asOf = e.occurred;
          plan.asOfMoved = true;
        }
      }
    }

    const a = Array.from({ length: 25 }, () => [] as unknown[]);
    const [nRid, nDem, nHash, nAsOf, nVer, uId, uDem, uHash, uAsOf, uVer, uTouch, xId, xRid, vRid, vVer, vDem, vHash, vAt, vInbox, eInbox, eRid, eType, eAt, eDetails, applied] = a;
    for (const plan of plans.values()) {
      if (plan.recId === null) {
        nRid.push(plan.recordId); nDem.push(JSON.stringify(plan.demographics)); nHash.push(plan.hash); nAsOf.push(plan.asOf!.toISOString()); nVer.push(plan.version);
      } else {
        xId.push(plan.recId); xRid.push(plan.recordId);
        if (plan.touched || plan.asOfMoved) {
          uId.push(plan.recId); uDem.push(plan.changed ? JSON.stringify(plan.demographics) : null); uHash.push(plan.changed ? plan.hash : null);
          uAsOf.push(plan.asOf!.toISOString()); uVer.push(plan.version); uTouch.push(plan.touched);
        }
      }
      for (const e of plan.events) {
        if (e.version !== undefined) {
          vRid.push(plan.recordId); vVer.push(e.version); vDem.push(JSON.stringify(e.demographics)); vHash.push(e.hash); vAt.push(e.event.occurredAt); vInbox.push(e.inboxId);
        }
        eInbox.push(e.inboxId); eRid.push(plan.recordId); eType.push(e.event.type); eAt.push(e.event.occurredAt); eDetails.push(JSON.stringify(e.event.details));
        applied.push(e.inboxId);
      }
    }
    const inserted = await preparedQuery<{ id: string; record_id: string }>(em, RECORD_WRITE_SQL, [sourceId, ...a]);
    for (const r of inserted) plans.get(r.record_id)!.recId = r.id;

    // Linked one by one in record-id order (new records last, by their new ids), as the worker does.
    const toLink = [...plans.values()].filter((p) => p.changed).sort((x, y) => Number(x.recId) - Number(y.recId));
    // Scored by the pool's thread in this order, slice by slice, while this thread decides.
    const scoredAt = pool.score(toLink.map((p) => [p.recId!, p.demographics!]));
    // In slices: PostgreSQL writes one slice while the next is linked here (the driver queues the
    // statements on the transaction's connection, in order).
    const decisionIds = toLink.length
      ? (await preparedQuery<{ id: string }>(em, `SELECT nextval(pg_get_serial_sequence('link_decision', 'id'))::text AS id FROM generate_series(1, $1::integer)`, [toLink.length])).map((r) => r.id)
      : [];
    const links: BulkLink[] = [];
    const writes: Promise<number>[] = [];
    for (let i = 0; i < toLink.length; i += LINK_SLICE) {
      const part: BulkLink[] = [];
      for (const [k, p] of toLink.slice(i, i + LINK_SLICE).entries()) part.push(linker.linkScored(p.recId!, await scoredAt(i + k)));
      writes.push(writeBulkLinks(em, part, decisionIds.slice(i, i + part.length), linker.model.version));
      links.push(...part);
      await new Promise((r) => setImmediate(r));
    }
    const settled = await Promise.allSettled(writes);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const tasks = settled.reduce((n, r) => n + (r.status === 'fulfilled' ? r.value : 0), 0);

    // Each touched person is due for one refold, after the commit (the projection's locks, load, fold and write).
    const persons = new Set<string>();
    for (const p of plans.values()) {
      const person = linker.personOf(p.recId!);
      if (person) persons.add(person);
    }
    for (const l of links) if (l.previousPersonId) persons.add(l.previousPersonId);
    await this.projection.markPersonsDue(em, [...persons]);

    sum.applied += applied.length;
    sum.linked += links.length;
    sum.newPersons += links.filter((l) => l.created).length;
    sum.refolded += persons.size;
    sum.reviewTasks += tasks;
    // One entry per chunk (counts and ids only), last: the audit head lock is held until the commit.
    await this.audit.record(em, {
      ...currentAuditContext(), action: 'events.backfill', resource: `source/${sourceCode}`,
      details: { events: applied.length, records: plans.size, linked: links.length, newPersons: links.filter((l) => l.created).length, firstInboxId: rows[0].id, lastInboxId: rows[rows.length - 1].id },
    });
    return { lastId: rows[rows.length - 1].id, records: plans.size, persons: [...persons] };
  }
}
