-- Partner registry and the durable ingest path (issue 3).
-- Every timestamp is timestamptz; every constraint and index is named.

CREATE TABLE agency (
  id          uuid        NOT NULL DEFAULT gen_random_uuid(),
  code        text        NOT NULL,
  name        text        NOT NULL,
  kind        text        NOT NULL,
  part2       boolean     NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT agency_pk PRIMARY KEY (id),
  CONSTRAINT agency_code_uq UNIQUE (code),
  CONSTRAINT agency_code_format_ck CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
  CONSTRAINT agency_kind_ck CHECK (kind IN ('court', 'jail', 'provider', 'other')),
  CONSTRAINT agency_name_ck CHECK (length(name) BETWEEN 1 AND 200)
);

CREATE TABLE source (
  id           uuid        NOT NULL DEFAULT gen_random_uuid(),
  code         text        NOT NULL,
  name         text        NOT NULL,
  kind         text        NOT NULL,
  agency_id    uuid        NOT NULL,
  disabled_at  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT source_pk PRIMARY KEY (id),
  CONSTRAINT source_code_uq UNIQUE (code),
  CONSTRAINT source_code_format_ck CHECK (code ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
  CONSTRAINT source_kind_ck CHECK (kind IN ('court', 'jail', 'provider', 'other')),
  CONSTRAINT source_agency_fk FOREIGN KEY (agency_id) REFERENCES agency (id)
);
CREATE INDEX source_agency_idx ON source (agency_id);

-- Keys are shown once; only the SHA-256 digest is kept. key_id is the public,
-- non-secret part of the token used to find the row before a constant-time compare.
CREATE TABLE source_api_key (
  id          uuid        NOT NULL DEFAULT gen_random_uuid(),
  source_id   uuid        NOT NULL,
  key_id      text        NOT NULL,
  digest      bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz,
  CONSTRAINT source_api_key_pk PRIMARY KEY (id),
  CONSTRAINT source_api_key_key_id_uq UNIQUE (key_id),
  CONSTRAINT source_api_key_digest_len_ck CHECK (octet_length(digest) = 32),
  CONSTRAINT source_api_key_source_fk FOREIGN KEY (source_id) REFERENCES source (id)
);
CREATE INDEX source_api_key_source_idx ON source_api_key (source_id);

-- The append-only inbox: one row per accepted event, raw payload kept.
-- Rows gain processing state (applied_at, attempts, ...) but payload never changes.
CREATE TABLE inbox_event (
  id                bigint      GENERATED ALWAYS AS IDENTITY,
  source_id         uuid        NOT NULL,
  event_id          text        NOT NULL,
  type              text        NOT NULL,
  record_id         text        NOT NULL,
  occurred_at       timestamptz NOT NULL,
  payload           jsonb       NOT NULL,
  content_hash      bytea       NOT NULL,
  received_at       timestamptz NOT NULL DEFAULT now(),
  applied_at        timestamptz,
  attempts          integer     NOT NULL DEFAULT 0,
  last_error        text,
  dead_lettered_at  timestamptz,
  CONSTRAINT inbox_event_pk PRIMARY KEY (id),
  CONSTRAINT inbox_event_source_event_uq UNIQUE (source_id, event_id),
  CONSTRAINT inbox_event_source_fk FOREIGN KEY (source_id) REFERENCES source (id),
  CONSTRAINT inbox_event_event_id_len_ck CHECK (length(event_id) BETWEEN 1 AND 128),
  CONSTRAINT inbox_event_hash_len_ck CHECK (octet_length(content_hash) = 32),
  CONSTRAINT inbox_event_attempts_ck CHECK (attempts >= 0)
);
-- The re-drive scans only what is still open.
CREATE INDEX inbox_event_open_idx ON inbox_event (received_at)
  WHERE applied_at IS NULL AND dead_lettered_at IS NULL;
CREATE INDEX inbox_event_dead_idx ON inbox_event (source_id)
  WHERE dead_lettered_at IS NOT NULL;

CREATE FUNCTION inbox_event_payload_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.payload IS DISTINCT FROM OLD.payload
     OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
     OR NEW.source_id IS DISTINCT FROM OLD.source_id
     OR NEW.event_id IS DISTINCT FROM OLD.event_id THEN
    RAISE EXCEPTION 'inbox_event % payload is immutable', OLD.id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER inbox_event_payload_immutable_trg
  BEFORE UPDATE ON inbox_event
  FOR EACH ROW EXECUTE FUNCTION inbox_event_payload_immutable();

-- A person as one source knows them: latest demographics by occurred_at.
CREATE TABLE source_record (
  id                  bigint      GENERATED ALWAYS AS IDENTITY,
  source_id           uuid        NOT NULL,
  record_id           text        NOT NULL,
  demographics        jsonb       NOT NULL,
  demographics_hash   bytea       NOT NULL,
  demographics_as_of  timestamptz NOT NULL,
  version             integer     NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT source_record_pk PRIMARY KEY (id),
  CONSTRAINT source_record_source_record_uq UNIQUE (source_id, record_id),
  CONSTRAINT source_record_source_fk FOREIGN KEY (source_id) REFERENCES source (id),
  CONSTRAINT source_record_version_ck CHECK (version >= 1)
);

-- Every distinct set of demographics a record has carried.
CREATE TABLE source_record_version (
  id                bigint      GENERATED ALWAYS AS IDENTITY,
  source_record_id  bigint      NOT NULL,
  version           integer     NOT NULL,
  demographics      jsonb       NOT NULL,
  demographics_hash bytea       NOT NULL,
  occurred_at       timestamptz NOT NULL,
  inbox_event_id    bigint      NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT source_record_version_pk PRIMARY KEY (id),
  CONSTRAINT source_record_version_uq UNIQUE (source_record_id, version),
  CONSTRAINT source_record_version_record_fk FOREIGN KEY (source_record_id) REFERENCES source_record (id),
  CONSTRAINT source_record_version_inbox_fk FOREIGN KEY (inbox_event_id) REFERENCES inbox_event (id)
);
CREATE INDEX source_record_version_inbox_idx ON source_record_version (inbox_event_id);

-- The typed event log that read models fold, in occurred_at order per record.
CREATE TABLE record_event (
  id                bigint      GENERATED ALWAYS AS IDENTITY,
  inbox_event_id    bigint      NOT NULL,
  source_record_id  bigint      NOT NULL,
  type              text        NOT NULL,
  occurred_at       timestamptz NOT NULL,
  details           jsonb       NOT NULL,
  recorded_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT record_event_pk PRIMARY KEY (id),
  CONSTRAINT record_event_inbox_uq UNIQUE (inbox_event_id),
  CONSTRAINT record_event_inbox_fk FOREIGN KEY (inbox_event_id) REFERENCES inbox_event (id),
  CONSTRAINT record_event_record_fk FOREIGN KEY (source_record_id) REFERENCES source_record (id),
  CONSTRAINT record_event_type_ck CHECK (type IN (
    'booking', 'release', 'court_case', 'hearing', 'referral', 'service',
    'need_opened', 'need_closed', 'consent_signed', 'consent_revoked',
    'contact_assigned', 'record_corrected', 'record_expunged'))
);
CREATE INDEX record_event_record_occurred_idx ON record_event (source_record_id, occurred_at, id);
