-- Ingest (issue 3): every refold loads each record's events with the source's own event id (a
-- record_expunged event names the events it removes by that id). The id lived only in inbox_event,
-- so the load joined every event to its inbox row: a random read into a table of raw payloads,
-- about half of the load's time once the inbox outgrows memory (bench:ingest: 15 ms of the
-- refold's load per batch of ~164 persons). record_event now keeps the id too; inbox_event stays
-- the source of truth, and the writers copy the value from it in the statement that applies the event.

ALTER TABLE record_event ADD COLUMN event_id text;
UPDATE record_event e SET event_id = i.event_id FROM inbox_event i WHERE i.id = e.inbox_event_id;
ALTER TABLE record_event ALTER COLUMN event_id SET NOT NULL;
ALTER TABLE record_event ADD CONSTRAINT record_event_event_id_len_ck CHECK (length(event_id) BETWEEN 1 AND 128);
