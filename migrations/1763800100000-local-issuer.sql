-- Signing key of the built-in token issuer used by demos and tests.
-- Production deployments verify the coalition identity provider's tokens instead (OIDC_JWKS_URL).
CREATE TABLE local_issuer_key (
  kid          text        NOT NULL,
  alg          text        NOT NULL,
  private_jwk  jsonb       NOT NULL,
  public_jwk   jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT local_issuer_key_pk PRIMARY KEY (kid),
  CONSTRAINT local_issuer_key_alg_ck CHECK (alg IN ('ES256', 'RS256'))
);
