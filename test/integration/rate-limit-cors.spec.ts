import { LocalIssuerService } from '../../src/access/local-issuer.service';
import { ConfigError, loadConfig } from '../../src/config/app.config';
import { makeEvent, TestStack } from '../support/stack';

describe('hardening: rate limits per user and per source key, CORS closed unless configured', () => {
  describe('with small limits and no CORS_ORIGINS', () => {
    let stack: TestStack;
    beforeAll(async () => {
      stack = await TestStack.start({ workers: 0, env: { RATE_LIMIT_USER_PER_MIN: '3', RATE_LIMIT_SOURCE_PER_MIN: '2' } });
    });
    afterAll(async () => stack.close());

    const list = (tok: string) =>
      stack.http().get('/api/v1/familiar-faces').set('Authorization', `Bearer ${tok}`).set('X-Purpose-Of-Use', 'care_coordination');

    it('answers a user over the limit 429 with Retry-After, across endpoints; another user of the same agency is unaffected', async () => {
      await stack.createSource('county-jail', 'jail');
      const issuer = stack.api!.get(LocalIssuerService);
      const alice = await issuer.mint({ sub: 'alice', agency: 'county-jail', roles: ['case_manager'], ttlSeconds: 600 });
      const bob = await issuer.mint({ sub: 'bob', agency: 'county-jail', roles: ['case_manager'], ttlSeconds: 600 });
      // A second token for the same user shares the budget: it is counted per user, not per token.
      const alice2 = await issuer.mint({ sub: 'alice', agency: 'county-jail', roles: ['case_manager'], ttlSeconds: 300 });

      const first = await list(alice);
      expect(first.status).toBe(200);
      expect(first.headers['x-ratelimit-limit']).toBe('3');
      expect((await list(alice2)).status).toBe(200);
      expect((await stack.http().get('/api/v1/custody/releases').set('Authorization', `Bearer ${alice}`).set('X-Purpose-Of-Use', 'care_coordination')).status).toBe(200);
      const over = await list(alice2);
      expect(over.status).toBe(429);
      const retry = Number(over.headers['retry-after']);
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(60);
      expect(over.body).toMatchObject({ statusCode: 429 });

      expect((await list(bob)).status).toBe(200);
    });

    it('answers a source key over the limit 429 with Retry-After; another source is unaffected', async () => {
      const court = await stack.createSource('county-court', 'court');
      const clinic = await stack.createSource('clinic', 'provider');
      expect((await stack.sendEvents(court, [makeEvent()])).status).toBe(202);
      expect((await stack.sendEvents(court, [makeEvent()])).status).toBe(202);
      const over = await stack.sendEvents(court, [makeEvent()]);
      expect(over.status).toBe(429);
      expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await stack.sendEvents(clinic, [makeEvent()])).status).toBe(202);
    });

    it('sends no CORS headers, also not on a preflight', async () => {
      const pre = await stack.http().options('/api/v1/familiar-faces')
        .set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'authorization,x-purpose-of-use');
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
      expect(pre.headers['access-control-allow-headers']).toBeUndefined();
      const get = await stack.http().get('/health/live').set('Origin', 'https://evil.example');
      expect(get.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('with CORS_ORIGINS set', () => {
    let stack: TestStack;
    beforeAll(async () => {
      stack = await TestStack.start({ workers: 0, env: { CORS_ORIGINS: 'https://ff.example.org, http://localhost:5173' } });
    });
    afterAll(async () => stack.close());

    it('answers a preflight from a configured origin, and not from another', async () => {
      const ok = await stack.http().options('/api/v1/familiar-faces')
        .set('Origin', 'https://ff.example.org').set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'authorization,x-purpose-of-use');
      expect(ok.status).toBe(204);
      expect(ok.headers['access-control-allow-origin']).toBe('https://ff.example.org');
      expect(ok.headers['access-control-allow-headers']?.toLowerCase()).toContain('x-purpose-of-use');
      const other = await stack.http().options('/api/v1/familiar-faces')
        .set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'GET');
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      const get = await stack.http().get('/health/live').set('Origin', 'http://localhost:5173');
      expect(get.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    });
  });

  it('validates the settings, naming them', () => {
    const bad = (env: Record<string, string>): string => {
      try {
        loadConfig(env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(bad({ CORS_ORIGINS: 'https://ok.example,*' })).toContain('CORS_ORIGINS');
    expect(bad({ CORS_ORIGINS: 'https://ok.example/path' })).toContain('CORS_ORIGINS');
    expect(bad({ RATE_LIMIT_USER_PER_MIN: '-1' })).toContain('RATE_LIMIT_USER_PER_MIN');
    expect(bad({ RATE_LIMIT_SOURCE_PER_MIN: 'lots' })).toContain('RATE_LIMIT_SOURCE_PER_MIN');
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:5173', RATE_LIMIT_USER_PER_MIN: '0' })).toMatchObject({
      CORS_ORIGINS: 'https://a.example, http://localhost:5173', RATE_LIMIT_USER_PER_MIN: 0,
    });
  });
});
