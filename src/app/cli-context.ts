import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '../config/app.config';
import { AppModule } from './app.module';
import { checkPostgres, checkRedis } from './preflight';

/** Output helper: --json prints one JSON document as the last line; otherwise a readable form. */
export function print(value: unknown, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(value)}\n`);
  else process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
}

/** Runs a CLI command inside a short-lived Nest context (no HTTP, no workers). */
export async function withApp<T>(fn: (app: INestApplicationContext) => Promise<T>, needsRedis = false): Promise<T> {
  const cfg = loadConfig();
  await checkPostgres(cfg);
  if (needsRedis) await checkRedis(cfg);
  const app = await NestFactory.createApplicationContext(AppModule.forRole('cli'), { logger: ['error'] });
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}
