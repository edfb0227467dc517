import type { Worker } from 'node:worker_threads';
import { startWorkerThread } from '../threads/worker-thread.factory';
import type { ScoredRecord } from './backfill.linker';
import type { ModelParams } from './engine/model.params';
import type { NormalisedRecord, RawPersonRecord } from './engine/record.types';

export type Demographics = Omit<RawPersonRecord, 'id'>;

export interface ScoringThreadInput {
  model: ModelParams;
  keyCap?: number;
  selective?: number;
}

export type ScoringRequest =
  | { seq: number; kind: 'seed'; items: [string, NormalisedRecord | string][] }
  | { seq: number; kind: 'names'; rows: { field: string; value: string; records: number }[] }
  | { seq: number; kind: 'score'; items: [string, Demographics][] };

type Unsequenced<T> = T extends unknown ? Omit<T, 'seq'> : never;

export type ScoringReply = { seq: number; out: ScoredRecord[] } | { seq: number; error: string };

/** Records per message after the first: the first is small so that linking starts soon. */
const SCORING_SLICE = 250;
const FIRST_SLICE = 50;

/**
 * The backfill's second thread (record-scoring.thread.ts): a copy of the linked base that scores
 * each record's candidates (normalise, keys, candidate rule, scorePair) while this thread
 * decides the records before it. The copy gets the same seeds, name counts and records in the
 * same order as the deciding BulkLinker, so its candidates and scores are the ones link() would
 * compute: BulkLinker.scoreAhead there, BulkLinker.linkScored here.
 */
export class RecordScoringPool {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: (p: ScoredRecord[]) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private failed?: Error;

  constructor(input: ScoringThreadInput) {
    this.worker = startWorkerThread(__dirname, 'record-scoring.thread', __filename, input);
    this.worker.on('message', (m: ScoringReply) => {
      const w = this.waiting.get(m.seq);
      this.waiting.delete(m.seq);
      if ('error' in m) w?.reject(new Error(`scoring thread: ${m.error}`));
      else w?.resolve(m.out);
    });
    const fail = (err: Error): void => {
      this.failed ??= err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the scoring thread exited with code ${code}`)));
  }

  /** Linked records of the base (objects or their JSON), in the order the deciding copy is seeded. */
  seed(items: [string, NormalisedRecord | string][]): Promise<void> {
    return this.send({ kind: 'seed', items }).then(() => undefined);
  }

  setNameCounts(rows: { field: string; value: string; records: number }[]): Promise<void> {
    return this.send({ kind: 'names', rows }).then(() => undefined);
  }

  /**
   * The records in link order, sent in slices (the first small, so that linking starts soon).
   * Returns the answer for the i-th record; it resolves when its slice is scored.
   */
  score(items: readonly [string, Demographics][]): (i: number) => Promise<ScoredRecord> {
    const slices: Promise<ScoredRecord[]>[] = [];
    for (let i = 0; i < items.length;) {
      const n = i === 0 ? FIRST_SLICE : SCORING_SLICE;
      slices.push(this.send({ kind: 'score', items: items.slice(i, i + n) }));
      i += n;
    }
    return async (i) => {
      if (i < FIRST_SLICE) return (await slices[0])[i];
      const j = i - FIRST_SLICE;
      return (await slices[1 + Math.floor(j / SCORING_SLICE)])[j % SCORING_SLICE];
    };
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private send(m: Unsequenced<ScoringRequest>): Promise<ScoredRecord[]> {
    const seq = ++this.seq;
    const p = new Promise<ScoredRecord[]>((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.waiting.set(seq, { resolve, reject });
      this.worker.postMessage({ ...m, seq });
    });
    // A caller that fails before awaiting every answer must not leave an unhandled rejection.
    p.catch(() => undefined);
    return p;
  }
}
