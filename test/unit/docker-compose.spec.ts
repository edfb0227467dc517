import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

interface ComposeService {
  image?: string;
  ports?: (string | { target?: number; published?: number | string })[];
  healthcheck?: { test?: string | string[] };
  command?: string | string[];
  environment?: Record<string, string> | string[];
  volumes?: (string | { source?: string })[];
}

interface ComposeFile {
  services?: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const compose = parse(readFileSync(join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8')) as ComposeFile;

/** "127.0.0.1:5432:5432" / "5432:5432" / { target, published } → [published, target] */
function portPairs(service: ComposeService): [string, string][] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'string') {
      const parts = p.replace(/\/(tcp|udp)$/, '').split(':');
      const target = parts[parts.length - 1];
      const published = parts.length >= 2 ? parts[parts.length - 2] : target;
      return [published, target];
    }
    return [String(p.published ?? p.target), String(p.target)];
  });
}

function words(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(' ') : (value ?? '');
}

describe('docker-compose.yml', () => {
  const services = compose.services ?? {};

  it('defines postgres on postgres:16 with port 5432 and a pg_isready healthcheck', () => {
    const pg = services.postgres;
    expect(pg).toBeDefined();
    expect(pg.image).toMatch(/^postgres:16/);
    expect(portPairs(pg)).toContainEqual(['5432', '5432']);
    expect(words(pg.healthcheck?.test)).toContain('pg_isready');
  });

  it('gives postgres the postgres superuser and a named volume', () => {
    const pg = services.postgres;
    const env = Array.isArray(pg.environment)
      ? Object.fromEntries(pg.environment.map((e) => e.split('=', 2)))
      : (pg.environment ?? {});
    expect(env.POSTGRES_USER).toBe('postgres');
    expect(env.POSTGRES_HOST_AUTH_METHOD ?? env.POSTGRES_PASSWORD).toBeTruthy();
    const sources = (pg.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : (v.source ?? '')));
    expect(sources.some((s) => Object.keys(compose.volumes ?? {}).includes(s))).toBe(true);
  });

  it('defines redis on redis:7 with port 6379, a ping healthcheck and noeviction', () => {
    const redis = services.redis;
    expect(redis).toBeDefined();
    expect(redis.image).toMatch(/^redis:7/);
    expect(portPairs(redis)).toContainEqual(['6379', '6379']);
    expect(words(redis.healthcheck?.test)).toMatch(/redis-cli.*ping/);
    expect(words(redis.command)).toMatch(/--maxmemory-policy[ =]noeviction/);
  });
});
