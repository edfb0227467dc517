import { createHash } from 'node:crypto';

/** The hash of the (absent) entry before the first one. */
export const GENESIS_HASH: Buffer = Buffer.alloc(32);

const VERSION = 'ff-audit-v1|';

/**
 * The columns of an audit entry, one shape for every representation: the stored text the hash
 * covers (StoredEntryText) and the API's view (AuditEntryView in audit.service.ts).
 */
export interface AuditEntryShape<PersonIds, Details> {
  seq: string;
  /** UTC, microseconds: YYYY-MM-DDTHH:MM:SS.ffffffZ */
  time: string;
  actor: string;
  actorKind: string;
  agency: string | null;
  role: string | null;
  purpose: string | null;
  action: string;
  resource: string;
  personIds: PersonIds;
  outcome: string;
  requestId: string | null;
  clientAddress: string | null;
  details: Details;
}

/**
 * An entry's columns as PostgreSQL renders them to text (see the verify query): the form the
 * hash covers. personIds is comma-joined in stored order; details is jsonb's text form. Kept
 * independent of the SQL function audit_canonical() so a tampered function cannot vouch for
 * tampered rows.
 */
export type StoredEntryText = AuditEntryShape<string, string>;

function field(v: string | null): string {
  return v === null ? '~' : `${Buffer.byteLength(v, 'utf8')}:${v}`;
}

/** Length-prefixed fields, so no value can imitate a field boundary. */
export function canonicalText(e: StoredEntryText): string {
  return (
    VERSION +
    [
      e.seq, e.time, e.actor, e.actorKind, e.agency, e.role, e.purpose, e.action, e.resource,
      e.personIds, e.outcome, e.requestId, e.clientAddress, e.details,
    ].map(field).join('')
  );
}

export function entryHash(prevHash: Buffer, e: StoredEntryText): Buffer {
  return createHash('sha256').update(prevHash).update(canonicalText(e), 'utf8').digest();
}

export interface ChainRow extends StoredEntryText {
  prevHash: Buffer;
  hash: Buffer;
}

export type BreakReason = 'gap' | 'prev_hash_mismatch' | 'hash_mismatch' | 'head_mismatch';

export interface ChainBreak {
  /** The first entry whose link does not hold (for head_mismatch: the head's sequence). */
  seq: string;
  reason: BreakReason;
  message: string;
}

/**
 * Walks entries in sequence order. An edited entry fails its own hash; a deleted one leaves a
 * gap; a reordered pair fails the previous-hash link; a deleted tail disagrees with the head.
 */
export class ChainWalker {
  private expectedSeq = 1n;
  private prev: Buffer = GENESIS_HASH;
  count = 0;

  /** Returns the first break this row reveals, or null. */
  push(row: ChainRow): ChainBreak | null {
    const seq = BigInt(row.seq);
    if (seq !== this.expectedSeq) {
      return {
        seq: this.expectedSeq.toString(),
        reason: 'gap',
        message: `entry ${this.expectedSeq} is missing (next entry found is ${row.seq})`,
      };
    }
    if (!row.prevHash.equals(this.prev)) {
      return { seq: row.seq, reason: 'prev_hash_mismatch', message: `entry ${row.seq} does not link to entry ${seq - 1n} (removed, replaced or reordered)` };
    }
    if (!entryHash(row.prevHash, row).equals(row.hash)) {
      return { seq: row.seq, reason: 'hash_mismatch', message: `entry ${row.seq} was changed after it was written` };
    }
    this.prev = row.hash;
    this.expectedSeq = seq + 1n;
    this.count += 1;
    return null;
  }

  /** The head row must point at the last entry walked. */
  finish(head: { seq: string; hash: Buffer }): ChainBreak | null {
    const last = this.expectedSeq - 1n;
    if (BigInt(head.seq) !== last || !head.hash.equals(this.prev)) {
      return {
        seq: head.seq,
        reason: 'head_mismatch',
        message: `the chain ends at entry ${last} but its head says ${head.seq} (entries removed from the end, or the head changed)`,
      };
    }
    return null;
  }

  get lastHash(): Buffer {
    return this.prev;
  }
}
