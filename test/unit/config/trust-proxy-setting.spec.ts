import { loadConfig, trustProxyValue } from '../../../src/config/app.config';

describe('TRUST_PROXY: whose X-Forwarded-For is believed', () => {
  it('defaults to no proxy', () => {
    expect(trustProxyValue(loadConfig({}).TRUST_PROXY)).toBe(false);
  });

  it.each([
    ['1', 1],
    ['loopback', ['loopback']],
    ['loopback, 10.0.0.0/8, fd00::/8, 192.168.1.5', ['loopback', '10.0.0.0/8', 'fd00::/8', '192.168.1.5']],
  ])('accepts %s', (v, expected) => {
    expect(trustProxyValue(loadConfig({ TRUST_PROXY: v }).TRUST_PROXY)).toEqual(expected);
  });

  it.each(['true', '0', '11', 'everyone', '10.0.0.0/33', '10.0.0.0/8/1', 'loopback,', 'proxy.example.org'])('refuses %s, naming the setting', (v) => {
    expect(() => loadConfig({ TRUST_PROXY: v })).toThrow(/TRUST_PROXY must be false, a hop count/);
  });
});
