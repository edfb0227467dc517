import { DataSource } from 'typeorm';
import { AuditService } from '../../src/audit/audit.service';
import { AuditVerifyService } from '../../src/audit/audit-verify.service';
import type { AuditEntryInput } from '../../src/audit/audit.context';
import { TestStack } from '../support/stack';

/** recordAlone under concurrency: entries share group commits, each caller learns its own outcome. */
describe('audit log: group commit of reads', () => {
  let stack: TestStack;
  let audit: AuditService;

  const entry = (i: number, over: Partial<AuditEntryInput> = {}): AuditEntryInput => ({
    actor: `user:u-${i}`, actorKind: 'user', agency: 'county-jail', role: 'case_manager', purpose: 'care_coordination',
    requestId: `req-${i}`, clientAddress: '10.0.0.9', action: 'person.read', resource: `person/${i}`, personIds: [], details: { i },
    ...over,
  });

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
    audit = stack.api!.get(AuditService);
  });
  afterAll(async () => stack.close());

  it('commits every concurrent entry, in fewer statements than entries, on a chain that verifies', async () => {
    // Counts the statements that reach the database (they still run: nothing is mocked).
    const spy = jest.spyOn(stack.api!.get(DataSource), 'query');
    const receipts = await Promise.all(Array.from({ length: 150 }, (_, i) => audit.recordAlone(entry(i))));
    const statements = spy.mock.calls.filter(([sql]) => /audit_append/.test(sql)).length;
    spy.mockRestore();
    expect(statements).toBeGreaterThan(0);
    expect(statements).toBeLessThan(20);
    expect(new Set(receipts.map((r) => r.seq)).size).toBe(150);
    const rows = await stack.query<{ seq: string; resource: string }>(`SELECT seq::text AS seq, resource FROM audit_entry ORDER BY seq`);
    expect(rows).toHaveLength(150);
    // Each receipt names the row of its own entry.
    const bySeq = new Map(rows.map((r) => [r.seq, r.resource]));
    receipts.forEach((r, i) => expect(bySeq.get(r.seq)).toBe(`person/${i}`));
    expect(await stack.api!.get(AuditVerifyService).verify()).toMatchObject({ ok: true, entries: 150, firstBreak: null });
  });

  it('fails only the entry the database refuses, not the others grouped with it', async () => {
    const before = Number((await stack.query<{ n: string }>(`SELECT count(*) AS n FROM audit_entry`))[0].n);
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => audit.recordAlone(entry(1000 + i, i === 17 ? { clientAddress: 'not-an-address' } : {}))),
    );
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[17].status).toBe('rejected');
    const after = await stack.query<{ resource: string }>(`SELECT resource FROM audit_entry WHERE seq > $1 ORDER BY seq`, [before]);
    expect(after.map((r) => r.resource).sort()).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => i !== 17).map((i) => `person/${1000 + i}`).sort());
    expect(await stack.api!.get(AuditVerifyService).verify()).toMatchObject({ ok: true, firstBreak: null });
  });

  it('rejects an entry the service refuses before it reaches the database', async () => {
    await expect(audit.recordAlone(entry(1, { action: 'Not An Action' }))).rejects.toThrow(/audit action/);
  });
});
