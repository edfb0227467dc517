import type { Command } from 'commander';
import { print, withApp } from '../app/cli-context';
import { setCliActor } from './audit.context';
import { AuditVerifyService, type VerifyReport } from './audit-verify.service';

/**
 * `audit verify`, and the global --actor option: CLI changes are audited as actor_kind cli,
 * under --actor or $USER.
 */
export function registerAuditCommands(program: Command): void {
  program.option('--actor <name>', 'who is running this command, for the audit log (default: $USER)');
  program.hook('preAction', (root) => {
    setCliActor(root.opts<{ actor?: string }>().actor);
  });

  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('verify')
    .description('walk the hash chain; report the first edited, deleted or reordered entry (exit 2 when broken)')
    .option('--table <name>', 'verify a copy of audit_entry (e.g. a restored table) instead')
    .option('--json', 'print JSON')
    .action(async (o: { table?: string; json?: boolean }) => {
      const report = await withApp((app) => app.get(AuditVerifyService).verify(o.table));
      print(o.json ? report : describe(report), !!o.json);
      if (!report.ok) process.exitCode = 2;
    });
}

function describe(r: VerifyReport): string {
  if (r.ok) return `audit log intact: ${r.entries} entries, head ${r.head.seq} ${r.head.hash}`;
  return `audit log BROKEN at entry ${r.firstBreak!.seq} (${r.firstBreak!.reason}): ${r.firstBreak!.message}; ${r.entries} entries verified before it`;
}
