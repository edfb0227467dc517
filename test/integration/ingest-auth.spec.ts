import { PartnersService } from '../../src/partners/partners.service';
import { makeEvent, TestStack } from '../support/stack';

/** Partner sources authenticate POST /api/v1/events with their API key; the key decides the source. */
describe('POST /api/v1/events authentication', () => {
  let stack: TestStack; // rotated keys keep working for 24 h
  let noGrace: TestStack; // KEY_ROTATION_GRACE_HOURS=0: a rotated key stops at once

  beforeAll(async () => {
    // One after the other: each reads its settings from process.env while it starts.
    stack = await TestStack.start({ workers: 0 });
    noGrace = await TestStack.start({ workers: 0, env: { KEY_ROTATION_GRACE_HOURS: '0' } });
  });
  afterAll(async () => {
    await stack?.close();
    await noGrace?.close();
  });

  const post = (s: TestStack, auth: string | undefined, body: unknown = { events: [makeEvent()] }) => {
    const r = s.http().post('/api/v1/events');
    return (auth === undefined ? r : r.set('Authorization', auth)).send(body as object);
  };
  const inboxCount = async (s: TestStack): Promise<number> => Number((await s.query<{ n: string }>(`SELECT count(*) AS n FROM inbox_event`))[0].n);

  it('refuses a missing Authorization header with 401 and stores nothing', async () => {
    const res = await post(stack, undefined);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ statusCode: 401, error: 'unauthenticated', message: expect.stringMatching(/missing API key/) });
    expect(await inboxCount(stack)).toBe(0);
  });

  it.each([
    ['a non-Bearer scheme', 'Basic dXNlcjpwYXNz'],
    ['a malformed key', 'Bearer not-a-key'],
    ['an unknown well-formed key', `Bearer ffk_0123456789abcdef_${'A'.repeat(43)}`],
  ])('refuses %s with 401', async (_what, auth) => {
    const res = await post(stack, auth);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthenticated');
  });

  it('refuses a key whose secret part was altered with 401', async () => {
    const key = await stack.createSource('alter-src', 'court');
    const last = key.slice(-1) === 'A' ? 'B' : 'A';
    const res = await post(stack, `Bearer ${key.slice(0, -1)}${last}`);
    expect(res.status).toBe(401);
    expect((await post(stack, `Bearer ${key}`)).status).toBe(202);
  });

  it('refuses a key of a disabled source with 401 at once and stores nothing', async () => {
    const key = await stack.createSource('gone-src', 'provider');
    expect((await post(stack, `Bearer ${key}`)).status).toBe(202);
    await stack.api!.get(PartnersService).disableSource('gone-src');
    const before = await inboxCount(stack);
    const res = await post(stack, `Bearer ${key}`);
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ error: 'unauthenticated', message: 'source gone-src is disabled' });
    expect(await inboxCount(stack)).toBe(before);
  });

  it('keeps a rotated-out key working within the grace period, next to the new key', async () => {
    const oldKey = await stack.createSource('rot-src', 'jail');
    const { apiKey: newKey, previousKeysExpireAt } = await stack.api!.get(PartnersService).rotateKey('rot-src');
    expect(Date.parse(previousKeysExpireAt)).toBeGreaterThan(Date.now() + 23 * 3600_000);
    expect((await post(stack, `Bearer ${oldKey}`)).status).toBe(202);
    expect((await post(stack, `Bearer ${newKey}`)).status).toBe(202);
  });

  it('refuses a rotated-out key after its grace period with 401; the new key works', async () => {
    const oldKey = await noGrace.createSource('rot-now', 'jail');
    const { apiKey: newKey } = await noGrace.api!.get(PartnersService).rotateKey('rot-now');
    const res = await post(noGrace, `Bearer ${oldKey}`);
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/rotated out/);
    expect((await post(noGrace, `Bearer ${newKey}`)).status).toBe(202);
  });

  it('takes the source from the key, never from the body', async () => {
    const keyA = await stack.createSource('body-a', 'court');
    await stack.createSource('body-b', 'court');
    // A `source` member of the batch is refused as unknown...
    const batch = await post(stack, `Bearer ${keyA}`, { source: 'body-b', events: [makeEvent()] });
    expect(batch.status).toBe(400);
    expect(batch.body.errors).toEqual([{ path: 'source', message: 'source is not a known field' }]);
    // ...and so is one inside an event; the valid event lands under the key's source.
    const bad = makeEvent({ source: 'body-b' });
    const good = makeEvent();
    const res = await post(stack, `Bearer ${keyA}`, { events: [bad, good] });
    expect(res.status).toBe(202);
    expect((res.body.results as { status: string }[]).map((r) => r.status)).toEqual(['rejected', 'accepted']);
    expect(res.body.results[0].errors).toEqual([{ path: 'source', message: 'source is not a known field' }]);
    const rows = await stack.query<{ code: string }>(
      `SELECT s.code FROM inbox_event e JOIN source s ON s.id = e.source_id WHERE e.event_id = ANY($1::text[])`,
      [[bad.eventId, good.eventId]],
    );
    expect(rows).toEqual([{ code: 'body-a' }]);
  });
});
