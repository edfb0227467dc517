// Worker-thread entry for RecordPreparePool: normalises records and derives their blocking keys
// (pure engine functions) so the linking thread only scores and decides.
import { parentPort } from 'node:worker_threads';
import { blockingKeys } from './engine/blocking.rules';
import { normaliseRecord } from './engine/record.normalise';
import type { PrepareReply, PrepareRequest } from './record-prepare.pool';

const port = parentPort!;
port.on('message', (m: PrepareRequest) => {
  try {
    const out = m.items.map((d) => {
      // The record id is set by the caller: it may not exist yet when the work is sent.
      const rec = normaliseRecord({ ...d, id: '' });
      return { rec, keys: blockingKeys(rec) };
    });
    port.postMessage({ seq: m.seq, out } satisfies PrepareReply);
  } catch (err) {
    port.postMessage({ seq: m.seq, error: err instanceof Error ? err.message : String(err) } satisfies PrepareReply);
  }
});
