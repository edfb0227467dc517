import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AuditService } from '../../src/audit/audit.service';
import { AuditVerifyService, type VerifyReport } from '../../src/audit/audit-verify.service';
import { systemAuditContext } from '../../src/audit/audit.context';
import { runCliFromSource } from '../support/cli-run';
import { TestStack } from '../support/stack';

const cli = runCliFromSource;

describe('audit log: append-only, least privilege, tamper-evident', () => {
  let stack: TestStack;
  let audit: AuditService;
  let verifier: AuditVerifyService;
  const personIds = ['0b9f1f4e-1c1a-4c39-9a55-6a1f7d9f0a01', '0b9f1f4e-1c1a-4c39-9a55-6a1f7d9f0a02'];

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
    audit = stack.api!.get(AuditService);
    verifier = stack.api!.get(AuditVerifyService);
    await stack.createSource('clinic', 'provider');
    for (let i = 0; i < 6; i++) {
      await audit.recordAlone({
        actor: `user-${i}`, actorKind: 'user', agency: 'county-jail', role: 'case_manager', purpose: 'care_coordination',
        requestId: `req-${i}`, clientAddress: i % 2 ? '10.0.0.7' : '2001:db8::1', action: 'person.read', resource: `person/${personIds[i % 2]}`,
        personIds: [personIds[i % 2]], details: { fields: ['demographics', 'needs'], count: i, note: 'ünïcødé ✓ "quoted" ; 3:x~' },
      });
    }
  });
  afterAll(async () => stack.close());

  it('verifies an untouched chain, hashes recomputed independently of the database', async () => {
    const report = await verifier.verify();
    expect(report).toMatchObject({ ok: true, entries: 7, firstBreak: null, head: { seq: '7' } });
    const sqlHashes = await stack.query<{ same: boolean }>(
      `SELECT hash = sha256(prev_hash || convert_to(audit_canonical(seq, time, actor, actor_kind, agency, role, purpose, action, resource,
                                                                   person_ids, outcome, request_id, client_address, details), 'UTF8')) AS same
         FROM audit_entry`,
    );
    expect(sqlHashes.every((r) => r.same)).toBe(true);
  });

  it.each([
    ['UPDATE', `UPDATE audit_entry SET actor = 'someone-else' WHERE seq = 2`],
    ['DELETE', `DELETE FROM audit_entry WHERE seq = 2`],
    ['TRUNCATE', `TRUNCATE audit_entry`],
    ['DELETE', `DELETE FROM audit_head`],
  ])('the trigger rejects %s even for the owner (superuser)', async (_op, sql) => {
    await expect(stack.query(sql)).rejects.toThrow(/append-only/);
  });

  it('the head only moves onto the entry just appended', async () => {
    await expect(stack.query(`UPDATE audit_head SET seq = seq + 1`)).rejects.toThrow(/may only advance/);
  });

  describe('a login role in familiar_faces_app', () => {
    const role = `ff_audit_probe_${randomBytes(4).toString('hex')}`;
    let asApp: Client;

    beforeAll(async () => {
      await stack.query(`CREATE ROLE ${role} LOGIN IN ROLE familiar_faces_app`);
      const url = new URL(stack.dbUrl);
      url.username = role;
      asApp = new Client({ connectionString: url.toString() });
      await asApp.connect();
      // Take the trigger out of the way: only the grants are left to stop the role.
      await stack.query(`ALTER TABLE audit_entry DISABLE TRIGGER USER`);
    });
    afterAll(async () => {
      await stack.query(`ALTER TABLE audit_entry ENABLE TRIGGER USER`);
      await asApp?.end();
      await stack.query(`DROP ROLE IF EXISTS ${role}`);
    });

    it.each([
      `UPDATE audit_entry SET actor = 'x' WHERE seq = 1`,
      `DELETE FROM audit_entry WHERE seq = 1`,
      `TRUNCATE audit_entry`,
      `INSERT INTO audit_entry SELECT * FROM audit_entry WHERE seq = 1`,
      `UPDATE audit_head SET seq = 0`,
      `ALTER TABLE audit_entry DISABLE TRIGGER USER`,
    ])('is refused: %s', async (sql) => {
      await expect(asApp.query(sql)).rejects.toThrow(/permission denied|must be owner/);
    });

    it('can still read the log, append through audit_append, and use the other tables', async () => {
      const rows = await asApp.query<{ entry_seq: string }>(
        `SELECT entry_seq FROM audit_append('probe', 'system', null, null, null, 'probe.check', 'probe', '{}', 'allowed', null, null, '{}')`,
      );
      expect(Number(rows.rows[0].entry_seq)).toBe(8);
      expect((await asApp.query(`SELECT count(*)::int AS n FROM audit_entry`)).rows[0]).toEqual({ n: 8 });
      await asApp.query(`SELECT count(*) FROM inbox_event`);
      await asApp.query(`UPDATE agency SET name = name WHERE false`);
    });
  });

  describe('audit verify names the first broken entry', () => {
    let n = 0;
    /** A tampered copy (CREATE TABLE ... AS) so the real log stays intact for the next case. */
    async function tamperedCopy(...sql: string[]): Promise<VerifyReport> {
      const table = `audit_copy_${++n}`;
      await stack.query(`CREATE TABLE ${table} AS SELECT * FROM audit_entry`);
      for (const s of sql) await stack.query(s.replaceAll('$T', table));
      return verifier.verify(table);
    }

    it('an untouched copy verifies', async () => {
      expect(await tamperedCopy()).toMatchObject({ ok: true });
    });

    it('an edited entry', async () => {
      const r = await tamperedCopy(`UPDATE $T SET purpose = 'audit' WHERE seq = 3`);
      expect(r).toMatchObject({ ok: false, entries: 2, firstBreak: { seq: '3', reason: 'hash_mismatch' } });
    });

    it('an edited entry whose hash was recomputed breaks the next link', async () => {
      const r = await tamperedCopy(
        `UPDATE $T SET person_ids = '{}' WHERE seq = 3`,
        `UPDATE $T SET hash = sha256(prev_hash || convert_to(audit_canonical(seq, time, actor, actor_kind, agency, role, purpose, action,
                       resource, person_ids, outcome, request_id, client_address, details), 'UTF8')) WHERE seq = 3`,
      );
      expect(r.firstBreak).toMatchObject({ seq: '4', reason: 'prev_hash_mismatch' });
    });

    it('a deleted entry', async () => {
      const r = await tamperedCopy(`DELETE FROM $T WHERE seq = 4`);
      expect(r.firstBreak).toMatchObject({ seq: '4', reason: 'gap' });
    });

    it('two swapped entries', async () => {
      const r = await tamperedCopy(`UPDATE $T SET seq = CASE seq WHEN 2 THEN 5 WHEN 5 THEN 2 END WHERE seq IN (2, 5)`);
      expect(r.firstBreak).toMatchObject({ seq: '2', reason: 'prev_hash_mismatch' });
    });

    it('entries removed from the end', async () => {
      const r = await tamperedCopy(`DELETE FROM $T WHERE seq >= 7`);
      expect(r.firstBreak).toMatchObject({ reason: 'head_mismatch' });
    });

    it('a reordered timestamp', async () => {
      const r = await tamperedCopy(`UPDATE $T SET time = time - interval '1 hour' WHERE seq = 5`);
      expect(r.firstBreak).toMatchObject({ seq: '5', reason: 'hash_mismatch' });
    });

    it('the CLI audits changes under --actor, then on the real table edited past the trigger: exit 2 and the entry named', async () => {
      const env = { DATABASE_URL: stack.dbUrl, REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', QUEUE_PREFIX: stack.prefix, USER: 'shell-user' };
      const changed = await cli(['agencies', 'update', 'clinic', '--part2', '--actor', 'ops-bob', '--json'], env);
      expect(changed.stderr).toBe('');
      expect(JSON.parse(changed.stdout)).toEqual({ code: 'clinic', part2: true });
      const entry = await stack.query(`SELECT actor, actor_kind, action, resource, details FROM audit_entry ORDER BY audit_entry.seq DESC LIMIT 1`);
      expect(entry).toEqual([{ actor: 'ops-bob', actor_kind: 'cli', action: 'agency.update', resource: 'agency/clinic', details: { part2: true } }]);

      const intact = await cli(['audit', 'verify', '--json'], env);
      expect(intact.stderr).toBe('');
      expect(intact.code).toBe(0);
      expect(JSON.parse(intact.stdout)).toMatchObject({ ok: true, firstBreak: null });

      await stack.query(`ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_update`);
      await stack.query(`UPDATE audit_entry SET actor = 'not-who-it-was' WHERE seq = 2`);
      await stack.query(`ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_no_update`);
      const broken = await cli(['audit', 'verify'], env);
      expect(broken.code).toBe(2);
      expect(broken.stdout).toMatch(/BROKEN at entry 2 \(hash_mismatch\)/);
    });
  });

  it('an entry is written in the caller transaction: rolled back with it, and the chain stays whole', async () => {
    const before = (await verifier.verify()).head.seq;
    await expect(
      stack.api!.get(AuditService)['db'].transaction(async (em) => {
        await audit.record(em, { ...systemAuditContext('test'), action: 'probe.rollback', resource: 'probe' });
        throw new Error('the action failed');
      }),
    ).rejects.toThrow('the action failed');
    expect((await stack.query(`SELECT 1 FROM audit_entry WHERE action = 'probe.rollback'`)).length).toBe(0);
    await audit.recordAlone({ ...systemAuditContext('test'), action: 'probe.after', resource: 'probe' });
    const head = await stack.query<{ seq: string }>(`SELECT seq::text AS seq FROM audit_head`);
    expect(BigInt(head[0].seq)).toBe(BigInt(before) + 1n);
  });

  it('concurrent appends keep one gap-free chain', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => audit.recordAlone({ ...systemAuditContext('load'), action: 'probe.concurrent', resource: `probe/${i}` })),
    );
    const rows = await stack.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_entry WHERE action = 'probe.concurrent'`);
    expect(rows[0].n).toBe(40);
    // The edited entry from the CLI case stays broken (append-only: nobody can repair it), so check the links after it.
    const links = await stack.query<{ ok: boolean }>(
      `SELECT bool_and(e.prev_hash = p.hash) AS ok FROM audit_entry e JOIN audit_entry p ON p.seq = e.seq - 1 WHERE e.seq > 2`,
    );
    expect(links[0].ok).toBe(true);
  });
});
