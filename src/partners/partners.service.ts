import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import { currentAuditContext } from '../audit/audit.context';
import { AuditService } from '../audit/audit.service';
import { AppConfig } from '../config/app.config';
import { ConflictError, NotFoundError, UnauthenticatedError, ValidationFailedError } from '../errors/domain.error';
import { Agency, AGENCY_KINDS, type AgencyKind } from './agency.entity';
import { digestKey, digestsEqual, generateApiKey, parseApiKey } from './api-key';
import { SourceApiKey } from './source-api-key.entity';
import { Source } from './source.entity';

export interface CreateSourceInput {
  code: string;
  name: string;
  kind: string;
  agency?: string;
  agencyName?: string;
  part2?: boolean;
}

export interface AuthenticatedSource {
  sourceId: string;
  sourceCode: string;
  agencyId: string;
  agencyCode: string;
}

export interface SourceSummary {
  code: string;
  name: string;
  kind: AgencyKind;
  agency: string;
  part2: boolean;
  disabled: boolean;
  activeKeys: number;
  createdAt: string;
}

const CODE = /^[a-z0-9][a-z0-9-]{0,63}$/;

@Injectable()
export class PartnersService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly cfg: AppConfig,
    private readonly audit: AuditService,
  ) {}

  async createSource(input: CreateSourceInput): Promise<{ code: string; agency: string; apiKey: string }> {
    const errors: { path: string; message: string }[] = [];
    if (!CODE.test(input.code)) errors.push({ path: 'code', message: 'code must be 1-64 lower-case letters, digits or -' });
    if (!input.name || input.name.length > 200) errors.push({ path: 'name', message: 'name must be 1-200 characters' });
    if (!(AGENCY_KINDS as readonly string[]).includes(input.kind))
      errors.push({ path: 'kind', message: `kind must be one of ${AGENCY_KINDS.join(', ')}` });
    const agencyCode = input.agency ?? input.code;
    if (!CODE.test(agencyCode)) errors.push({ path: 'agency', message: 'agency must be 1-64 lower-case letters, digits or -' });
    if (errors.length) throw new ValidationFailedError('invalid source', errors);
    const kind = input.kind as AgencyKind;

    return this.db.transaction(async (em) => {
      if (await em.findOneBy(Source, { code: input.code })) throw new ConflictError(`source ${input.code} already exists`);
      let agency = await em.findOneBy(Agency, { code: agencyCode });
      if (!agency) {
        agency = await em.save(
          em.create(Agency, { code: agencyCode, name: input.agencyName ?? input.name, kind, part2: input.part2 ?? false }),
        );
      } else if (input.part2 !== undefined && agency.part2 !== input.part2) {
        agency.part2 = input.part2;
        await em.save(agency);
      }
      const source = await em.save(em.create(Source, { code: input.code, name: input.name, kind, agencyId: agency.id, disabledAt: null }));
      const key = generateApiKey();
      await em.save(em.create(SourceApiKey, { sourceId: source.id, keyId: key.keyId, digest: key.digest, expiresAt: null }));
      await this.audit.record(em, {
        ...currentAuditContext(), action: 'source.create', resource: `source/${source.code}`,
        details: { agency: agency.code, kind, part2: agency.part2, keyId: key.keyId },
      });
      return { code: source.code, agency: agency.code, apiKey: key.token };
    });
  }

  async listSources(): Promise<SourceSummary[]> {
    const rows: {
      code: string; name: string; kind: AgencyKind; agency: string; part2: boolean; disabled_at: Date | null; active_keys: string; created_at: Date;
    }[] = await this.db.query(
      `SELECT s.code, s.name, s.kind, a.code AS agency, a.part2, s.disabled_at, s.created_at,
              (SELECT count(*) FROM source_api_key k WHERE k.source_id = s.id AND (k.expires_at IS NULL OR k.expires_at > now())) AS active_keys
         FROM source s JOIN agency a ON a.id = s.agency_id ORDER BY s.code`,
    );
    return rows.map((r) => ({
      code: r.code, name: r.name, kind: r.kind, agency: r.agency, part2: r.part2, disabled: r.disabled_at !== null,
      activeKeys: Number(r.active_keys), createdAt: r.created_at.toISOString(),
    }));
  }

  /** Issues a new key; the keys in use keep working for the grace period so partners can switch over. */
  async rotateKey(code: string): Promise<{ code: string; apiKey: string; previousKeysExpireAt: string }> {
    return this.db.transaction(async (em) => {
      const source = await em.findOneBy(Source, { code });
      if (!source) throw new NotFoundError(`source ${code} not found`);
      const expiresAt = new Date(Date.now() + this.cfg.KEY_ROTATION_GRACE_HOURS * 3600_000);
      await em.update(SourceApiKey, { sourceId: source.id, expiresAt: IsNull() }, { expiresAt });
      const key = generateApiKey();
      await em.save(em.create(SourceApiKey, { sourceId: source.id, keyId: key.keyId, digest: key.digest, expiresAt: null }));
      await this.audit.record(em, {
        ...currentAuditContext(), action: 'source.rotate_key', resource: `source/${code}`,
        details: { keyId: key.keyId, previousKeysExpireAt: expiresAt.toISOString() },
      });
      return { code, apiKey: key.token, previousKeysExpireAt: expiresAt.toISOString() };
    });
  }

  async disableSource(code: string): Promise<{ code: string; disabled: true }> {
    return this.db.transaction(async (em) => {
      const res: [unknown[], number] = await em.query(`UPDATE source SET disabled_at = coalesce(disabled_at, now()) WHERE code = $1 RETURNING id`, [code]);
      if (res[1] === 0) throw new NotFoundError(`source ${code} not found`);
      await this.audit.record(em, { ...currentAuditContext(), action: 'source.disable', resource: `source/${code}` });
      return { code, disabled: true as const };
    });
  }

  async setAgencyPart2(code: string, part2: boolean): Promise<{ code: string; part2: boolean }> {
    return this.db.transaction(async (em) => {
      const res: [unknown[], number] = await em.query(`UPDATE agency SET part2 = $2 WHERE code = $1 RETURNING id`, [code, part2]);
      if (res[1] === 0) throw new NotFoundError(`agency ${code} not found`);
      await this.audit.record(em, { ...currentAuditContext(), action: 'agency.update', resource: `agency/${code}`, details: { part2 } });
      return { code, part2 };
    });
  }

  /** Missing, unknown, rotated-out key or disabled source: 401 (issue 6: a disabled key is refused like any dead credential). */
  async authenticate(token: string | undefined): Promise<AuthenticatedSource> {
    if (!token) throw new UnauthenticatedError('missing API key: send Authorization: Bearer <key>');
    const parsed = parseApiKey(token);
    if (!parsed) throw new UnauthenticatedError('invalid API key');
    const rows: { digest: Buffer; expires_at: Date | null; source_id: string; source_code: string; disabled_at: Date | null; agency_id: string; agency_code: string }[] =
      await this.db.query(
        `SELECT k.digest, k.expires_at, s.id AS source_id, s.code AS source_code, s.disabled_at, a.id AS agency_id, a.code AS agency_code
           FROM source_api_key k JOIN source s ON s.id = k.source_id JOIN agency a ON a.id = s.agency_id
          WHERE k.key_id = $1`,
        [parsed.keyId],
      );
    const row = rows[0];
    // Compare even when no row matched so timing does not reveal which key ids exist.
    const ok = digestsEqual(digestKey(token), row?.digest ?? Buffer.alloc(32));
    if (!row || !ok) throw new UnauthenticatedError('invalid API key');
    if (row.expires_at && row.expires_at.getTime() <= Date.now()) throw new UnauthenticatedError('API key has been rotated out');
    if (row.disabled_at) throw new UnauthenticatedError(`source ${row.source_code} is disabled`);
    return { sourceId: row.source_id, sourceCode: row.source_code, agencyId: row.agency_id, agencyCode: row.agency_code };
  }

  async agencyIdByCode(code: string): Promise<string> {
    const a = await this.db.getRepository(Agency).findOneBy({ code });
    if (!a) throw new NotFoundError(`agency ${code} not found`);
    return a.id;
  }

  async sourceIdByCode(code: string): Promise<string> {
    const s = await this.db.getRepository(Source).findOneBy({ code });
    if (!s) throw new NotFoundError(`source ${code} not found`);
    return s.id;
  }
}
