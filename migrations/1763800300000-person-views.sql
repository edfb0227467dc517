-- Read models (issue 5): one row per live person, folded from the event log of its linked
-- records. Everything here can be dropped and rebuilt with `cli projections rebuild`.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE person_view (
  person_id             uuid        NOT NULL,
  state                 jsonb       NOT NULL,
  display_name          text        NOT NULL,
  search_name           text        NOT NULL,
  birth_year            integer,
  agencies              text[]      NOT NULL,
  agency_count          integer     NOT NULL,
  familiar              boolean     NOT NULL,
  criteria              text[]      NOT NULL DEFAULT '{}',
  in_custody            boolean     NOT NULL DEFAULT false,
  scheduled_release_at  timestamptz,
  open_needs            text[]      NOT NULL DEFAULT '{}',
  last_activity_at      timestamptz NOT NULL,
  folded_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT person_view_pk PRIMARY KEY (person_id),
  CONSTRAINT person_view_person_fk FOREIGN KEY (person_id) REFERENCES person (id),
  CONSTRAINT person_view_agency_count_ck CHECK (agency_count = cardinality(agencies))
);
-- The familiar-faces list: most recent activity first, keyset pagination on (last_activity_at, person_id).
CREATE INDEX person_view_familiar_activity_idx ON person_view (last_activity_at DESC, person_id) WHERE familiar;
CREATE INDEX person_view_familiar_name_idx ON person_view (display_name, person_id) WHERE familiar;
CREATE INDEX person_view_release_idx ON person_view (scheduled_release_at, person_id) WHERE in_custody;
CREATE INDEX person_view_agencies_idx ON person_view USING gin (agencies);
CREATE INDEX person_view_open_needs_idx ON person_view USING gin (open_needs);
CREATE INDEX person_view_search_name_trgm_idx ON person_view USING gin (search_name gin_trgm_ops);
CREATE INDEX person_view_birth_year_idx ON person_view (birth_year);

-- Consents in rows, so status (active / expiring / expired / revoked) is computed against now().
CREATE TABLE person_consent (
  person_id   uuid        NOT NULL,
  consent_id  text        NOT NULL,
  agency      text        NOT NULL,
  form        text        NOT NULL,
  partners    text[]      NOT NULL,
  categories  text[],
  signed_at   timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  revoked_at  timestamptz,
  CONSTRAINT person_consent_pk PRIMARY KEY (person_id, agency, consent_id),
  CONSTRAINT person_consent_person_fk FOREIGN KEY (person_id) REFERENCES person (id) ON DELETE CASCADE,
  CONSTRAINT person_consent_dates_ck CHECK (expires_at > signed_at)
);
CREATE INDEX person_consent_expires_idx ON person_consent (expires_at) WHERE revoked_at IS NULL;
