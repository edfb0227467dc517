// Worker-thread entry: the accept phase of one backfill file (see BackfillService.runFiles), in a
// Nest context of its own, so it runs on another core while the main thread links the file before.
import { parentPort, workerData } from 'node:worker_threads';
import { withApp } from '../../app/cli-context';
import { runWithAuditContext, type AuditContext } from '../../audit/audit.context';
import { InboxService } from '../inbox.service';
import { acceptWithoutQueueing, type BackfillFile } from './backfill.service';
import { EventImportService, type ImportProgress, type ImportSummary } from './event-import.service';

export interface AcceptThreadInput {
  file: BackfillFile;
  batchSize?: number;
  audit: AuditContext;
}

export type AcceptThreadMessage = { progress: ImportProgress } | { summary: ImportSummary } | { error: string };

async function main(): Promise<void> {
  const input = workerData as AcceptThreadInput;
  const port = parentPort!;
  try {
    const summary = await withApp((app) =>
      runWithAuditContext(input.audit, () =>
        acceptWithoutQueueing(app.get(EventImportService), app.get(InboxService), {
          ...input.file, batchSize: input.batchSize, onProgress: (progress) => port.postMessage({ progress } satisfies AcceptThreadMessage),
        })));
    port.postMessage({ summary } satisfies AcceptThreadMessage);
  } catch (err) {
    port.postMessage({ error: err instanceof Error ? err.message : String(err) } satisfies AcceptThreadMessage);
  }
}

void main();
