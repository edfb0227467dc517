-- The audit log (issue 6, DESIGN invariant 6): append-only and hash-chained.
-- Every entry's hash covers its canonical content and the previous entry's hash. The chain's
-- order is kept by audit_head, one row locked by each append (audit_append below), so the
-- sequence has no gaps and equals commit order. Entries carry ids only, never personal data.

CREATE TABLE audit_entry (
  seq             bigint      NOT NULL,
  time            timestamptz NOT NULL,
  actor           text        NOT NULL,
  actor_kind      text        NOT NULL,
  agency          text,
  role            text,
  purpose         text,
  action          text        NOT NULL,
  resource        text        NOT NULL,
  person_ids      uuid[]      NOT NULL DEFAULT '{}',
  outcome         text        NOT NULL,
  request_id      text,
  client_address  inet,
  details         jsonb       NOT NULL DEFAULT '{}',
  prev_hash       bytea       NOT NULL,
  hash            bytea       NOT NULL,
  CONSTRAINT audit_entry_pk PRIMARY KEY (seq),
  CONSTRAINT audit_entry_seq_ck CHECK (seq > 0),
  CONSTRAINT audit_entry_actor_kind_ck CHECK (actor_kind IN ('user', 'source', 'system', 'cli')),
  CONSTRAINT audit_entry_outcome_ck CHECK (outcome IN ('allowed', 'denied')),
  CONSTRAINT audit_entry_actor_ck CHECK (length(actor) BETWEEN 1 AND 200),
  CONSTRAINT audit_entry_action_ck CHECK (action ~ '^[a-z][a-z0-9_.-]{0,99}$'),
  CONSTRAINT audit_entry_details_ck CHECK (jsonb_typeof(details) = 'object'),
  CONSTRAINT audit_entry_hash_len_ck CHECK (octet_length(hash) = 32 AND octet_length(prev_hash) = 32)
);
CREATE INDEX audit_entry_time_idx ON audit_entry (time);
CREATE INDEX audit_entry_actor_seq_idx ON audit_entry (actor, seq);
CREATE INDEX audit_entry_agency_seq_idx ON audit_entry (agency, seq);
CREATE INDEX audit_entry_person_ids_gin ON audit_entry USING gin (person_ids);

