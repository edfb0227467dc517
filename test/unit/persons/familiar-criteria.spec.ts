import { loadConfig } from '../../../src/config/app.config';
import { consentStatus } from '../../../src/persons/person.fold';
import { criteriaProblem, DEFAULT_FAMILIAR_CRITERIA, parseCriteria } from '../../../src/persons/familiar-criteria';

describe('familiar criteria config', () => {
  it('accepts the default and the documented examples', () => {
    expect(parseCriteria(DEFAULT_FAMILIAR_CRITERIA)).toEqual([{ id: 'multi_agency', minAgencies: 2 }]);
    expect(parseCriteria('[{"id":"frequent_booking","eventType":"booking","min":3,"withinDays":365}]')).toEqual([
      { id: 'frequent_booking', eventType: 'booking', min: 3, withinDays: 365 },
    ]);
    expect(parseCriteria('[{"id":"jail_and_bh","allOf":[{"agencyKind":"jail"},{"needCategory":"behavioral_health"}],"withinDays":180}]')).toEqual([
      { id: 'jail_and_bh', allOf: [{ agencyKind: 'jail' }, { needCategory: 'behavioral_health' }], withinDays: 180 },
    ]);
  });

  it.each([
    ['not json', 'must be a JSON array'],
    ['[]', 'must be a JSON array of 1 to 50'],
    ['{"id":"x"}', 'must be a JSON array'],
    ['[{"minAgencies":2}]', '[0].id must be'],
    ['[{"id":"a","minAgencies":2},{"id":"a","min":1}]', '[1].id "a" is used twice'],
    ['[{"id":"a"}]', '[0] must set allOf or at least one of'],
    ['[{"id":"a","minAgencies":0}]', '[0].minAgencies must be an integer from 1'],
    ['[{"id":"a","min":2.5}]', '[0].min must be an integer'],
    ['[{"id":"a","eventType":"arrest"}]', '[0].eventType must be one of'],
    ['[{"id":"a","agencyKind":"school"}]', '[0].agencyKind must be one of court, jail, provider, other'],
    ['[{"id":"a","needCategory":"bh"}]', '[0].needCategory must be one of'],
    ['[{"id":"a","min":1,"withinDay":3}]', '[0].withinDay is not a known field'],
    ['[{"id":"a","min":1,"withinDays":0}]', '[0].withinDays must be an integer'],
    ['[{"id":"a","allOf":[]}]', '[0].allOf must be an array of 1 to 10'],
    ['[{"id":"a","allOf":[{}]}]', '[0].allOf[0] must set at least one of'],
    ['[{"id":"a","allOf":[{"withinDays":3}]}]', '[0].allOf[0].withinDays is not a known field'],
    ['[{"id":"a","min":1,"allOf":[{"min":1}]}]', '[0].allOf cannot be combined'],
  ])('rejects %s', (json, message) => {
    expect(() => parseCriteria(json)).toThrow(message);
    expect(criteriaProblem(json)).toContain(message);
  });

  it('fails boot naming the setting', () => {
    expect(() => loadConfig({ FAMILIAR_CRITERIA: '[{"id":"a","min":0}]' })).toThrow(/FAMILIAR_CRITERIA\[0\]\.min must be an integer/);
    expect(() => loadConfig({ CONSENT_EXPIRING_DAYS: 'soon' })).toThrow(/CONSENT_EXPIRING_DAYS must be an integer/);
    const cfg = loadConfig({});
    expect(cfg.FAMILIAR_CRITERIA).toBe(DEFAULT_FAMILIAR_CRITERIA);
    expect(cfg.CONSENT_EXPIRING_DAYS).toBe(30);
  });
});

describe('consentStatus', () => {
  const now = new Date('2026-03-01T00:00:00Z');
  const c = (expiresAt: string, partners: string[], revokedAt?: string) => ({ expiresAt, partners, revokedAt });

  it('is none without consents', () => {
    expect(consentStatus([], now, 30)).toEqual({ status: 'none', partners: [], expiresAt: null });
  });
  it('is revoked when every consent is revoked', () => {
    expect(consentStatus([c('2027-01-01T00:00:00Z', ['a'], '2026-02-01T00:00:00Z')], now, 30).status).toBe('revoked');
  });
  it('is active when an unrevoked consent runs past the window; partners are the union of the running ones', () => {
    const got = consentStatus([c('2027-01-01T00:00:00Z', ['b', 'a']), c('2026-03-10T00:00:00Z', ['c']), c('2026-02-01T00:00:00Z', ['old']), c('2027-01-01T00:00:00Z', ['rev'], '2026-02-01T00:00:00Z')], now, 30);
    expect(got).toEqual({ status: 'active', partners: ['a', 'b', 'c'], expiresAt: '2027-01-01T00:00:00.000Z' });
  });
  it('is expiring when the latest-running consent ends inside the window', () => {
    expect(consentStatus([c('2026-03-20T00:00:00Z', ['a'])], now, 30).status).toBe('expiring');
    expect(consentStatus([c('2026-03-20T00:00:00Z', ['a'])], now, 10).status).toBe('active');
  });
  it('is expired when every unrevoked consent has ended, even if another was revoked', () => {
    expect(consentStatus([c('2026-02-01T00:00:00Z', ['a']), c('2027-01-01T00:00:00Z', ['b'], '2026-02-01T00:00:00Z')], now, 30)).toEqual({ status: 'expired', partners: [], expiresAt: '2026-02-01T00:00:00.000Z' });
  });
  it('a coalition-wide consent covers everyone', () => {
    expect(consentStatus([c('2027-01-01T00:00:00Z', ['*']), c('2027-01-01T00:00:00Z', ['a'])], now, 30).partners).toEqual(['*']);
  });
});
