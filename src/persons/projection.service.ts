import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { AppConfig } from '../config/app.config';
import { preparedQuery } from '../database/multi-statement.query';
import { parseCriteria, type CriterionConfig } from './familiar-criteria';
import type { PersonState } from './person-state';
import { foldPerson, viewColumns, type AgencyInfo, type FoldEvent, type FoldRecord } from './person.fold';

export type FamiliarChangeKind = 'added' | 'updated' | 'removed';

/** A change to the familiar-faces list, published to the Redis stream after commit. */
export interface FamiliarChange {
  personId: string;
  kind: FamiliarChangeKind;
}

/** Just enough of the linker's result to know which persons an apply touched. */
export interface LinkOutcome {
  personId: string;
  previousPersonId: string | null;
}

interface RecordRow {
  person_id: string;
  rec_id: string;
  source: string;
  agency: string;
  kind: string;
  part2: boolean;
  record_id: string;
  demographics: Record<string, unknown>;
  /** [record_event.id, record_event.event_id, type, occurred_at, details] in (occurred_at, id) order. */
  events: [string, string, string, string, Record<string, unknown>][];
}

interface WriteRow {
  person_id: string;
  was: boolean | null;
  now: boolean | null;
  same: boolean | null;
}

// Person locks use their own hash namespace (2): record locks are 0, blocking keys 1.
const LOCK_NS = 2;

const LOAD_SQL = (where: string): string => `
  SELECT lr.person_id::text AS person_id, sr.id::text AS rec_id, s.code AS source, a.code AS agency, a.kind, a.part2,
         sr.record_id, sr.demographics,
         COALESCE((SELECT json_agg(json_build_array(e.id::text, e.event_id, e.type, e.occurred_at, e.details) ORDER BY e.occurred_at, e.id)
                     FROM record_event e WHERE e.source_record_id = sr.id), '[]'::json) AS events
    FROM linkage_record lr
    JOIN source_record sr ON sr.id = lr.source_record_id
    JOIN source s ON s.id = sr.source_id
    JOIN agency a ON a.id = s.agency_id
   WHERE ${where}`;

/**
 * Keeps person_view / person_consent equal to the fold of each person's event log. An ingest
 * apply records its persons as due (markDue, in its transaction); the worker's RefoldBatcher
 * refolds them in a transaction of its own right after the commit, and the job completes once
 * that committed. Rebuilds and the backfill refold in their own transactions. Person locks
 * (sorted, their own namespace) serialise refolds of one person across workers; each load is a
 * statement after the lock, so it sees what the previous holder committed.
 */
@Injectable()
export class ProjectionService {
  readonly criteria: CriterionConfig[];

  constructor(cfg: AppConfig) {
    this.criteria = parseCriteria(cfg.FAMILIAR_CRITERIA);
  }

  /**
   * In an apply's transaction: the persons its records belong to, each recorded as due for a
   * refold (person_refold_due) that runs after the commit (RefoldBatcher). `records` are the
   * applied source records, each with its link result when it was (re)linked; unlinked ones are
   * looked up in linkage_record (the record locks the apply holds keep those links stable). A move
   * or split makes the previous person due too. Returns the persons and each record's person.
   */
  async markDue(
    em: EntityManager,
    records: readonly { sourceRecordId: string; link: LinkOutcome | null }[],
  ): Promise<{ personIds: string[]; personOf: Map<string, string> }> {
    const personOf = new Map<string, string>();
    const ids = new Set<string>();
    const lookup: string[] = [];
    for (const r of records) {
      if (r.link) {
        personOf.set(r.sourceRecordId, r.link.personId);
        ids.add(r.link.personId);
        if (r.link.previousPersonId) ids.add(r.link.previousPersonId);
      } else {
        lookup.push(r.sourceRecordId);
      }
    }
    for (const r of await this.insertDue(em, lookup, [...ids])) {
      personOf.set(r.source_record_id, r.person_id);
      ids.add(r.person_id);
    }
    return { personIds: [...ids], personOf };
  }

  /** Records persons as due for a refold (the backfill's chunks: their persons are known in memory). */
  async markPersonsDue(em: EntityManager, personIds: readonly string[]): Promise<void> {
    if (personIds.length) await this.insertDue(em, [], personIds);
  }

