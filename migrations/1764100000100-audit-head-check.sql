-- audit_head's guard (audit_head_advance_check, last set in 1763800700000-audit-append-many.sql)
-- tested every append with four subqueries (an entry count and a self-join over the range among
-- them): 0.45 ms of the ~1.1 ms an append holds the head lock (pg_stat_statements, track=all, 4 concurrent appenders;
-- docs/benchmarks.md "API reads: third round"). Appends under the lock are serial, so that was also
-- a third of the coalition's ceiling on audited actions per second. The rule is unchanged: the head
-- moves forward only, onto appended entries that chain from the old head without a gap.
-- A one-step move (a lone entry; most group commits) is now one index probe; a longer one is one
-- range scan.
CREATE OR REPLACE FUNCTION audit_head_advance_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ok boolean;
BEGIN
  IF NEW.id <> OLD.id OR NEW.seq <= OLD.seq THEN
    ok := false;
  ELSIF NEW.seq = OLD.seq + 1 THEN
    -- One step (a lone entry, most group commits): one index probe checks all of it.
    ok := EXISTS (SELECT 1 FROM audit_entry e WHERE e.seq = NEW.seq AND e.hash = NEW.hash AND e.prev_hash = OLD.hash);
  ELSE
    -- Several steps: one range scan; contiguous, chained from the old head, ending on the new one.
    SELECT count(*) = NEW.seq - OLD.seq AND bool_and(c.prev_hash = c.expected) AND bool_or(c.seq = NEW.seq AND c.hash = NEW.hash)
      INTO ok
      FROM (SELECT e.seq, e.hash, e.prev_hash, coalesce(lag(e.hash) OVER (ORDER BY e.seq), OLD.hash) AS expected
              FROM audit_entry e WHERE e.seq > OLD.seq AND e.seq <= NEW.seq) c;
  END IF;
  IF ok IS NOT TRUE THEN
    RAISE EXCEPTION 'audit head may only advance onto the appended entry' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
