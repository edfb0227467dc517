import { Logger as NestLogger, type INestApplication, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import { AuditDeniedFilter } from '../audit/audit-denied.filter';
import { AppConfig, ConfigError, corsOrigins, loadConfig, trustProxyValue } from '../config/app.config';
import { dataSourceOptions } from '../database/data-source';
import { DomainErrorFilter, stackFrames } from '../errors/domain-error.filter';
import { AppModule, type ProcessRole } from './app.module';
import { auditConfiguration } from './config-audit';
import { preflight, PreflightError } from './preflight';

/** Body-parser failures become the same JSON error shape as everything else. */
function bodyErrors(err: { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction): void {
  if (err?.type === 'entity.too.large') {
    res.status(413).json({ statusCode: 413, error: 'payload_too_large', message: 'request body is larger than the limit' });
  } else if (err?.type === 'entity.parse.failed') {
    res.status(400).json({ statusCode: 400, error: 'malformed_json', message: 'request body is not valid JSON' });
  } else if (err?.status && err.status >= 400 && err.status < 500) {
    res.status(err.status).json({ statusCode: err.status, error: 'bad_request', message: 'request body could not be read' });
  } else next(err);
}

export function configureHttp(app: NestExpressApplication, cfg: AppConfig): void {
  // Only named proxies' X-Forwarded-For sets req.ip (the audit log's client address); never any caller's.
  app.set('trust proxy', trustProxyValue(cfg.TRUST_PROXY) ?? false);
  app.use(helmet());
  // Closed unless CORS_ORIGINS names the browser origins that may call the API.
  const origins = corsOrigins(cfg);
  if (origins.length > 0) {
    app.enableCors({
      origin: origins,
      methods: ['GET', 'POST'],
      allowedHeaders: ['Authorization', 'Content-Type', 'X-Purpose-Of-Use', 'Last-Event-ID', 'X-Request-Id'],
      exposedHeaders: ['Retry-After', 'X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
      maxAge: 600,
    });
  }
  app.use(express.json({ limit: cfg.BODY_LIMIT }));
  app.use(bodyErrors);
  // Later filters are tried first: refusals are audited, then answered like every other error.
  app.useGlobalFilters(new DomainErrorFilter(), app.get(AuditDeniedFilter));
  const doc = new DocumentBuilder()
    .setTitle('Familiar Faces')
    .setDescription('Event ingest, linkage and the familiar-faces list for county justice and health coalitions.')
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'Partner source API key' }, 'source-key')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A person: OIDC token (or the local issuer in demos)' }, 'user-token')
    .build();
  SwaggerModule.setup('api/docs', app, () => SwaggerModule.createDocument(app, doc));
}

export async function createHttpApp(role: 'api' | 'all'): Promise<NestExpressApplication> {
  const cfg = loadConfig();
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRole(role), { bufferLogs: true, bodyParser: false });
  app.useLogger(app.get(Logger));
  configureHttp(app, cfg);
  return app;
}

/** Listens on HOST:PORT (loopback by default: exposing the API on every interface is a deployment's explicit choice). */
export async function listenHttp(app: NestExpressApplication, cfg: AppConfig): Promise<void> {
  await app.listen(cfg.PORT, cfg.HOST);
  new NestLogger('main').log({ host: cfg.HOST, port: cfg.PORT }, 'listening');
}

export async function createWorkerContext(): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(AppModule.forRole('worker'), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  return app;
}

/**
 * SIGTERM/SIGINT: stop accepting HTTP, let workers finish in-flight jobs (BullMQ's close waits
 * for them), run shutdown hooks, then exit 0. A second signal exits at once.
 */
function closeOnSignal(app: INestApplication | INestApplicationContext): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) process.exit(1);
    closing = true;
    new NestLogger('main').log({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        new NestLogger('main').error({ err: err instanceof Error ? err.name : 'unknown' }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Runs a process entry point; configuration and reachability problems end it with one line. */
export function runMain(role: ProcessRole | 'migrate', fn: (cfg: AppConfig) => Promise<INestApplication | INestApplicationContext | void>): void {
  const go = async (): Promise<void> => {
    const cfg = loadConfig();
    if (role !== 'migrate') await preflight(cfg);
    let changed: string[] | undefined;
    if (role !== 'migrate' && role !== 'cli') {
      // No entry, no service: recorded before the process listens or takes a job; a failure ends it.
      const db = new DataSource(dataSourceOptions({ ...cfg, DB_POOL_SIZE: 1 }));
      await db.initialize();
      try {
        changed = await auditConfiguration(db, cfg, role);
      } finally {
        await db.destroy();
      }
    }
    const app = await fn(cfg);
    // Logged once the app's JSON logger is up.
    if (changed) new NestLogger('main').log({ role, changed: changed.length }, changed.length ? 'configuration change recorded' : 'configuration unchanged');
    if (app) closeOnSignal(app);
  };
  go().catch((err: unknown) => {
    if (err instanceof ConfigError || err instanceof PreflightError) {
      process.stderr.write(`familiar-faces ${role}: ${err.message}\n`);
    } else {
      // The class and frames only: a message can quote data (a driver error, a row).
      const code = (err as { code?: unknown } | null)?.code; // e.g. EADDRINUSE: says what went wrong without quoting data
      new NestLogger('main').error({ err: err instanceof Error ? err.name : 'unknown', code: typeof code === 'string' ? code : undefined, stack: stackFrames(err) }, 'start-up failed');
    }
    process.exit(1);
  });
}
