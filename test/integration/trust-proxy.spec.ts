import { TestStack } from '../support/stack';

/** The audit log's client address: the peer, unless the peer is a proxy named in TRUST_PROXY. */
describe('client address in the audit log behind a reverse proxy', () => {
  const FORWARDED = '203.0.113.7';
  let stack: TestStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  async function deniedAddress(s: TestStack): Promise<string | null> {
    await s.http().get('/api/v1/ingest/status').set('X-Forwarded-For', FORWARDED).expect(401);
    const [row] = await s.query<{ client_address: string | null }>(
      `SELECT host(client_address) AS client_address FROM audit_entry WHERE action = 'request.denied' ORDER BY seq DESC LIMIT 1`,
    );
    return row.client_address;
  }

  it('ignores X-Forwarded-For by default: any caller could write one', async () => {
    stack = await TestStack.start({ workers: 0 });
    const addr = await deniedAddress(stack);
    expect(addr).not.toBe(FORWARDED);
    expect(addr).toMatch(/127\.0\.0\.1|::1/);
  });

  it('records the forwarded client when the peer is a trusted proxy (TRUST_PROXY=loopback)', async () => {
    stack = await TestStack.start({ workers: 0, env: { TRUST_PROXY: 'loopback' } });
    expect(await deniedAddress(stack)).toBe(FORWARDED);
  });
});
