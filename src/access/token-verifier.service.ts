import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app.config';
import { UnauthenticatedError } from '../errors/domain.error';
import { LOCAL_ISSUER, LocalIssuerService } from './local-issuer.service';
import { ROLES, type Principal, type Role } from './roles';

const ALGORITHMS = ['RS256', 'ES256'];
/** A verified token is trusted again without a signature check for at most this long (and never past its exp). */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX = 2000;
/** Agency code -> id, re-read after this long so an unknown agency fails soon after it is removed. */
const AGENCY_TTL_MS = 5000;

/** Verifies people's bearer tokens: signature (RS256/ES256), issuer, audience, expiry, known agency. */
@Injectable()
export class TokenVerifierService {
  private readonly remote?: JWTVerifyGetKey;
  private localSet?: Promise<JWTVerifyGetKey>;
  // A user sends the same token on every request; checking its signature each time cost ~0.5 ms of
  // the API's single thread, and its agency one query. Both are kept briefly (docs/access.md).
  private readonly verified = new Map<string, { until: number; principal: Principal }>();
  private readonly agencyIds = new Map<string, { until: number; id: string }>();

  constructor(
    private readonly cfg: AppConfig,
    private readonly local: LocalIssuerService,
    @InjectDataSource() private readonly db: DataSource,
  ) {
    if (cfg.OIDC_JWKS_URL) this.remote = createRemoteJWKSet(new URL(cfg.OIDC_JWKS_URL));
  }

  private localKeys(): Promise<JWTVerifyGetKey> {
    this.localSet ??= this.local.publicJwk().then((jwk) => createLocalJWKSet({ keys: [jwk] }));
    return this.localSet;
  }

  async verify(token: string | undefined): Promise<Principal> {
    if (!token) throw new UnauthenticatedError('missing bearer token');
    const now = Date.now();
    const hit = this.verified.get(token);
    if (hit && hit.until > now) return hit.principal;
    if (hit) this.verified.delete(token);
    let payload: JWTPayload;
    try {
      const header = decodeProtectedHeader(token);
      if (!header.alg || !ALGORITHMS.includes(header.alg)) throw new UnauthenticatedError('token must be signed with RS256 or ES256');
      const useLocal = this.local.enabled() && (await this.isLocal(token));
      const keys = useLocal ? await this.localKeys() : this.remote;
      if (!keys) throw new UnauthenticatedError('token issuer is not trusted');
      const res = await jwtVerify(token, keys, {
        algorithms: ALGORITHMS,
        issuer: useLocal ? LOCAL_ISSUER : this.cfg.OIDC_ISSUER,
        audience: this.cfg.OIDC_AUDIENCE,
        requiredClaims: ['sub', 'exp'],
      });
      payload = res.payload;
    } catch (err) {
      if (err instanceof UnauthenticatedError) throw err;
      // jose's messages name the failed check (expired, signature, audience) without data.
      throw new UnauthenticatedError(`invalid token: ${err instanceof Error ? err.message : 'unreadable'}`);
    }
    const agency = payload.agency;
    const roles = payload.roles;
    if (typeof agency !== 'string' || !agency) throw new UnauthenticatedError('token has no agency claim');
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => (ROLES as readonly unknown[]).includes(r)))
      throw new UnauthenticatedError(`token roles must be among ${ROLES.join(', ')}`);
    const agencyId = await this.agencyId(agency, now);
    if (!agencyId) throw new UnauthenticatedError(`unknown agency ${agency}`);
    const principal: Principal = { sub: payload.sub!, agency, agencyId, roles: roles as Role[] };
    // exp is required above; the entry never outlives the token.
    const until = Math.min(now + VERIFIED_TTL_MS, payload.exp! * 1000);
    if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { until, principal });
    return principal;
  }

  private async agencyId(code: string, now: number): Promise<string | null> {
    const hit = this.agencyIds.get(code);
    if (hit && hit.until > now) return hit.id;
    const rows: { id: string }[] = await this.db.query(`SELECT id FROM agency WHERE code = $1`, [code]);
    const id = rows[0]?.id ?? null;
    if (this.agencyIds.size >= VERIFIED_MAX) this.agencyIds.clear();
    // Only known agencies are kept: one registered a moment later must work at once.
    if (id) this.agencyIds.set(code, { until: now + AGENCY_TTL_MS, id });
    return id;
  }

  private async isLocal(token: string): Promise<boolean> {
    const [, body] = token.split('.');
    try {
      const claims = JSON.parse(Buffer.from(body ?? '', 'base64url').toString('utf8')) as { iss?: unknown };
      return claims.iss === LOCAL_ISSUER;
    } catch {
      return false;
    }
  }
}
