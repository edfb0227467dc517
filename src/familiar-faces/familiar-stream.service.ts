import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app.config';
import { redisOptions } from '../queue/redis-options';

export type ChangeKind = 'added' | 'updated' | 'removed';

/** One entry of the Redis stream the workers append to after each projection commit. */
export interface ChangeEntry {
  /** The Redis stream id, used as the SSE id. */
  id: string;
  personId: string;
  kind: ChangeKind;
}

export const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
const BLOCK_MS = 5000;
const BATCH = 500;

type RawEntry = [id: string, fields: string[]];

/** ioredis' stream id ordering: compare "ms-seq" numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

function parse([id, fields]: RawEntry): ChangeEntry | null {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  const kind = f.kind;
  if (!f.personId || (kind !== 'added' && kind !== 'updated' && kind !== 'removed')) return null;
  return { id, personId: f.personId, kind };
}

/**
 * Fan-out of the familiar-faces change stream inside one API process: one Redis connection
 * per process blocks on XREAD and hands each entry to every local SSE subscriber. Several API
 * processes each read the same stream, so any of them can serve any client.
 */
@Injectable()
export class FamiliarStreamService implements OnModuleDestroy {
  private readonly log = new Logger('familiar-stream');
  private readonly subscribers = new Set<(e: ChangeEntry) => void>();
  private reader?: Redis;
  private commands?: Redis;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly cfg: AppConfig) {}

  get key(): string {
    return `${this.cfg.QUEUE_PREFIX}:familiar-faces`;
  }

  /** Registers a listener; the reader starts with the first one. Returns the unsubscribe function. */
  subscribe(fn: (e: ChangeEntry) => void): () => void {
    this.subscribers.add(fn);
    this.start();
    return () => this.subscribers.delete(fn);
  }

  /** Entries after `afterId` (exclusive), oldest first, for Last-Event-ID resumes. */
  async after(afterId: string, count = BATCH): Promise<ChangeEntry[]> {
    this.commands ??= new Redis(redisOptions(this.cfg.REDIS_URL));
    const raw = (await this.commands.xrange(this.key, `(${afterId}`, '+', 'COUNT', count)) as RawEntry[];
    return raw.map(parse).filter((e): e is ChangeEntry => e !== null);
  }

  private start(): void {
    if (this.running || this.stopped) return;
    this.reader = new Redis(redisOptions(this.cfg.REDIS_URL));
    this.running = this.loop(this.reader).catch((err: unknown) => {
      if (!this.stopped) this.log.error({ err: err instanceof Error ? err.name : 'unknown' }, 'stream reader stopped');
    });
  }

  private async loop(redis: Redis): Promise<void> {
    // A concrete start id: with '$' on every call, entries added between two calls would be lost.
    const last = (await redis.xrevrange(this.key, '+', '-', 'COUNT', 1)) as RawEntry[];
    let lastId = last[0]?.[0] ?? '0-0';
    while (!this.stopped) {
      let res: [string, RawEntry[]][] | null;
      try {
        res = await redis.xread('COUNT', BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', this.key, lastId);
      } catch (err) {
        if (this.stopped) return;
        this.log.warn({ err: err instanceof Error ? err.name : 'unknown' }, 'stream read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const [, entries] of res ?? []) {
        for (const raw of entries) {
          lastId = raw[0];
          const e = parse(raw);
          if (!e) continue;
          for (const fn of this.subscribers) fn(e);
        }
      }
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    this.subscribers.clear();
    this.reader?.disconnect();
    this.commands?.disconnect();
    await this.running;
  }
}
