#!/usr/bin/env node
import 'reflect-metadata';
import { Command, Option } from 'commander';
import { print, withApp } from './app/cli-context';
import { PreflightError } from './app/preflight';
import { ConfigError, loadConfig } from './config/app.config';
import { migrate } from './database/data-source';
import { DomainError } from './errors/domain.error';
import { IngestStatusService } from './ingest/ingest-status.service';
import { registerImportCommand } from './ingest/import/import.command';
import { registerLinkageCommands } from './linkage/linkage.command';
import { registerPersonsCommands } from './persons/persons.command';
import { PartnersService } from './partners/partners.service';
import { LocalIssuerService, parseTtl } from './access/local-issuer.service';
import { registerAuditCommands } from './audit/audit.command';
import { currentAuditContext } from './audit/audit.context';
import { AuditService } from './audit/audit.service';

export function buildCli(): Command {
  const program = new Command('familiar-faces').description('Familiar Faces admin, import and export commands').showHelpAfterError();

  program
    .command('migrate')
    .description('apply pending migrations to DATABASE_URL, creating the database when missing')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const ran = await migrate(loadConfig());
      print(o.json ? { applied: ran } : ran.length ? `applied: ${ran.join(', ')}` : 'database is up to date', !!o.json);
    });

  const sources = program.command('sources').description('partner source systems and their API keys');
  sources
    .command('create')
    .description('register a source (and its agency if new); prints its API key once')
    .requiredOption('--code <code>', 'source code, e.g. county-jail')
    .requiredOption('--name <name>', 'display name')
    .addOption(new Option('--kind <kind>', 'agency kind').choices(['court', 'jail', 'provider', 'other']).makeOptionMandatory())
    .option('--agency <code>', 'agency code (default: the source code)')
    .option('--agency-name <name>', 'agency display name when the agency is new')
    .option('--part2', 'the agency is a 42 CFR Part 2 program')
    .option('--json', 'print JSON')
    .action(async (o: { code: string; name: string; kind: string; agency?: string; agencyName?: string; part2?: boolean; json?: boolean }) => {
      const res = await withApp((app) =>
        app.get(PartnersService).createSource({ code: o.code, name: o.name, kind: o.kind, agency: o.agency, agencyName: o.agencyName, part2: o.part2 }),
      );
      if (!o.json) process.stderr.write('Store this key now: it is shown once and kept only as a digest.\n');
      print(res, !!o.json);
    });
  sources
    .command('list')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => print(await withApp((app) => app.get(PartnersService).listSources()), !!o.json));
  sources
    .command('rotate-key <code>')
    .description('issue a new key; current keys keep working for KEY_ROTATION_GRACE_HOURS')
    .option('--json', 'print JSON')
    .action(async (code: string, o: { json?: boolean }) => print(await withApp((app) => app.get(PartnersService).rotateKey(code)), !!o.json));
  sources
    .command('disable <code>')
    .description('refuse every key of this source from now on (401)')
    .option('--json', 'print JSON')
    .action(async (code: string, o: { json?: boolean }) => print(await withApp((app) => app.get(PartnersService).disableSource(code)), !!o.json));

  const agencies = program.command('agencies').description('partner agencies');
  agencies
    .command('update <code>')
    .description('change an agency flag')
    .option('--part2', 'mark as a 42 CFR Part 2 program')
    .option('--no-part2', 'clear the Part 2 flag')
    .option('--json', 'print JSON')
    .action(async (code: string, o: { part2?: boolean; json?: boolean }) => {
      if (o.part2 === undefined) throw new CliUsageError('agencies update: give --part2 or --no-part2');
      print(await withApp((app) => app.get(PartnersService).setAgencyPart2(code, o.part2!)), !!o.json);
    });

  const ingest = program.command('ingest').description('the event pipeline');
  ingest
    .command('status')
    .description('received, processed, pending, failed and dead-lettered events, overall and per source')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) =>
      print(
        await withApp((app) =>
          // Audited like GET /api/v1/ingest/status.
          app.get(AuditService).auditedRead({ ...currentAuditContext(), action: 'ingest_status.read', resource: 'ingest/status' }, async () => ({
            result: await app.get(IngestStatusService).status(),
          })),
        ),
        !!o.json,
      ));
  ingest
    .command('retry')
    .description('re-queue dead-lettered events after the cause is fixed')
    .option('--source <code>', 'only this source')
    .option('--json', 'print JSON')
    .action(async (o: { source?: string; json?: boolean }) =>
      print(
        await withApp(async (app) => {
          if (o.source) await app.get(PartnersService).sourceIdByCode(o.source); // unknown source: refused before anything is recorded
          // Recorded before the re-queue (its statements are not ours to join): no entry, no retry.
          await app.get(AuditService).recordAlone({
            ...currentAuditContext(), action: 'ingest.retry', resource: o.source ? `source/${o.source}` : 'ingest', details: { source: o.source ?? null },
          });
          return app.get(IngestStatusService).retryDeadLettered(o.source);
        }, true),
        !!o.json,
      ),
    );

  const users = program.command('users').description('people who use the service');
  users
    .command('token')
    .description('mint a token from the built-in issuer (demos and tests; refused in production unless LOCAL_ISSUER=true)')
    .requiredOption('--sub <id>', 'user id')
    .requiredOption('--agency <code>', 'agency code')
    .requiredOption('--role <role...>', 'one or more roles')
    .option('--ttl <ttl>', 'lifetime, e.g. 15m, 2h', '15m')
    .option('--json', 'print JSON')
    .action(async (o: { sub: string; agency: string; role: string[]; ttl: string; json?: boolean }) => {
      const ttlSeconds = parseTtl(o.ttl);
      const token = await withApp(async (app) => {
        await app.get(PartnersService).agencyIdByCode(o.agency);
        return app.get(LocalIssuerService).mint({ sub: o.sub, agency: o.agency, roles: o.role, ttlSeconds });
      });
      print(o.json ? { token, expiresIn: ttlSeconds } : token, !!o.json);
    });

  registerImportCommand(program);
  registerLinkageCommands(program);
  registerPersonsCommands(program);
  registerAuditCommands(program);
  return program;
}

class CliUsageError extends Error {}

/**
 * A database error's message can quote row data (a name in a constraint violation): print its
 * SQLSTATE only. Other errors (files, network) keep their message.
 */
export function safeMessage(err: unknown): string {
  if (!(err instanceof Error)) return 'unexpected failure';
  const e = err as Error & { driverError?: { code?: unknown }; severity?: unknown; code?: unknown };
  const sqlState = e.driverError?.code ?? (typeof e.severity === 'string' ? e.code : undefined);
  if (e.name === 'QueryFailedError' || e.driverError !== undefined || sqlState !== undefined) {
    return `database error${typeof sqlState === 'string' ? ` (SQLSTATE ${sqlState})` : ''}; the message is not shown because it can quote stored data`;
  }
  return err.message;
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (err instanceof DomainError) {
      const details = err.details?.map((d) => `${d.path}: ${d.message}`).join('; ');
      process.stderr.write(`error: ${err.message}${details ? ` (${details})` : ''}\n`);
    } else if (err instanceof ConfigError || err instanceof PreflightError || err instanceof CliUsageError) {
      process.stderr.write(`error: ${err.message}\n`);
    } else {
      process.stderr.write(`error: ${safeMessage(err)}\n`);
    }
    process.exitCode = 1;
  }
}

if (require.main === module) {
  void runCli(process.argv);
}
