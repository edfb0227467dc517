import type { Worker } from 'node:worker_threads';
import { startWorkerThread } from '../threads/worker-thread.factory';
import type { NormalisedRecord, RawPersonRecord } from './engine/record.types';

export type Demographics = Omit<RawPersonRecord, 'id'>;

export interface Prepared {
  rec: NormalisedRecord;
  keys: string[];
}

export interface PrepareRequest {
  seq: number;
  items: Demographics[];
}

export type PrepareReply = { seq: number; out: Prepared[] } | { seq: number; error: string };

/** Records per message: small enough that the first answer comes back quickly. */
export const PREPARE_SLICE = 250;

/**
 * Normalising a record and deriving its blocking keys (normaliseRecord, blockingKeys) in a worker
 * thread (record-prepare.thread.ts), ahead of the thread that links: the backfill sends a
 * chunk's changed records as soon as it has planned them, and the answers come back while its
 * record writes run. The functions are pure, so the result is the same as computing them inline.
 */
export class RecordPreparePool {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (p: Prepared[]) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private failed?: Error;

  constructor() {
    this.worker = startWorkerThread(__dirname, 'record-prepare.thread', __filename, null);
    this.worker.on('message', (m: PrepareReply) => {
      const w = this.waiting.get(m.seq);
      this.waiting.delete(m.seq);
      if ('error' in m) w?.reject(new Error(`preparing records: ${m.error}`));
      else w?.resolve(m.out);
    });
    const fail = (err: Error): void => {
      this.failed = err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the record preparation thread exited with code ${code}`)));
  }

  /** One promise per PREPARE_SLICE records, in order; `rec.id` is left empty for the caller to set. */
  prepare(items: readonly Demographics[]): Promise<Prepared[]>[] {
    const out: Promise<Prepared[]>[] = [];
    for (let i = 0; i < items.length; i += PREPARE_SLICE) {
      const seq = ++this.seq;
      out.push(new Promise<Prepared[]>((resolve, reject) => {
        if (this.failed) return reject(this.failed);
        this.waiting.set(seq, { resolve, reject });
        this.worker.postMessage({ seq, items: items.slice(i, i + PREPARE_SLICE) } satisfies PrepareRequest);
      }));
      // A caller that fails before awaiting every answer must not leave an unhandled rejection.
      out[out.length - 1].catch(() => undefined);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
