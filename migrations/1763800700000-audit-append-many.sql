-- Several audit entries under ONE head lock: the worker appends one entry per applied event of a
-- batch in the batch's transaction. Same chain as audit_append (same canonical text and hash, which
-- `audit verify` recomputes in TypeScript); the entries of one call share one time, taken under the lock.

-- One field of the canonical text, exactly as audit_canonical() renders it (inlined by the planner).
CREATE FUNCTION audit_canonical_field(f text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN f IS NULL THEN '~' ELSE octet_length(f)::text || ':' || f END
$$;

-- p_entries: [{actor, actorKind, agency, role, purpose, action, resource, personIds (comma-joined
-- uuids), outcome, requestId, clientAddress, details}, ...] in chain order. The canonical text is
-- audit_canonical()'s, built field by field (no per-entry subquery); the rows go in one INSERT.
CREATE FUNCTION audit_append_many(p_entries jsonb)
RETURNS TABLE (entry_seq bigint, entry_time timestamptz, entry_hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_first  bigint;
  v_seq    bigint;
  v_prev   bytea;
  v_time   timestamptz;
  v_time_f text;
  v_hash   bytea;
  v_prevs  bytea[] := '{}';
  v_hashes bytea[] := '{}';
  e        jsonb;
BEGIN
  IF jsonb_typeof(p_entries) IS DISTINCT FROM 'array' THEN
    RAISE EXCEPTION 'audit_append_many takes a JSON array of entries';
  END IF;
  IF jsonb_array_length(p_entries) = 0 THEN
    RETURN;
  END IF;
  SELECT h.seq, h.hash INTO v_first, v_prev FROM audit_head h WHERE h.id = 1 FOR UPDATE;
  v_seq := v_first;
  v_time := clock_timestamp();
  v_time_f := audit_canonical_field(to_char(v_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));
  FOR e IN SELECT t.value FROM jsonb_array_elements(p_entries) WITH ORDINALITY AS t(value, n) ORDER BY t.n LOOP
    v_seq := v_seq + 1;
    v_hash := sha256(v_prev || convert_to('ff-audit-v1|'
      || audit_canonical_field(v_seq::text) || v_time_f
      || audit_canonical_field(e->>'actor') || audit_canonical_field(e->>'actorKind') || audit_canonical_field(e->>'agency')
      || audit_canonical_field(e->>'role') || audit_canonical_field(e->>'purpose') || audit_canonical_field(e->>'action')
      || audit_canonical_field(e->>'resource')
      || audit_canonical_field(array_to_string(coalesce(string_to_array(e->>'personIds', ','), '{}')::uuid[], ','))
      || audit_canonical_field(e->>'outcome') || audit_canonical_field(e->>'requestId')
      || audit_canonical_field(((e->>'clientAddress')::inet)::text)
      || audit_canonical_field(coalesce(e->'details', '{}'::jsonb)::text), 'UTF8'));
    v_prevs := v_prevs || v_prev;
    v_hashes := v_hashes || v_hash;
    v_prev := v_hash;
  END LOOP;
  INSERT INTO audit_entry (seq, time, actor, actor_kind, agency, role, purpose, action, resource, person_ids, outcome,
                           request_id, client_address, details, prev_hash, hash)
  SELECT v_first + t.n, v_time, t.value->>'actor', t.value->>'actorKind', t.value->>'agency', t.value->>'role', t.value->>'purpose',
         t.value->>'action', t.value->>'resource', coalesce(string_to_array(t.value->>'personIds', ','), '{}')::uuid[],
         t.value->>'outcome', t.value->>'requestId', (t.value->>'clientAddress')::inet, coalesce(t.value->'details', '{}'::jsonb),
         v_prevs[t.n], v_hashes[t.n]
    FROM jsonb_array_elements(p_entries) WITH ORDINALITY AS t(value, n)
   ORDER BY t.n;
  UPDATE audit_head SET seq = v_seq, hash = v_prev WHERE id = 1;
  RETURN QUERY SELECT v_first + g.n, v_time, v_hashes[g.n] FROM generate_series(1, v_seq - v_first) AS g(n);
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
