// Worker-thread entry for RecordScoringPool: a scoring-only copy of the linked base (records and
// key index, no persons) that normalises, keys, finds and scores the candidates of each record
// ahead of the thread that decides. Engine code and BulkLinker only: no Nest, no database.
import { parentPort, workerData } from 'node:worker_threads';
import { BulkLinker } from './backfill.linker';
import type { ScoringReply, ScoringRequest, ScoringThreadInput } from './record-scoring.pool';

const input = workerData as ScoringThreadInput;
const copy = new BulkLinker(input.model, () => '', input.keyCap, input.selective);
const port = parentPort!;
let broken: string | undefined;

port.on('message', (m: ScoringRequest) => {
  if (broken) return port.postMessage({ seq: m.seq, error: `an earlier message failed: ${broken}` } satisfies ScoringReply);
  try {
    if (m.kind === 'seed') {
      for (const [id, n] of m.items) copy.seed(id, n, '', false);
      port.postMessage({ seq: m.seq, out: [] } satisfies ScoringReply);
    } else if (m.kind === 'names') {
      copy.setNameCounts(m.rows);
      port.postMessage({ seq: m.seq, out: [] } satisfies ScoringReply);
    } else {
      port.postMessage({ seq: m.seq, out: m.items.map(([id, d]) => copy.scoreAhead(id, d)) } satisfies ScoringReply);
    }
  } catch (err) {
    broken = err instanceof Error ? err.message : String(err);
    port.postMessage({ seq: m.seq, error: broken } satisfies ScoringReply);
  }
});
