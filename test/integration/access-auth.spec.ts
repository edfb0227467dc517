import { SignJWT, generateKeyPair, importJWK, type JWK } from 'jose';
import { LocalIssuerService, LOCAL_ISSUER } from '../../src/access/local-issuer.service';
import { TestStack } from '../support/stack';

describe('people authenticate with bearer JWTs (admin ingest status)', () => {
  let stack: TestStack;
  let issuer: LocalIssuerService;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
    await stack.createSource('county-jail', 'jail');
    issuer = stack.api!.get(LocalIssuerService);
  });
  afterAll(async () => stack.close());

  const status = (token?: string) => {
    const r = stack.http().get('/api/v1/ingest/status');
    return token ? r.set('Authorization', `Bearer ${token}`) : r;
  };

  it('answers an admin with the counts overall and per source', async () => {
    const token = await issuer.mint({ sub: 'ada', agency: 'county-jail', roles: ['admin'], ttlSeconds: 60 });
    const res = await status(token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ received: 0, processed: 0, pending: 0, failed: 0, deadLettered: 0 });
    expect(res.body.sources['county-jail']).toEqual({ received: 0, processed: 0, pending: 0, failed: 0, deadLettered: 0 });
  });

  it('refuses a role that is not admin with 403', async () => {
    const token = await issuer.mint({ sub: 'cm', agency: 'county-jail', roles: ['case_manager'], ttlSeconds: 60 });
    expect((await status(token)).status).toBe(403);
  });

  it('refuses a missing token with 401', async () => {
    expect((await status()).status).toBe(401);
  });

  it('refuses an expired token with 401', async () => {
    const token = await issuer.mint({ sub: 'ada', agency: 'county-jail', roles: ['admin'], ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    const res = await status(token);
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/exp/);
  });

  it('refuses a token signed by another key with 401', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ agency: 'county-jail', roles: ['admin'] })
      .setProtectedHeader({ alg: 'ES256' }).setSubject('eve').setIssuer(LOCAL_ISSUER).setAudience('familiar-faces')
      .setExpirationTime('5m').sign(privateKey);
    expect((await status(forged)).status).toBe(401);
  });

  it('refuses an HS256 token with 401', async () => {
    const forged = await new SignJWT({ agency: 'county-jail', roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256' }).setSubject('eve').setIssuer(LOCAL_ISSUER).setAudience('familiar-faces')
      .setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(32)));
    const res = await status(forged);
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/RS256 or ES256/);
  });

  it('refuses a token for an unknown agency with 401', async () => {
    const token = await issuer.mint({ sub: 'ada', agency: 'nowhere', roles: ['admin'], ttlSeconds: 60 });
    const res = await status(token);
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/unknown agency/);
  });

  it('refuses a token for another audience with 401, even when signed by the local issuer', async () => {
    await issuer.mint({ sub: 'ada', agency: 'county-jail', roles: ['admin'], ttlSeconds: 60 }); // ensures the key exists
    const [row] = await stack.query<{ kid: string; private_jwk: JWK }>(`SELECT kid, private_jwk FROM local_issuer_key`);
    const key = await importJWK(row.private_jwk, 'ES256');
    const token = await new SignJWT({ agency: 'county-jail', roles: ['admin'] })
      .setProtectedHeader({ alg: 'ES256', kid: row.kid }).setSubject('ada').setIssuer(LOCAL_ISSUER).setAudience('some-other-service')
      .setExpirationTime('5m').sign(key);
    const res = await status(token);
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/aud/);
  });
});
