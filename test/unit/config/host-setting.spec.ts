import { loadConfig } from '../../../src/config/app.config';

describe('HOST: the interface the API listens on', () => {
  it('defaults to loopback, so exposing the API is an explicit choice', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
  });

  it.each(['0.0.0.0', '::', '::1', '10.1.2.3', 'localhost'])('accepts %s', (host) => {
    expect(loadConfig({ HOST: host }).HOST).toBe(host);
  });

  it.each(['0.0.0.0:3000', 'example.org', 'http://0.0.0.0', '999.1.1.1', '*'])('refuses %s, naming the setting', (host) => {
    expect(() => loadConfig({ HOST: host })).toThrow(/HOST must be an IP address/);
  });
});
