-- Performance (issues 3 and 4): PostgreSQL's JIT compiler is for long analytical queries. It
-- switches on when a plan's estimated cost passes jit_above_cost, and the refold's load (a person's
-- records with a per-record aggregate of their events) is estimated far above it because the
-- planner assumes ~95 events per record. Measured on bench:ingest: 23 ms of JIT compilation on
-- every execution of a load that runs in 12 ms without it (2.3 s of the database's 3.2 s on that
-- statement), and the compiled code is not kept between executions. The service runs short
-- statements only, so JIT is off for this database; sessions started after this migration get it.
-- A DBA who wants it for ad-hoc analysis can still SET jit = on in a session.

DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
END
$$;
