-- linkage_record.normalised is only ever written whole and read whole (the linker's candidates,
-- person search, training samples), never queried inside. As jsonb every read paid jsonb's text
-- output per row (~10 us: a search reads ~200 rows, a link up to a dozen); json keeps the text the
-- engine wrote and returns it as stored, and is slightly smaller (no per-key offsets).
-- The rewrite takes an ACCESS EXCLUSIVE lock on linkage_record for its duration (seconds per
-- million records): run it with the workers stopped, as every migration here.
ALTER TABLE linkage_record ALTER COLUMN normalised TYPE json USING normalised::json;
