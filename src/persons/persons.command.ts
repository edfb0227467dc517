import type { Command } from 'commander';
import { print, withApp } from '../app/cli-context';
import { currentAuditContext } from '../audit/audit.context';
import { AuditService } from '../audit/audit.service';
import { RebuildService } from './rebuild.service';

export function registerPersonsCommands(program: Command): void {
  const projections = program.command('projections').description('read models folded from the event log');
  projections
    .command('rebuild')
    .description('replay the event log: refold every person with linked records (safe while workers run)')
    .option('--batch-size <n>', 'persons per transaction', '500')
    .option('--json', 'print JSON')
    .action(async (o: { batchSize: string; json?: boolean }) => {
      const batchSize = Number(o.batchSize);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new Error('--batch-size must be an integer from 1 to 10000');
      const res = await withApp(
        async (app) => {
          // Many transactions, none ours: the entry goes first, so no rebuild runs unrecorded.
          await app.get(AuditService).recordAlone({ ...currentAuditContext(), action: 'projections.rebuild', resource: 'projections', details: { batchSize } });
          return app.get(RebuildService).rebuild({
            batchSize,
            onProgress: (done, total) => process.stderr.write(`refolded ${done}/${total} persons\n`),
          });
        },
        true,
      );
      print(
        o.json ? res : `rebuilt ${res.persons} persons (${res.orphans} stale rows dropped; familiar list +${res.added} ~${res.updated} -${res.removed}) in ${res.ms} ms`,
        !!o.json,
      );
    });
}
