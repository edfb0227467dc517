import { createHash } from 'node:crypto';
import type { PoolClient, QueryResult } from 'pg';
import type { EntityManager, QueryRunner } from 'typeorm';

/** The pg client a query runner holds for its transaction (TypeORM types it as any). */
async function clientOf(on: EntityManager | QueryRunner): Promise<PoolClient> {
  const qr = 'connect' in on ? on : on.queryRunner;
  if (!qr) throw new Error('a query runner (a transaction) is required');
  return (qr as unknown as { connect(): Promise<PoolClient> }).connect();
}

/**
 * Several `;`-separated statements in one round trip (simple query protocol), returning every
 * statement's result; TypeORM's query() drops them. Inside a transaction each statement still takes
 * its own snapshot (READ COMMITTED), so a statement that follows a lock sees what the previous
 * holder committed. The simple protocol has no parameters: inline validated integers only.
 */
export async function multiQuery(on: EntityManager | QueryRunner, sql: string): Promise<QueryResult[]> {
  const res = (await (await clientOf(on)).query(sql)) as QueryResult | QueryResult[];
  return Array.isArray(res) ? res : [res];
}

const names = new Map<string, string>();

/**
 * One statement as a named prepared statement on the runner's connection: parsed once per
 * connection, and PostgreSQL can reuse a generic plan, where TypeORM's unnamed statements are
 * parsed and planned on every call. For hot statements whose text comes from a few shapes.
 */
export async function preparedQuery<T>(on: EntityManager | QueryRunner, text: string, values: unknown[]): Promise<T[]> {
  let name = names.get(text);
  if (!name) {
    name = `ff_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    if (names.size < 1000) names.set(text, name);
  }
  // Outside a transaction (a plain manager) there is no connection to prepare on.
  if (!('connect' in on) && !on.queryRunner) return on.query<T[]>(text, values);
  const res = await (await clientOf(on)).query({ name, text, values });
  return res.rows as T[];
}
