import { DataSource } from 'typeorm';
import { AuditService } from '../../src/audit/audit.service';
import { AuditVerifyService } from '../../src/audit/audit-verify.service';
import type { AuditEntryInput } from '../../src/audit/audit.context';
import { TestStack } from '../support/stack';

/** recordMany: a batch of entries under one head lock, on the same verifiable chain as record(). */
describe('audit log: several entries under one head lock', () => {
  let stack: TestStack;
  let audit: AuditService;
  let verifier: AuditVerifyService;
  const upper = '0B9F1F4E-1C1A-4C39-9A55-6A1F7D9F0A01';
  const lower = '0b9f1f4e-1c1a-4c39-9a55-6a1f7d9f0a02';

  const entry = (i: number, over: Partial<AuditEntryInput> = {}): AuditEntryInput => ({
    actor: `source:src-${i}`, actorKind: 'source', agency: i % 2 ? 'county-jail' : null, role: null, purpose: i % 3 ? null : 'care_coordination',
    requestId: i % 2 ? `req-${i}` : null, clientAddress: i % 3 === 1 ? '10.0.0.7' : i % 3 === 2 ? '2001:db8::1' : null,
    action: 'event.apply', resource: `inbox-event/${i}`, personIds: i % 4 === 0 ? [] : i % 4 === 1 ? [upper] : [upper, lower],
    details: { n: i, note: 'ünïcødé ✓ "quoted" ; 3:x~', ids: ['a', 'b'] },
    ...over,
  });

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
    audit = stack.api!.get(AuditService);
    verifier = stack.api!.get(AuditVerifyService);
  });
  afterAll(async () => stack.close());

  it('appends in order between single appends; every hash recomputes in TypeScript and in SQL', async () => {
    await audit.recordAlone(entry(100));
    const receipts = await stack.api!.get(DataSource).transaction(async (em) => {
      const first = await audit.recordMany(em, Array.from({ length: 12 }, (_, i) => entry(i)));
      const one = await audit.record(em, entry(50));
      const more = await audit.recordMany(em, [entry(51), entry(52, { outcome: 'denied' })]);
      return [...first, one, ...more];
    });
    await audit.recordAlone(entry(101));
    expect(receipts.map((r) => r.seq)).toEqual(Array.from({ length: 15 }, (_, i) => String(i + 2)));
    expect(new Set(receipts.slice(0, 12).map((r) => r.time)).size).toBe(1);

    const report = await verifier.verify();
    expect(report).toMatchObject({ ok: true, entries: 17, firstBreak: null, head: { seq: '17' } });
    const sql = await stack.query<{ same: boolean }>(
      `SELECT hash = sha256(prev_hash || convert_to(audit_canonical(seq, time, actor, actor_kind, agency, role, purpose, action, resource,
                                                                   person_ids, outcome, request_id, client_address, details), 'UTF8')) AS same
         FROM audit_entry`,
    );
    expect(sql.every((r) => r.same)).toBe(true);

    const rows = await stack.query<{ seq: string; resource: string; person_ids: string[]; client_address: string | null; outcome: string; details: unknown }>(
      `SELECT seq::text AS seq, resource, person_ids, client_address::text AS client_address, outcome, details FROM audit_entry ORDER BY audit_entry.seq`,
    );
    expect(rows.map((r) => r.resource)).toEqual([100, ...Array.from({ length: 12 }, (_, i) => i), 50, 51, 52, 101].map((i) => `inbox-event/${i}`));
    expect(rows[2]).toMatchObject({ person_ids: [upper.toLowerCase()], client_address: '10.0.0.7/32', details: entry(1).details });
    expect(rows[3].person_ids).toEqual([upper.toLowerCase(), lower]);
    expect(rows[1].person_ids).toEqual([]);
    expect(rows[15].outcome).toBe('denied');
  });

  it('refuses outside a transaction and rejects a bad entry without writing any of the batch', async () => {
    const before = (await verifier.verify()).head.seq;
    await expect(audit.recordMany(stack.api!.get(DataSource).manager, [entry(1)])).rejects.toThrow(/inside the transaction/);
    await expect(
      stack.api!.get(DataSource).transaction((em) => audit.recordMany(em, [entry(1), entry(2, { personIds: ['not-a-uuid'] })])),
    ).rejects.toThrow(/uuids/);
    expect((await verifier.verify()).head.seq).toBe(before);
  });

  it('the head still moves only onto appended, chained entries', async () => {
    await expect(stack.query(`UPDATE audit_head SET seq = seq + 2`)).rejects.toThrow(/may only advance/);
    await expect(stack.query(`UPDATE audit_head SET seq = seq - 1`)).rejects.toThrow(/may only advance/);
  });

  /**
   * Plants entries by hand (as the owner may: INSERT is not blocked, only the head's move is
   * checked), tries to move the head onto them, and always rolls back.
   * Each plant: seq offset from the head, prev = the hash it claims to follow, own hash.
   */
  async function tryAdvance(plants: { at: number; prev: 'head' | number; hash: number }[], to: number, toHash: number): Promise<string> {
    const sentinel = new Error('rollback');
    try {
      await stack.api!.get(DataSource).transaction(async (em) => {
        const [head] = await em.query(`SELECT seq::text AS seq, encode(hash, 'hex') AS hash FROM audit_head`);
        const h = (n: number): string => n.toString(16).padStart(64, '0');
        for (const p of plants) {
          await em.query(
            `INSERT INTO audit_entry (seq, time, actor, actor_kind, action, resource, outcome, prev_hash, hash)
             VALUES ($1::bigint + $2, now(), 'probe', 'system', 'probe.plant', 'probe', 'allowed', decode($3, 'hex'), decode($4, 'hex'))`,
            [head.seq, p.at, p.prev === 'head' ? head.hash : h(p.prev), h(p.hash)],
          );
        }
        await em.query(`UPDATE audit_head SET seq = seq + $1, hash = decode($2, 'hex')`, [to, h(toHash)]);
        throw sentinel;
      });
    } catch (err) {
      if (err === sentinel) return 'moved';
      return err instanceof Error ? err.message : String(err);
    }
    return 'committed';
  }

  it.each([
    ['one step onto a chained entry', [{ at: 1, prev: 'head', hash: 1 }], 1, 1, true],
    ['three chained steps', [{ at: 1, prev: 'head', hash: 1 }, { at: 2, prev: 1, hash: 2 }, { at: 3, prev: 2, hash: 3 }], 3, 3, true],
    ['one step onto an entry that does not follow the head', [{ at: 1, prev: 99, hash: 1 }], 1, 1, false],
    ['one step with a hash other than the entry\'s', [{ at: 1, prev: 'head', hash: 1 }], 1, 2, false],
    ['several steps whose first does not follow the head', [{ at: 1, prev: 99, hash: 1 }, { at: 2, prev: 1, hash: 2 }], 2, 2, false],
    ['several steps with a broken link inside', [{ at: 1, prev: 'head', hash: 1 }, { at: 2, prev: 7, hash: 2 }, { at: 3, prev: 2, hash: 3 }], 3, 3, false],
    ['several steps over a gap', [{ at: 1, prev: 'head', hash: 1 }, { at: 3, prev: 1, hash: 3 }], 3, 3, false],
    ['several steps ending on another hash', [{ at: 1, prev: 'head', hash: 1 }, { at: 2, prev: 1, hash: 2 }], 2, 9, false],
  ] as const)('the head guard: %s', async (_name, plants, to, toHash, allowed) => {
    const out = await tryAdvance([...plants], to, toHash);
    if (allowed) expect(out).toBe('moved');
    else expect(out).toMatch(/may only advance/);
  });
});
