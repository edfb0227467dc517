import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { AuditContext } from '../audit/audit.context';
import { AuditService } from '../audit/audit.service';
import { PersonQueryService, type Viewer } from '../persons/person-query.service';
import { compareStreamIds, FamiliarStreamService, type ChangeEntry } from './familiar-stream.service';

export const HEARTBEAT_MS = 15_000;
/** Persons a connection remembers sending, so it can tell the client when one leaves its list. */
const SEEN_MAX = 50_000;
const RESUME_PAGE = 500;
/**
 * Entries are delivered in audited batches: at most one audit append per connection per window
 * (a lone change goes out at once, a burst waits for the window's end), so many open streams stay
 * well under the audit log's append rate. Nothing is written before its batch's entry committed.
 */
export const AUDIT_BATCH_MS = 1000;

/**
 * One SSE connection per viewer: resumes from Last-Event-ID with XRANGE, then follows the live
 * fan-out. Every change is rebuilt through the query layer for this viewer before it is sent.
 */
@Injectable()
export class FamiliarSseService implements OnModuleDestroy {
  private readonly log = new Logger('familiar-sse');
  private readonly open_ = new Set<() => void>();

  constructor(
    private readonly stream: FamiliarStreamService,
    private readonly persons: PersonQueryService,
    private readonly audit: AuditService,
  ) {}

  open(viewer: Viewer, req: Request, res: Response, lastEventId: string | undefined, ctx: AuditContext): void {
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 2000\n\n');

    let closed = false;
    let lastSent = lastEventId;
    let ready = lastEventId === undefined;
    const buffered: ChangeEntry[] = [];
    const seen = new Set<string>();
    let chain: Promise<void> = Promise.resolve();

    const write = (chunk: string): void => {
      if (!closed) res.write(chunk);
    };
    const pending: string[] = [];
    const pendingIds = new Set<string>();
    let lastFlush = 0;
    let timer: NodeJS.Timeout | undefined;
    const flush = async (): Promise<void> => {
      if (closed || pending.length === 0) return;
      const chunks = pending.splice(0);
      const personIds = [...pendingIds];
      pendingIds.clear();
      lastFlush = Date.now();
      try {
        await this.audit.recordAlone({
          ...ctx, action: 'familiar-faces.stream.read', resource: 'familiar-faces/stream', personIds,
          details: { delivered: chunks.length },
        });
      } catch (err) {
        // Unaudited entries are never sent: the client reconnects with Last-Event-ID and gets them again.
        this.log.warn({ err: err instanceof Error ? err.name : 'unknown' }, 'could not audit a stream batch; closing');
        close();
        return;
      }
      for (const c of chunks) write(c);
    };
    const send = (e: ChangeEntry, kind: string, data: unknown): void => {
      pending.push(`id: ${e.id}\nevent: ${kind}\ndata: ${JSON.stringify(data)}\n\n`);
      pendingIds.add(e.personId);
      if (timer || closed) return;
      timer = setTimeout(() => {
        timer = undefined;
        chain = chain.then(flush);
      }, Math.max(0, lastFlush + AUDIT_BATCH_MS - Date.now()));
    };
    const handle = async (e: ChangeEntry): Promise<void> => {
      if (closed || (lastSent && compareStreamIds(e.id, lastSent) <= 0)) return;
      lastSent = e.id;
      const r = await this.persons.familiarEntry(viewer, e.personId);
      if (e.kind !== 'removed' && r.entry) {
        if (seen.size >= SEEN_MAX) seen.clear();
        seen.add(e.personId);
        send(e, e.kind, { personId: e.personId, entry: r.entry });
        return;
      }
      // Off the viewer's list (or never on it): a removal only for someone the viewer could see.
      if (r.visible || seen.has(e.personId) || (!r.entry && e.kind === 'removed' && (await this.survivorVisible(viewer, e.personId)))) {
        seen.delete(e.personId);
        send(e, 'removed', { personId: e.personId });
      }
    };
    const enqueue = (e: ChangeEntry): void => {
      chain = chain.then(() => handle(e)).catch((err: unknown) => {
        this.log.warn({ err: err instanceof Error ? err.name : 'unknown' }, 'could not build a stream entry');
      });
    };

    const unsubscribe = this.stream.subscribe((e) => {
      if (ready) enqueue(e);
      else buffered.push(e);
    });
    const heartbeat = setInterval(() => write(': heartbeat\n\n'), HEARTBEAT_MS);
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      if (timer) clearTimeout(timer);
      unsubscribe();
      this.open_.delete(close);
      res.end();
    };
    this.open_.add(close);
    req.on('close', close);

    if (lastEventId !== undefined) {
      // Subscribed first, then the backlog: anything added meanwhile is in the buffer or the backlog,
      // and ids at or before the last one sent are skipped, so there is no gap and no repeat.
      void (async () => {
        let from = lastEventId;
        for (;;) {
          const page = await this.stream.after(from, RESUME_PAGE);
          for (const e of page) enqueue(e);
          if (page.length < RESUME_PAGE) break;
          from = page[page.length - 1].id;
        }
        ready = true;
        for (const e of buffered.splice(0)) enqueue(e);
      })().catch((err: unknown) => {
        this.log.warn({ err: err instanceof Error ? err.name : 'unknown' }, 'resume failed');
        close();
      });
    }
  }

  /** A person removed by a merge: the viewer saw it if it may see the survivor. */
  private async survivorVisible(viewer: Viewer, personId: string): Promise<boolean> {
    const resolved = await this.persons.resolve(personId);
    if (!resolved || resolved.id === personId) return false;
    return (await this.persons.familiarEntry(viewer, resolved.id)).visible;
  }

  onModuleDestroy(): void {
    for (const close of [...this.open_]) close();
  }
}
