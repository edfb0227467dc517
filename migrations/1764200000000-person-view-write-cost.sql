-- Ingest (issue 3): every applied batch refolds and rewrites the persons it touched, and two costs of
-- that write were PostgreSQL's alone (measured with bench:ingest, ~164 persons per batch):
--
-- 1. filter_keys was a generated column. PostgreSQL ran person_view_filter_keys(state), a SQL function
--    over the jsonb state, on every written row: about 0.3 ms per row, 15-30 ms per batch. The
--    projection now computes the same keys from the state it has just folded (filterKeys in
--    src/persons/person.fold.ts) and writes them like every other column. DROP EXPRESSION keeps the
--    stored values. The function stays as the SQL statement of the rule: an integration test holds
--    the projection's keys equal to it, and an operator can check a live table with
--      SELECT count(*) FROM person_view
--       WHERE NOT (filter_keys @> person_view_filter_keys(state) AND filter_keys <@ person_view_filter_keys(state));
--
-- 2. state (about 4.7 kB of jsonb per person) was compressed with pglz on every write and
--    decompressed on every read of the old row. lz4 is several times faster at both, at a similar
--    size. Only values written from now on use it; existing ones are rewritten as persons refold.
--    A server built without lz4 keeps pglz (the statement fails with feature_not_supported).

ALTER TABLE person_view ALTER COLUMN filter_keys DROP EXPRESSION;
ALTER TABLE person_view ALTER COLUMN filter_keys SET DEFAULT '{}';
ALTER TABLE person_view ALTER COLUMN filter_keys SET NOT NULL;

COMMENT ON FUNCTION person_view_filter_keys(jsonb) IS
  'The rule person_view.filter_keys follows (written by the projection, src/persons/person.fold.ts filterKeys); kept to check a table against it.';

DO $$
BEGIN
  ALTER TABLE person_view ALTER COLUMN state SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this server has no lz4; person_view.state stays pglz-compressed';
END
$$;
