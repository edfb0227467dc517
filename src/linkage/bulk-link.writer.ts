import type { EntityManager } from 'typeorm';
import { preparedQuery } from '../database/multi-statement.query';
import type { BulkLink } from './backfill.linker';

// Every link write of a batch in one statement; decision ids are allocated first so rows can name them.
// The JSON columns come as JSON arrays ($10-$12), zipped with the other columns by ROWS FROM:
// a text[] of JSON would be escaped element by element by the driver and unescaped again here.
const LINK_WRITE_SQL = `
WITH p AS (
  INSERT INTO person (id) SELECT unnest($1::uuid[])
), d AS (
  INSERT INTO link_decision (id, source_record_id, person_id, previous_person_id, action, reason, probability, weight, model_version, explanation, flags, actor)
  OVERRIDING SYSTEM VALUE
  SELECT d.id, d.rec, d.person, d.prev, d.action, d.reason, d.probability, d.weight, $13, d.explanation::jsonb,
         ARRAY(SELECT json_array_elements_text(d.flags)), 'auto'
    FROM ROWS FROM (unnest($2::bigint[]), unnest($3::bigint[]), unnest($4::uuid[]), unnest($5::uuid[]), unnest($6::text[]), unnest($7::text[]),
                    unnest($8::double precision[]), unnest($9::double precision[]), json_array_elements($10::json), json_array_elements($11::json))
         AS d(id, rec, person, prev, action, reason, probability, weight, explanation, flags)
), l AS (
  INSERT INTO linkage_record (source_record_id, person_id, decision_id, normalised)
  SELECT * FROM ROWS FROM (unnest($3::bigint[]), unnest($4::uuid[]), unnest($2::bigint[]), json_array_elements($12::json))
  ON CONFLICT (source_record_id) DO UPDATE SET person_id = excluded.person_id, decision_id = excluded.decision_id,
    normalised = excluded.normalised, updated_at = now()
), kd AS (
  DELETE FROM blocking_key b USING unnest($14::text[], $15::bigint[]) AS k(key, rec)
   WHERE b.key = k.key AND b.source_record_id = k.rec
), ki AS (
  INSERT INTO blocking_key (key, source_record_id)
  SELECT * FROM unnest($16::text[], $17::bigint[]) ON CONFLICT DO NOTHING
), r AS (
  UPDATE person SET retired_into = x.survivor, retired_at = now()
    FROM unnest($18::uuid[], $19::uuid[]) AS x(id, survivor) WHERE person.id = x.id
), t AS (
  INSERT INTO review_task (kind, source_record_id, person_ids, probability, decision_id)
  SELECT t.kind, t.rec, ARRAY(SELECT jsonb_array_elements_text(t.persons))::uuid[], t.probability, t.decision
    FROM unnest($20::text[], $21::bigint[], $22::jsonb[], $23::double precision[], $24::bigint[]) AS t(kind, rec, persons, probability, decision)
)
SELECT count(*)::int AS n FROM unnest($2::bigint[])`;

/**
 * Writes decisions made in memory (BulkLinker) in one statement: new persons, decisions (with the
 * pre-allocated `ids`, in order), links, key replacements, retirements and review tasks. The
 * backfill and the ingest batch both write their links here. Returns the review task count.
 */
export async function writeBulkLinks(em: EntityManager, links: readonly BulkLink[], ids: readonly string[], modelVersion: string): Promise<number> {
  if (links.length === 0) return 0;
  const c = Array.from({ length: 24 }, () => [] as unknown[]);
  const [newPersons, dId, dRec, dPerson, dPrev, dAction, dReason, dProb, dWeight, , , , , kdKey, kdRec, kiKey, kiRec, rId, rInto, tKind, tRec, tPersons, tProb, tDec] = c;
  links.forEach((l, i) => {
    const id = ids[i];
    if (l.created) newPersons.push(l.personId);
    dId.push(id); dRec.push(l.recordId); dPerson.push(l.personId); dPrev.push(l.previousPersonId); dAction.push(l.action); dReason.push(l.reason);
    dProb.push(l.probability); dWeight.push(l.weight);
    const keep = new Set(l.keys);
    for (const k of l.oldKeys) if (!keep.has(k)) { kdKey.push(k); kdRec.push(l.recordId); }
    for (const k of l.keys) { kiKey.push(k); kiRec.push(l.recordId); }
    if (l.retirePrevious) { rId.push(l.previousPersonId); rInto.push(l.personId); }
    for (const t of l.tasks) { tKind.push(t.kind); tRec.push(l.recordId); tPersons.push(JSON.stringify(t.personIds)); tProb.push(l.probability); tDec.push(id); }
  });
  const params: unknown[] = [...c];
  params[9] = JSON.stringify(links.map((l) => l.explanation));
  params[10] = JSON.stringify(links.map((l) => l.flags));
  params[11] = `[${links.map((l) => l.normalisedJson).join(',')}]`;
  params[12] = modelVersion;
  await preparedQuery(em, LINK_WRITE_SQL, params);
  return tKind.length;
}
