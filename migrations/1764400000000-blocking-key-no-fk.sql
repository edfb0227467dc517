-- Performance (issue 4, the million-record backfill): blocking_key is an index of linkage_record's
-- normalised demographics (about 14 keys per record), written only by the linker, in the same
-- statement as the record's link (writeBulkLinks, RecordLinkerService), for a source_record id
-- that statement's transaction has just written or locked. Its foreign key to source_record
-- checked each key row with a trigger and a row lock on the record: measured on 1.42 million key
-- rows (100,000 records), 22.6 s to insert with it against 12.6 s without. It guarded nothing the
-- writers do not: nothing deletes source_record rows (an expungement is an event the read model folds), so no
-- key can lose its record. The primary key and blocking_key_record_idx stay.

ALTER TABLE blocking_key DROP CONSTRAINT blocking_key_record_fk;