  /** One statement: the persons of the `lookup` records, and a due row for each of them and of `personIds`. */
  private insertDue(em: EntityManager, lookup: readonly string[], personIds: readonly string[]): Promise<{ source_record_id: string; person_id: string }[]> {
    return preparedQuery(
      em,
      `WITH found AS (
         SELECT source_record_id, person_id FROM linkage_record WHERE source_record_id = ANY($1::bigint[])
       ), due AS (
         INSERT INTO person_refold_due (person_id)
         SELECT DISTINCT p FROM (SELECT person_id FROM found UNION ALL SELECT unnest($2::uuid[])) s(p)
       )
       SELECT source_record_id::text AS source_record_id, person_id::text AS person_id FROM found`,
      [lookup, personIds],
    );
  }

  /** Up to `limit` persons, not in `exclude`, with a due refold recorded more than `olderThanMs` ago, oldest first. */
  async duePersons(em: EntityManager, olderThanMs: number, limit: number, exclude: readonly string[] = []): Promise<string[]> {
    const rows = await preparedQuery<{ person_id: string }>(
      em,
      `SELECT person_id::text AS person_id FROM person_refold_due
        WHERE due_at < now() - make_interval(secs => $1::double precision / 1000) AND person_id <> ALL($3::uuid[])
        GROUP BY person_id ORDER BY min(id) LIMIT $2::integer`,
      [olderThanMs, limit, exclude],
    );
    return rows.map((r) => r.person_id);
  }

  /**
   * Refolds the given persons (a lock statement, one load, one write) and returns the
   * familiar-list changes. The load deletes the persons' due rows: its snapshot includes the
   * events of every apply whose row it deletes; rows committed after it stay for the next refold.
   */
  async refold(em: EntityManager, personIds: readonly string[]): Promise<FamiliarChange[]> {
    const ids = [...new Set(personIds)].sort();
    if (ids.length === 0) return [];
    await preparedQuery(em, `SELECT pg_advisory_xact_lock(hashtextextended('person:' || id, ${LOCK_NS})) FROM (SELECT unnest($1::uuid[])::text AS id ORDER BY 1) s`, [ids]);
    const rows = await preparedQuery<RecordRow>(
      em,
      `WITH done AS (DELETE FROM person_refold_due WHERE person_id = ANY($1::uuid[])) ${LOAD_SQL(`lr.person_id = ANY($1::uuid[])`)}`,
      [ids],
    );
    return this.write(em, ids, rows);
  }

