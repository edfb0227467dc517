import type { AddressInfo } from 'node:net';
import { listenHttp } from '../../src/app/bootstrap';
import { loadConfig } from '../../src/config/app.config';
import { TestStack } from '../support/stack';

describe('the API listens on HOST (loopback by default)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 0 });
  });
  afterAll(async () => stack.close());

  it('binds the default 127.0.0.1, not every interface', async () => {
    const cfg = loadConfig({ ...process.env, HOST: '', PORT: '0' });
    await listenHttp(stack.api!, cfg);
    const addr = stack.api!.getHttpServer().address() as AddressInfo;
    expect(addr.address).toBe('127.0.0.1');
    const res = await fetch(`http://127.0.0.1:${addr.port}/health/live`);
    expect(res.status).toBe(200);
  });
});
