-- Several audit entries under ONE head lock: the worker appends one entry per applied event of a
-- batch in the batch's transaction. Same chain as audit_append (same canonical text and hash);
-- the entries of one call share one time, taken under the lock.

CREATE FUNCTION audit_append_many(p_entries jsonb)
RETURNS TABLE (entry_seq bigint, entry_time timestamptz, entry_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_seq     bigint;
  v_prev    bytea;
  v_time    timestamptz;
  v_hash    bytea;
  v_ids     uuid[];
  v_details jsonb;
  e         jsonb;
BEGIN
  IF jsonb_typeof(p_entries) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'audit_append_many takes a JSON array of entries';
  END IF;
  IF jsonb_array_length(p_entries) = 0 THEN
    RETURN;
  END IF;
  SELECT h.seq, h.hash INTO v_seq, v_prev FROM audit_head h WHERE h.id = 1 FOR UPDATE;
  v_time := clock_timestamp();
  FOR e IN SELECT t.value FROM jsonb_array_elements(p_entries) WITH ORDINALITY AS t(value, n) ORDER BY t.n LOOP
    v_seq := v_seq + 1;
    v_ids := ARRAY(SELECT jsonb_array_elements_text(coalesce(e->'personIds', '[]'::jsonb)))::uuid[];
    v_details := coalesce(e->'details', '{}'::jsonb);
    v_hash := sha256(v_prev || convert_to(audit_canonical(v_seq, v_time, e->>'actor', e->>'actorKind', e->>'agency', e->>'role',
      e->>'purpose', e->>'action', e->>'resource', v_ids, e->>'outcome', e->>'requestId', (e->>'clientAddress')::inet, v_details), 'UTF8'));
    INSERT INTO audit_entry (seq, time, actor, actor_kind, agency, role, purpose, action, resource, person_ids, outcome,
                             request_id, client_address, details, prev_hash, hash)
    VALUES (v_seq, v_time, e->>'actor', e->>'actorKind', e->>'agency', e->>'role', e->>'purpose', e->>'action', e->>'resource',
            v_ids, e->>'outcome', e->>'requestId', (e->>'clientAddress')::inet, v_details, v_prev, v_hash);
    v_prev := v_hash;
    entry_seq := v_seq;
    entry_time := v_time;
    entry_hash := v_hash;
    RETURN NEXT;
  END LOOP;
  UPDATE audit_head SET seq = v_seq, hash = v_hash WHERE id = 1;
END
$$;

-- The head may now move several steps at once, but only onto entries that were just appended
-- and chain from the old head without a gap or a broken link.
CREATE OR REPLACE FUNCTION audit_head_advance_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id <> OLD.id OR NEW.seq <= OLD.seq
     OR NOT EXISTS (SELECT 1 FROM audit_entry e WHERE e.seq = NEW.seq AND e.hash = NEW.hash)
     OR NOT EXISTS (SELECT 1 FROM audit_entry e WHERE e.seq = OLD.seq + 1 AND e.prev_hash = OLD.hash)
     OR (SELECT count(*) FROM audit_entry e WHERE e.seq > OLD.seq AND e.seq <= NEW.seq) <> NEW.seq - OLD.seq
     OR EXISTS (SELECT 1 FROM audit_entry a JOIN audit_entry b ON b.seq = a.seq + 1
                 WHERE a.seq > OLD.seq AND b.seq <= NEW.seq AND b.prev_hash <> a.hash) THEN
    RAISE EXCEPTION 'audit head may only advance onto the appended entry' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;

REVOKE ALL ON FUNCTION audit_append_many(jsonb) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'familiar_faces_app') THEN
    GRANT EXECUTE ON FUNCTION audit_append_many(jsonb) TO familiar_faces_app;
  ELSE
    RAISE NOTICE 'role familiar_faces_app does not exist: grant EXECUTE on audit_append_many(jsonb) to the service role by hand';
  END IF;
END
$$;