  /** Folds the loaded rows and writes every person in `ids` (deleting those with no live records). */
  private async write(em: EntityManager, ids: string[], rows: RecordRow[]): Promise<FamiliarChange[]> {
    const now = new Date();
    const byPerson = new Map<string, RecordRow[]>();
    for (const r of rows) {
      const list = byPerson.get(r.person_id);
      if (list) list.push(r);
      else byPerson.set(r.person_id, [r]);
    }

    const views: Record<string, unknown>[] = [];
    const consents: Record<string, unknown>[] = [];
    for (const id of ids) {
      const state = this.foldRows(id, byPerson.get(id) ?? [], now);
      if (!state) continue;
      const c = viewColumns(state);
      views.push({
        person_id: id, state, display_name: c.displayName, search_name: c.searchName, birth_year: c.birthYear,
        agencies: c.agencies, familiar: c.familiar, criteria: c.criteria, in_custody: c.inCustody,
        scheduled_release_at: c.scheduledReleaseAt, open_needs: c.openNeeds, last_activity_at: c.lastActivityAt, filter_keys: c.filterKeys,
      });
      for (const k of state.consents) {
        consents.push({
          person_id: id, consent_id: k.consentId, agency: k.agency, form: k.form, partners: k.partners, categories: k.categories,
          signed_at: k.signedAt, expires_at: k.expiresAt, revoked_at: k.revokedAt ?? null,
        });
      }
    }

    // One statement: the old rows are read from the statement's snapshot, before the writes.
    const out = await preparedQuery<WriteRow>(
      em,
      `WITH input AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS v(person_id uuid, state jsonb, display_name text, search_name text,
           birth_year integer, agencies text[], familiar boolean, criteria text[], in_custody boolean,
           scheduled_release_at timestamptz, open_needs text[], last_activity_at timestamptz, filter_keys text[])
       ), cin AS (
         SELECT * FROM jsonb_to_recordset($3::jsonb) AS c(person_id uuid, consent_id text, agency text, form text,
           partners text[], categories text[], signed_at timestamptz, expires_at timestamptz, revoked_at timestamptz)
       ), old AS (
         SELECT person_id, familiar, state FROM person_view WHERE person_id = ANY($1::uuid[])
       ), up AS (
         INSERT INTO person_view (person_id, state, display_name, search_name, birth_year, agencies, agency_count, familiar,
                                  criteria, in_custody, scheduled_release_at, open_needs, last_activity_at, filter_keys)
         SELECT person_id, state, display_name, search_name, birth_year, agencies, cardinality(agencies), familiar,
                criteria, in_custody, scheduled_release_at, open_needs, last_activity_at, filter_keys FROM input
         ON CONFLICT ON CONSTRAINT person_view_pk DO UPDATE SET
           state = excluded.state, display_name = excluded.display_name, search_name = excluded.search_name,
           birth_year = excluded.birth_year, agencies = excluded.agencies, agency_count = excluded.agency_count,
           familiar = excluded.familiar, criteria = excluded.criteria, in_custody = excluded.in_custody,
           scheduled_release_at = excluded.scheduled_release_at, open_needs = excluded.open_needs,
           last_activity_at = excluded.last_activity_at, filter_keys = excluded.filter_keys, folded_at = now()
         WHERE person_view.state IS DISTINCT FROM excluded.state
       ), gone AS (
         DELETE FROM person_view WHERE person_id = ANY($1::uuid[]) AND person_id NOT IN (SELECT person_id FROM input)
       ), cdel AS (
         DELETE FROM person_consent pc WHERE pc.person_id = ANY($1::uuid[])
           AND NOT EXISTS (SELECT 1 FROM cin WHERE cin.person_id = pc.person_id AND cin.agency = pc.agency AND cin.consent_id = pc.consent_id)
       ), cup AS (
         INSERT INTO person_consent (person_id, consent_id, agency, form, partners, categories, signed_at, expires_at, revoked_at)
         SELECT person_id, consent_id, agency, form, partners, categories, signed_at, expires_at, revoked_at FROM cin
         ON CONFLICT ON CONSTRAINT person_consent_pk DO UPDATE SET
           form = excluded.form, partners = excluded.partners, categories = excluded.categories,
           signed_at = excluded.signed_at, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at
         WHERE (person_consent.form, person_consent.partners, person_consent.categories, person_consent.signed_at,
                person_consent.expires_at, person_consent.revoked_at)
               IS DISTINCT FROM (excluded.form, excluded.partners, excluded.categories, excluded.signed_at, excluded.expires_at, excluded.revoked_at)
       )
       SELECT p.id::text AS person_id, o.familiar AS was, i.familiar AS now, (o.state = i.state) AS same
         FROM unnest($1::uuid[]) AS p(id)
         LEFT JOIN old o ON o.person_id = p.id
         LEFT JOIN input i ON i.person_id = p.id`,
      [ids, JSON.stringify(views), JSON.stringify(consents)],
    );
    return familiarChanges(out);
  }

  private foldRows(personId: string, rows: RecordRow[], now: Date): PersonState | null {
    const records: FoldRecord[] = [];
    const events: FoldEvent[] = [];
    const agencies = new Map<string, AgencyInfo>();
    for (const r of rows) {
      records.push({ sourceRecordId: r.rec_id, source: r.source, agency: r.agency, recordId: r.record_id, demographics: r.demographics });
      agencies.set(r.agency, { kind: r.kind, part2: r.part2 });
      for (const [id, eventId, type, occurredAt, details] of r.events) {
        events.push({ id, eventId, sourceRecordId: r.rec_id, type, occurredAt, details });
      }
    }
    return foldPerson(personId, events, records, agencies, this.criteria, now);
  }
}

/** added / updated / removed from the familiar flag before and after, per person. */
export function familiarChanges(rows: { person_id: string; was: boolean | null; now: boolean | null; same: boolean | null }[]): FamiliarChange[] {
  const out: FamiliarChange[] = [];
  for (const r of rows) {
    if (r.now && !r.was) out.push({ personId: r.person_id, kind: 'added' });
    else if (r.was && !r.now) out.push({ personId: r.person_id, kind: 'removed' });
    else if (r.was && r.now && !r.same) out.push({ personId: r.person_id, kind: 'updated' });
  }
  return out;
}