-- The chain's head: the last sequence number and hash. Genesis hash is 32 zero bytes.
CREATE TABLE audit_head (
  id    smallint NOT NULL DEFAULT 1,
  seq   bigint   NOT NULL,
  hash  bytea    NOT NULL,
  CONSTRAINT audit_head_pk PRIMARY KEY (id),
  CONSTRAINT audit_head_single_ck CHECK (id = 1)
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- The canonical text an entry's hash covers. `audit verify` rebuilds it independently in
-- TypeScript (src/audit/audit.canonical.ts) from the stored columns: each field is
-- "<utf8 length>:<text>" or "~" for NULL, after a version tag.
CREATE FUNCTION audit_canonical(
  p_seq bigint, p_time timestamptz, p_actor text, p_actor_kind text, p_agency text, p_role text, p_purpose text,
  p_action text, p_resource text, p_person_ids uuid[], p_outcome text, p_request_id text, p_client_address inet, p_details jsonb
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'ff-audit-v1|' || string_agg(CASE WHEN f IS NULL THEN '~' ELSE octet_length(f)::text || ':' || f END, '' ORDER BY n)
    FROM unnest(ARRAY[
      p_seq::text,
      to_char(p_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      p_actor, p_actor_kind, p_agency, p_role, p_purpose, p_action, p_resource,
      array_to_string(p_person_ids, ','),
      p_outcome, p_request_id, p_client_address::text, p_details::text
    ]) WITH ORDINALITY AS t(f, n)
$$;

-- The only way entries are written: lock the head, chain, insert, move the head.
-- SECURITY DEFINER so the service's role needs no INSERT/UPDATE on the audit tables.
CREATE FUNCTION audit_append(
  p_actor text, p_actor_kind text, p_agency text, p_role text, p_purpose text, p_action text, p_resource text,
  p_person_ids uuid[], p_outcome text, p_request_id text, p_client_address inet, p_details jsonb
) RETURNS TABLE (entry_seq bigint, entry_time timestamptz, entry_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_seq  bigint;
  v_prev bytea;
  v_time timestamptz;
  v_hash bytea;
BEGIN
  SELECT h.seq, h.hash INTO v_seq, v_prev FROM audit_head h WHERE h.id = 1 FOR UPDATE;
  v_seq := v_seq + 1;
  -- Taken under the lock, so time never goes backwards along the chain (barring clock steps).
  v_time := clock_timestamp();
  v_hash := sha256(v_prev || convert_to(audit_canonical(v_seq, v_time, p_actor, p_actor_kind, p_agency, p_role, p_purpose,
    p_action, p_resource, coalesce(p_person_ids, '{}'), p_outcome, p_request_id, p_client_address, coalesce(p_details, '{}')), 'UTF8'));
  INSERT INTO audit_entry (seq, time, actor, actor_kind, agency, role, purpose, action, resource, person_ids, outcome,
                           request_id, client_address, details, prev_hash, hash)
  VALUES (v_seq, v_time, p_actor, p_actor_kind, p_agency, p_role, p_purpose, p_action, p_resource, coalesce(p_person_ids, '{}'),
          p_outcome, p_request_id, p_client_address, coalesce(p_details, '{}'), v_prev, v_hash);
  UPDATE audit_head SET seq = v_seq, hash = v_hash WHERE id = 1;
  RETURN QUERY SELECT v_seq, v_time, v_hash;
END
$$;

-- Append-only for everyone, the table owner included: only ALTER TABLE ... DISABLE TRIGGER
-- (owner or superuser) gets past this, and `audit verify` then shows what changed.
CREATE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();

-- The head only moves one step forward, onto the entry just appended.
CREATE FUNCTION audit_head_advance_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1
     OR NOT EXISTS (SELECT 1 FROM audit_entry e WHERE e.seq = NEW.seq AND e.hash = NEW.hash AND e.prev_hash = OLD.hash) THEN
    RAISE EXCEPTION 'audit head may only advance onto the appended entry' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER audit_head_advance BEFORE UPDATE ON audit_head FOR EACH ROW EXECUTE FUNCTION audit_head_advance_check();

-- The service's database role. Deployments run migrations as the owner and connect the
-- service as a LOGIN role that is a member of familiar_faces_app:
--   CREATE ROLE ff_api LOGIN PASSWORD '...' IN ROLE familiar_faces_app;
-- It reads and writes the other tables, but only SELECTs the audit tables and appends
-- through audit_append(). Skipped with a notice when the migrating role may not create roles.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'familiar_faces_app') THEN
    IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
      RAISE NOTICE 'role familiar_faces_app not created: % may not create roles; create it and re-run the grants in this file', current_user;
      RETURN;
    END IF;
    BEGIN
      CREATE ROLE familiar_faces_app NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another database of this cluster created it at the same moment
    END;
  END IF;
  GRANT USAGE ON SCHEMA public TO familiar_faces_app;
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO familiar_faces_app;
  GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO familiar_faces_app;
  REVOKE ALL ON audit_entry, audit_head FROM familiar_faces_app;
  GRANT SELECT ON audit_entry, audit_head TO familiar_faces_app;
  REVOKE ALL ON FUNCTION audit_append(text, text, text, text, text, text, text, uuid[], text, text, inet, jsonb) FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, text, text, text, uuid[], text, text, inet, jsonb) TO familiar_faces_app;
  -- Tables later migrations create get the usual rights; an audit table must revoke them.
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO familiar_faces_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO familiar_faces_app;
END
$$;
