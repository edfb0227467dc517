-- The settings each kind of process last started with (secrets redacted), so that a change of
-- configuration through the environment is written to the audit log once, at the next start.
CREATE TABLE config_fingerprint (
  process_role  text        NOT NULL,
  settings      jsonb       NOT NULL,
  hash          bytea       NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT config_fingerprint_pk PRIMARY KEY (process_role),
  CONSTRAINT config_fingerprint_role_ck CHECK (process_role IN ('api', 'worker', 'all')),
  CONSTRAINT config_fingerprint_hash_ck CHECK (octet_length(hash) = 32)
);
