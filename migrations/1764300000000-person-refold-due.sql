-- Read models (issues 3 and 5): the worker refolds the persons an apply touched in a transaction
-- of its own, right after the apply commits, so that refolding one batch overlaps applying the
-- next (bench:ingest: the refold was ~40% of an apply batch, run serially with it). The apply
-- writes one row per touched person here in its own transaction, so a crash between the two
-- commits leaves the debt on record; every refold deletes its persons' rows in the statement
-- that loads their events, and the worker's periodic sweep refolds rows left behind.
--
-- Append-only from the writers' side: inserts never conflict, so an apply never waits on a
-- refold's row locks. A row deleted by a refold was committed before that refold's load, so
-- its events are in the fold; a row committed later stays until the next refold.

CREATE TABLE person_refold_due (
  id bigint GENERATED ALWAYS AS IDENTITY,
  person_id uuid NOT NULL,
  due_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT person_refold_due_pk PRIMARY KEY (id)
);

CREATE INDEX person_refold_due_person_idx ON person_refold_due (person_id);

COMMENT ON TABLE person_refold_due IS 'Persons whose read model awaits a refold after an applied event; deleted by the refold.';
