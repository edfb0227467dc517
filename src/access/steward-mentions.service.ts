import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/**
 * Which other persons a data steward may be pointed at from a match explanation (candidates,
 * review tasks). A person known only to Part 2 programs is left out: naming it, even by id, would
 * tell the steward that a Part 2 program holds someone resembling the person under review. This is
 * stricter than the steward view (which opens the Part 2 gate under a consent): it fails closed.
 */
@Injectable()
export class StewardMentionsService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * The ids among personIds whose person (a retired id: its survivor) holds at least one current
   * record from an agency that is not a Part 2 program.
   */
  async mentionable(personIds: readonly string[]): Promise<Set<string>> {
    const ids = [...new Set(personIds)];
    if (ids.length === 0) return new Set();
    const rows: { start: string }[] = await this.db.query(
      `WITH RECURSIVE chain AS (
         SELECT id AS start, id, retired_into, 0 AS depth FROM person WHERE id = ANY($1::uuid[])
         UNION ALL
         SELECT c.start, p.id, p.retired_into, c.depth + 1 FROM person p JOIN chain c ON p.id = c.retired_into WHERE c.depth < 50
       )
       SELECT DISTINCT c.start::text AS start
         FROM chain c
         JOIN linkage_record lr ON lr.person_id = c.id
         JOIN source_record sr ON sr.id = lr.source_record_id
         JOIN source s ON s.id = sr.source_id
         JOIN agency a ON a.id = s.agency_id
        WHERE c.retired_into IS NULL AND NOT a.part2`,
      [ids],
    );
    return new Set(rows.map((r) => r.start));
  }
}
