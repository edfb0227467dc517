-- Linkage at scale (issue 4): a blocking rule `dp` (phonetic first name or surname + exact date
-- of birth), selective at any base size. The linker now needs two shared keys, or one key carried
-- by few records, to compare two records; in a large base `dob:` and `npy:` blocks are too big to
-- count alone, and `dp:` keeps the pairs (nickname or new surname, same DOB) that met only there.
-- Backfill: the same keys blockingKeys() makes, from the stored normalised records (names[*]
-- firstPhon / lastPhon x dobs[*] that are not year-only placeholders).
INSERT INTO blocking_key (key, source_record_id)
SELECT DISTINCT 'dp:' || v.phon || ':' || (d.value ->> 'digits'), lr.source_record_id
  FROM linkage_record lr
 CROSS JOIN LATERAL jsonb_array_elements(lr.normalised -> 'names') AS n(value)
 CROSS JOIN LATERAL (VALUES (n.value ->> 'firstPhon'), (n.value ->> 'lastPhon')) AS v(phon)
 CROSS JOIN LATERAL jsonb_array_elements(lr.normalised -> 'dobs') AS d(value)
 WHERE v.phon <> ''
   AND NOT (d.value ->> 'yearOnly')::boolean
   AND coalesce(d.value ->> 'digits', '') <> ''
ON CONFLICT ON CONSTRAINT blocking_key_pk DO NOTHING;
