import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * A worker thread running `<dir>/<name>.js` from dist, or `<name>.ts` when the caller runs from
 * source under ts-node (the tests): a thread does not inherit ts-node's require hook, so it loads
 * it first. `callerFile`: the caller's __filename, which tells the two apart.
 */
export function startWorkerThread(dir: string, name: string, callerFile: string, workerData: unknown): Worker {
  const ext = extname(callerFile);
  const entry = join(dir, `${name}${ext}`);
  return ext === '.ts'
    ? new Worker(`require('ts-node/register/transpile-only'); require(${JSON.stringify(entry)});`, { eval: true, workerData })
    : new Worker(entry, { workerData });
}
