import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { DataSource } from 'typeorm';
import { currentAuditContext } from '../audit/audit.context';
import { AuditService } from '../audit/audit.service';
import { AppConfig, localIssuerEnabled } from '../config/app.config';
import { ForbiddenError, ValidationFailedError } from '../errors/domain.error';
import { ROLES } from './roles';

export const LOCAL_ISSUER = 'urn:familiar-faces:local-issuer';
const ALG = 'ES256';

interface KeyRow {
  kid: string;
  private_jwk: JWK;
  public_jwk: JWK;
}

/** The built-in issuer: an ES256 key made at first use and kept in the database. */
@Injectable()
export class LocalIssuerService {
  private key?: Promise<KeyRow>;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly cfg: AppConfig,
    private readonly audit: AuditService,
  ) {}

  enabled(): boolean {
    return localIssuerEnabled(this.cfg);
  }

  private async loadKey(): Promise<KeyRow> {
    const existing: KeyRow[] = await this.db.query(`SELECT kid, private_jwk, public_jwk FROM local_issuer_key ORDER BY created_at LIMIT 1`);
    if (existing[0]) return existing[0];
    const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
    const kid = randomUUID();
    // Two processes may race at first start; the first insert wins and both read it back.
    await this.db.query(
      `INSERT INTO local_issuer_key (kid, alg, private_jwk, public_jwk)
       SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM local_issuer_key)`,
      [kid, ALG, JSON.stringify(await exportJWK(privateKey)), JSON.stringify(await exportJWK(publicKey))],
    );
    const rows: KeyRow[] = await this.db.query(`SELECT kid, private_jwk, public_jwk FROM local_issuer_key ORDER BY created_at LIMIT 1`);
    return rows[0];
  }

  private getKey(): Promise<KeyRow> {
    this.key ??= this.loadKey().catch((e: unknown) => {
      this.key = undefined;
      throw e;
    });
    return this.key;
  }

  async publicJwk(): Promise<JWK & { kid: string }> {
    const k = await this.getKey();
    return { ...k.public_jwk, kid: k.kid, alg: ALG };
  }

  async mint(input: { sub: string; agency: string; roles: string[]; ttlSeconds: number }): Promise<string> {
    if (!this.enabled()) throw new ForbiddenError('the local issuer is disabled (NODE_ENV=production without LOCAL_ISSUER=true)');
    const bad = input.roles.filter((r) => !(ROLES as readonly string[]).includes(r));
    if (bad.length || input.roles.length === 0)
      throw new ValidationFailedError('invalid roles', [{ path: 'role', message: `role must be one of ${ROLES.join(', ')}` }]);
    if (!(input.ttlSeconds > 0 && input.ttlSeconds <= 24 * 3600))
      throw new ValidationFailedError('invalid ttl', [{ path: 'ttl', message: 'ttl must be between 1s and 24h' }]);
    const k = await this.getKey();
    const key = await importJWK(k.private_jwk, ALG);
    const token = await new SignJWT({ agency: input.agency, roles: input.roles })
      .setProtectedHeader({ alg: ALG, kid: k.kid, typ: 'JWT' })
      .setSubject(input.sub)
      .setIssuer(LOCAL_ISSUER)
      .setAudience(this.cfg.OIDC_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + input.ttlSeconds)
      .sign(key);
    // No entry, no token.
    await this.audit.recordAlone({
      ...currentAuditContext(), action: 'token.mint', resource: `user/${input.sub}`,
      details: { sub: input.sub, agency: input.agency, roles: input.roles, ttlSeconds: input.ttlSeconds, issuer: 'local' },
    });
    return token;
  }
}

/** "15m", "2h", "900s", "900" -> seconds. */
export function parseTtl(ttl: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(ttl.trim());
  if (!m) throw new ValidationFailedError('invalid ttl', [{ path: 'ttl', message: 'ttl must look like 900s, 15m or 2h' }]);
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}
