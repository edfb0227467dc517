import { isIP } from 'node:net';
import { plainToInstance, Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Length, Matches, Max, Min, ValidateBy, validateSync } from 'class-validator';
import { criteriaProblem, DEFAULT_FAMILIAR_CRITERIA } from '../persons/familiar-criteria';

const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;

/** Every setting the processes read, validated once at boot. */
export class AppConfig {
  @IsString()
  @Matches(/^postgres(ql)?:\/\//, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/familiar_faces';

  @IsString()
  @Matches(/^rediss?:\/\//, { message: 'REDIS_URL must be a redis:// URL' })
  REDIS_URL = 'redis://127.0.0.1:6379';

  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'QUEUE_PREFIX must be 1-64 letters, digits, _ or -' })
  QUEUE_PREFIX = 'ff';

  @Transform(toInt)
  @IsInt({ message: 'PORT must be an integer' })
  @Min(0)
  @Max(65535)
  PORT = 3000;

  /** Interface the API listens on: loopback unless a deployment opts in (a container or a remote load balancer needs 0.0.0.0). */
  @ValidateBy({
    name: 'isListenHost',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && (isIP(v) !== 0 || v === 'localhost'),
      defaultMessage: () => 'HOST must be an IP address to listen on (127.0.0.1, 0.0.0.0, ::1, ::, or one of the machine\'s addresses) or localhost',
    },
  })
  HOST = '127.0.0.1';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
    message: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
  })
  LOG_LEVEL = 'info';

  @IsIn(['development', 'production', 'test'], { message: 'NODE_ENV must be development, production or test' })
  NODE_ENV = 'development';

  /** Largest accepted request body; a 1000-event batch with full subjects is ~1.5 MB. */
  @IsString()
  @Matches(/^\d+(b|kb|mb)$/i, { message: 'BODY_LIMIT must look like 5mb' })
  BODY_LIMIT = '5mb';

  /**
   * Concurrent jobs per worker process: the apply batches' supply. A job stays in flight until the
   * refold after its apply committed, so keep it above INGEST_APPLY_BATCH_SIZE x (INGEST_APPLY_PARALLEL + 2).
   */
  @Transform(toInt)
  @IsInt({ message: 'WORKER_CONCURRENCY must be an integer' })
  @Min(1)
  @Max(5000)
  WORKER_CONCURRENCY = 1000;

  /**
   * Most events one apply transaction takes (1 = every event in its own transaction). A batch holds
   * an advisory lock per record and blocking key, and the refold after it one per person (at most
   * 1,000): up to ~2,900 per worker at 200, sampled from pg_locks. PostgreSQL's lock table is
   * shared by all workers: sized for 64 x max_connections (6,400 at 100); PostgreSQL 15 here took
   * ~12,000 before "out of shared memory". 400 applies ~20% more
   * events/s on the dev box with twice the locks (docs/benchmarks.md): raise
   * max_locks_per_transaction before raising this with several workers.
   */
  @Transform(toInt)
  @IsInt({ message: 'INGEST_APPLY_BATCH_SIZE must be an integer' })
  @Min(1, { message: 'INGEST_APPLY_BATCH_SIZE must be 1 to 1000' })
  @Max(1000, { message: 'INGEST_APPLY_BATCH_SIZE must be 1 to 1000' })
  INGEST_APPLY_BATCH_SIZE = 200;

  /** Apply batches one worker process runs at once (each on its own connection). */
  @Transform(toInt)
  @IsInt({ message: 'INGEST_APPLY_PARALLEL must be an integer' })
  @Min(1, { message: 'INGEST_APPLY_PARALLEL must be 1 to 16' })
  @Max(16, { message: 'INGEST_APPLY_PARALLEL must be 1 to 16' })
  INGEST_APPLY_PARALLEL = 1;

  /** How long a partly filled apply batch waits for more jobs before it runs. */
  @Transform(toInt)
  @IsInt({ message: 'INGEST_APPLY_LINGER_MS must be an integer' })
  @Min(0, { message: 'INGEST_APPLY_LINGER_MS must be 0 to 1000' })
  @Max(1000, { message: 'INGEST_APPLY_LINGER_MS must be 0 to 1000' })
  INGEST_APPLY_LINGER_MS = 5;

  /** Attempts before an event is dead-lettered. */
  @Transform(toInt)
  @IsInt({ message: 'INGEST_ATTEMPTS must be an integer' })
  @Min(1)
  @Max(50)
  INGEST_ATTEMPTS = 5;

  /** First retry delay; later ones double. */
  @Transform(toInt)
  @IsInt({ message: 'INGEST_BACKOFF_MS must be an integer' })
  @Min(0)
  INGEST_BACKOFF_MS = 1000;

  /** Accepted events still unapplied after this long are enqueued again. */
  @Transform(toInt)
  @IsInt({ message: 'REDRIVE_GRACE_MS must be an integer' })
  @Min(0)
  REDRIVE_GRACE_MS = 60_000;

  @Transform(toInt)
  @IsInt({ message: 'REDRIVE_INTERVAL_MS must be an integer' })
  @Min(100)
  REDRIVE_INTERVAL_MS = 30_000;

  /** How long a rotated-out API key keeps working. */
  @Transform(toInt)
  @IsInt({ message: 'KEY_ROTATION_GRACE_HOURS must be an integer' })
  @Min(0)
  KEY_ROTATION_GRACE_HOURS = 24;

  /** OIDC: the coalition identity provider's JWKS URL, issuer and audience (RS256/ES256). */
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] }, { message: 'OIDC_JWKS_URL must be an http(s) URL' })
  OIDC_JWKS_URL?: string;

  @IsOptional()
  @IsString()
  OIDC_ISSUER?: string;

  @IsString()
  @Length(1, 200, { message: 'OIDC_AUDIENCE must be 1-200 characters' })
  OIDC_AUDIENCE = 'familiar-faces';

  /** The built-in issuer for demos and tests; refused in production unless set explicitly. */
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'LOCAL_ISSUER must be true or false' })
  LOCAL_ISSUER?: 'true' | 'false';

  @Transform(toInt)
  @IsInt({ message: 'DB_POOL_SIZE must be an integer' })
  @Min(1)
  @Max(200)
  DB_POOL_SIZE = 20;

  /** Familiar-faces criteria, a JSON array (docs/familiar-faces.md). */
  @ValidateBy({
    name: 'familiarCriteria',
    validator: {
      validate: (v: unknown) => criteriaProblem(v) === null,
      defaultMessage: (a) => `FAMILIAR_CRITERIA${(criteriaProblem(a?.value) ?? '').replace(/^(?=[a-z])/, ' ')}`,
    },
  })
  FAMILIAR_CRITERIA = DEFAULT_FAMILIAR_CRITERIA;

  /** A consent ending within this many days is 'expiring'. */
  @Transform(toInt)
  @IsInt({ message: 'CONSENT_EXPIRING_DAYS must be an integer' })
  @Min(1)
  @Max(365)
  CONSENT_EXPIRING_DAYS = 30;

  /** Requests per minute per signed-in user (agency + subject), across endpoints; 0 = no limit. */
  @Transform(toInt)
  @IsInt({ message: 'RATE_LIMIT_USER_PER_MIN must be an integer' })
  @Min(0, { message: 'RATE_LIMIT_USER_PER_MIN must be 0 (off) or more' })
  RATE_LIMIT_USER_PER_MIN = 600;

  /** Requests per minute per partner source key (an ingest batch is one request); 0 = no limit. */
  @Transform(toInt)
  @IsInt({ message: 'RATE_LIMIT_SOURCE_PER_MIN must be an integer' })
  @Min(0, { message: 'RATE_LIMIT_SOURCE_PER_MIN must be 0 (off) or more' })
  RATE_LIMIT_SOURCE_PER_MIN = 600;

  /** Browser origins allowed to call the API (comma-separated, e.g. https://ff.example.org); empty = CORS closed. */
  @IsOptional()
  @ValidateBy({
    name: 'corsOrigins',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && v.split(',').every((o) => CORS_ORIGIN.test(o.trim())),
      defaultMessage: () => 'CORS_ORIGINS must be a comma-separated list of origins like https://ff.example.org (scheme, host, optional port; no path)',
    },
  })
  CORS_ORIGINS?: string;

  /**
   * Reverse proxies whose X-Forwarded-For is believed, so the audit log records the client's
   * address rather than the proxy's: false (default), a hop count, or loopback/linklocal/uniquelocal/IPs/CIDRs.
   */
  @ValidateBy({
    name: 'trustProxy',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && trustProxyValue(v) !== undefined,
      defaultMessage: () => 'TRUST_PROXY must be false, a hop count 1-10, or a comma-separated list of loopback, linklocal, uniquelocal, IP addresses or CIDRs',
    },
  })
  TRUST_PROXY = 'false';
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** Express's `trust proxy` value for a TRUST_PROXY setting; undefined when invalid. */
export function trustProxyValue(v: string): false | number | string[] | undefined {
  const t = v.trim();
  if (t === 'false') return false;
  if (/^\d{1,2}$/.test(t)) return Number(t) >= 1 && Number(t) <= 10 ? Number(t) : undefined;
  const items = t.split(',').map((x) => x.trim());
  const ok = items.every((x) => {
    if (PROXY_NAMES.includes(x)) return true;
    const [ip, bits, ...rest] = x.split('/');
    const family = isIP(ip);
    if (family === 0 || rest.length > 0) return false;
    return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  });
  return ok && items.length > 0 ? items : undefined;
}

