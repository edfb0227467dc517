import { loadConfig } from '../../../src/config/app.config';

describe('OIDC settings: the identity provider is trusted only with its issuer checked', () => {
  it('refuses OIDC_JWKS_URL without OIDC_ISSUER, naming the setting', () => {
    expect(() => loadConfig({ OIDC_JWKS_URL: 'https://idp.example.org/jwks' })).toThrow(/OIDC_ISSUER is required with OIDC_JWKS_URL/);
  });

  it('accepts both together', () => {
    expect(loadConfig({ OIDC_JWKS_URL: 'https://idp.example.org/jwks', OIDC_ISSUER: 'https://idp.example.org' })).toMatchObject({ OIDC_ISSUER: 'https://idp.example.org' });
  });

  it('still requires the IdP (or LOCAL_ISSUER=true) in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/OIDC_JWKS_URL is required when NODE_ENV=production/);
  });
});
