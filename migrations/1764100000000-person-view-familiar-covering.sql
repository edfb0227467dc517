-- The familiar-faces list walks person_view in its sort order (last activity, or name) and drops
-- rows the viewer's scope or filters exclude. With a selective filter (needCategory=housing: ~2% of
-- familiar persons) it walked ~3,400 index entries per page and fetched each heap row only to test
-- filter_keys and open_needs: ~6.7 ms of a list request at 200,000 persons. Carrying every column
-- the list selects or filters on in the index lets PostgreSQL answer with an index-only scan and test
-- the filters on the index tuple (2.4 ms for the same page; docs/benchmarks.md "API reads: third round").
-- The indexes grow (33 MB each instead of ~5 MB at 110,000 familiar persons); person_view rows
-- change on every fold anyway, so the write cost is the larger tuple, not an extra index.
-- Built without CONCURRENTLY, like every migration here: run it with the workers stopped.
DROP INDEX person_view_familiar_activity_idx;
CREATE INDEX person_view_familiar_activity_idx ON person_view (last_activity_at DESC, person_id)
  INCLUDE (folded_at, display_name, scheduled_release_at, in_custody, agencies, open_needs, filter_keys, criteria)
  WHERE familiar;
DROP INDEX person_view_familiar_name_idx;
CREATE INDEX person_view_familiar_name_idx ON person_view (display_name, person_id)
  INCLUDE (folded_at, last_activity_at, scheduled_release_at, in_custody, agencies, open_needs, filter_keys, criteria)
  WHERE familiar;
