import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike } from 'jose';
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

  it('refuses a token that was accepted once after it expires (the verified-token cache never outlives exp)', async () => {
    const token = await issuer.mint({ sub: 'ada', agency: 'county-jail', roles: ['admin'], ttlSeconds: 2 });
    expect((await status(token)).status).toBe(200);
    expect((await status(token)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3100));
    expect((await status(token)).status).toBe(401);
  });

  it('refuses a tampered copy of a token it accepted (the cache matches the exact token)', async () => {
    const token = await issuer.mint({ sub: 'cm', agency: 'county-jail', roles: ['case_manager'], ttlSeconds: 60 });
    expect((await status(token)).status).toBe(403);
    const [h, body, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forgedBody = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url');
    expect((await status(`${h}.${forgedBody}.${sig}`)).status).toBe(401);
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

describe("people's tokens from the coalition identity provider (JWKS URL, issuer, audience; RS256 or ES256)", () => {
  const ISSUER = 'https://idp.example.test/realms/coalition';
  let stack: TestStack;
  let jwks: http.Server;
  let rsa: KeyLike;
  let ec: KeyLike;

  beforeAll(async () => {
    const rs = await generateKeyPair('RS256');
    const es = await generateKeyPair('ES256');
    rsa = rs.privateKey;
    ec = es.privateKey;
    const keys = [{ ...(await exportJWK(rs.publicKey)), kid: 'rs-1', alg: 'RS256', use: 'sig' }, { ...(await exportJWK(es.publicKey)), kid: 'es-1', alg: 'ES256', use: 'sig' }];
    jwks = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    stack = await TestStack.start({ workers: 0, env: { OIDC_JWKS_URL: url, OIDC_ISSUER: ISSUER, LOCAL_ISSUER: 'false' } });
    await stack.createSource('county-jail', 'jail');
  });
  afterAll(async () => {
    await stack.close();
    await new Promise((r) => jwks.close(r));
  });

  const token = (o: { alg?: string; kid?: string; key?: KeyLike; iss?: string; aud?: string; agency?: string } = {}): Promise<string> =>
    new SignJWT({ agency: o.agency ?? 'county-jail', roles: ['admin'] })
      .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'rs-1' }).setSubject('ada').setIssuer(o.iss ?? ISSUER)
      .setAudience(o.aud ?? 'familiar-faces').setExpirationTime('5m').sign(o.key ?? rsa);
  const status = (t: string) => stack.http().get('/api/v1/ingest/status').set('Authorization', `Bearer ${t}`);

  it('accepts RS256 and ES256 tokens signed by a key the JWKS URL serves', async () => {
    expect((await status(await token())).status).toBe(200);
    expect((await status(await token({ alg: 'ES256', kid: 'es-1', key: ec }))).status).toBe(200);
  });

  it('refuses a wrong issuer, a wrong audience, an unknown agency and a key the JWKS does not hold, with 401', async () => {
    expect((await status(await token({ iss: 'https://evil.example.test' }))).body).toMatchObject({ statusCode: 401, message: expect.stringMatching(/iss/) });
    expect((await status(await token({ aud: 'another-service' }))).body).toMatchObject({ statusCode: 401, message: expect.stringMatching(/aud/) });
    expect((await status(await token({ agency: 'nowhere' }))).status).toBe(401);
    const other = await generateKeyPair('RS256');
    expect((await status(await token({ key: other.privateKey }))).status).toBe(401);
  });

  it('refuses algorithms other than RS256/ES256 (RS512) and local-issuer tokens when the local issuer is off', async () => {
    const rs512 = await generateKeyPair('RS512');
    const res = await status(await token({ alg: 'RS512', key: rs512.privateKey }));
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/RS256 or ES256/);
    const { privateKey } = await generateKeyPair('ES256');
    expect((await status(await token({ alg: 'ES256', kid: 'es-1', key: privateKey, iss: LOCAL_ISSUER }))).status).toBe(401);
  });
});
