import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Request, Response } from 'express';
import { PersonQueryService, type Viewer } from '../persons/person-query.service';
import { compareStreamIds, FamiliarStreamService, type ChangeEntry } from './familiar-stream.service';

export const HEARTBEAT_MS = 15_000;
/** Persons a connection remembers sending, so it can tell the client when one leaves its list. */
const SEEN_MAX = 50_000;
const RESUME_PAGE = 500;

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
  ) {}

  open(viewer: Viewer, req: Request, res: Response, lastEventId: string | undefined): void {
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
    const send = (e: ChangeEntry, kind: string, data: unknown): void => {
      write(`id: ${e.id}\nevent: ${kind}\ndata: ${JSON.stringify(data)}\n\n`);
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
