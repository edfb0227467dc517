import { runCliFromSource } from '../support/cli-run';
import { TestStack } from '../support/stack';

const cli = runCliFromSource;

describe('users token: the local issuer is refused in production unless LOCAL_ISSUER=true', () => {
  let stack: TestStack;
  let env: Record<string, string>;
  const args = ['users', 'token', '--sub', 'alice', '--agency', 'county-jail', '--role', 'discharge_planner', '--json'];

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
    await stack.createSource('county-jail', 'jail');
    env = { DATABASE_URL: stack.dbUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', QUEUE_PREFIX: stack.prefix };
  });
  afterAll(async () => stack.close());

  it('refuses with NODE_ENV=production and an identity provider configured, and mints nothing', async () => {
    const r = await cli(args, { ...env, NODE_ENV: 'production', OIDC_JWKS_URL: 'https://idp.example.org/jwks', OIDC_ISSUER: 'https://idp.example.org' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/local issuer is disabled/);
    expect(r.stdout).not.toMatch(/eyJ/);
  }, 120_000);

  it('refuses with NODE_ENV=production and LOCAL_ISSUER=false', async () => {
    const r = await cli(args, { ...env, NODE_ENV: 'production', LOCAL_ISSUER: 'false', OIDC_JWKS_URL: 'https://idp.example.org/jwks', OIDC_ISSUER: 'https://idp.example.org' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/local issuer is disabled/);
  }, 120_000);

  it('mints with NODE_ENV=production when LOCAL_ISSUER=true is set explicitly', async () => {
    const r = await cli(args, { ...env, NODE_ENV: 'production', LOCAL_ISSUER: 'true' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { token: string }).token).toMatch(/^eyJ/);
  }, 120_000);
});