const CORS_ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;

/** The configured CORS origins, or [] (closed). */
export function corsOrigins(cfg: AppConfig): string[] {
  return (cfg.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean);
}

export class ConfigError extends Error {}

const SETTINGS = Object.keys(new AppConfig()) as (keyof AppConfig)[];

/** Builds the config from an environment; throws one message naming every bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw: Record<string, string> = {};
  for (const key of SETTINGS) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const cfg = plainToInstance(AppConfig, raw);
  const errors = validateSync(cfg, { whitelist: false });
  if (cfg.NODE_ENV === 'production' && cfg.LOCAL_ISSUER === undefined && !cfg.OIDC_JWKS_URL) {
    throw new ConfigError('invalid configuration: OIDC_JWKS_URL is required when NODE_ENV=production (or set LOCAL_ISSUER=true explicitly)');
  }
  // Without an issuer check, any token signed by a key the JWKS serves (another realm or client of the same IdP) would pass.
  if (cfg.OIDC_JWKS_URL && !cfg.OIDC_ISSUER) {
    throw new ConfigError('invalid configuration: OIDC_ISSUER is required with OIDC_JWKS_URL (the identity provider\'s issuer, checked on every token)');
  }
  if (errors.length > 0) {
    const parts = errors.flatMap((e) => Object.values(e.constraints ?? {}).map((m) => `${m} (got ${JSON.stringify(raw[e.property] ?? '')})`));
    throw new ConfigError(`invalid configuration: ${parts.join('; ')}`);
  }
  return cfg;
}

/** Whether this process may mint and accept tokens from the built-in issuer. */
export function localIssuerEnabled(cfg: AppConfig): boolean {
  if (cfg.LOCAL_ISSUER !== undefined) return cfg.LOCAL_ISSUER === 'true';
  return cfg.NODE_ENV !== 'production';
}

/** A URL with its password replaced, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
