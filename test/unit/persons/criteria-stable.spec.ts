import { criteriaMet, criteriaStableUntil, type LiveEvent } from '../../../src/persons/person.fold';
import type { CriterionConfig } from '../../../src/persons/familiar-criteria';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-15T12:00:00Z');

function ev(type: string, agency: string, kind: string, at: number): LiveEvent {
  return {
    e: { id: '0', eventId: '', sourceRecordId: '', type, occurredAt: new Date(at).toISOString(), details: {} },
    rec: { sourceRecordId: '', source: '', agency, recordId: '', demographics: {} },
    kind,
    at,
  };
}

const criteria: CriterionConfig[] = [
  { id: 'multi_agency', minAgencies: 2 },
  { id: 'three_bookings_365', eventType: 'booking', min: 3, withinDays: 365 },
  { id: 'jail_and_provider_180', withinDays: 180, allOf: [{ agencyKind: 'jail' }, { agencyKind: 'provider' }] },
];

/** A small deterministic generator, so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

describe('criteriaStableUntil', () => {
  it('the answer at now holds at every instant before the bound, and the bound is where it can change', () => {
    let changedAtBound = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const events = Array.from({ length: 1 + Math.floor(r() * 6) }, () => {
        const kind = r() < 0.5 ? 'jail' : 'provider';
        // Mostly the past two years; a few dated up to two days ahead (allowed: 24 h future skew, and clocks differ).
        const at = NOW - Math.floor(r() * 730 * DAY) + (r() < 0.1 ? Math.floor(r() * 2 * DAY) + 2 * DAY : 0);
        return ev(r() < 0.6 ? 'booking' : 'service', kind === 'jail' ? 'county-jail' : `clinic-${Math.floor(r() * 2)}`, kind, at);
      });
      const now = new Date(NOW);
      const answer = criteriaMet(criteria, events, now);
      const until = criteriaStableUntil(criteria, events, now);
      expect(until).toBeGreaterThan(NOW);
      const end = Number.isFinite(until) ? until : NOW + 1000 * DAY;
      for (let i = 1; i <= 20; i++) {
        const t = NOW + Math.floor(((end - NOW) * i) / 21);
        expect({ seed, at: t, met: criteriaMet(criteria, events, new Date(t)) }).toEqual({ seed, at: t, met: answer });
      }
      expect({ seed, met: criteriaMet(criteria, events, new Date(end - 1)) }).toEqual({ seed, met: answer });
      if (Number.isFinite(until) && criteriaMet(criteria, events, new Date(until)).join() !== answer.join()) changedAtBound++;
    }
    // The bound is not merely safe but tight in practice: it is where answers actually change.
    expect(changedAtBound).toBeGreaterThan(20);
  });

  it('a booking leaving the 365-day window ends three_bookings_365 exactly at the bound', () => {
    const events = [ev('booking', 'county-jail', 'jail', NOW - 364 * DAY), ev('booking', 'county-jail', 'jail', NOW - 10 * DAY), ev('booking', 'county-jail', 'jail', NOW - DAY)];
    const now = new Date(NOW);
    expect(criteriaMet(criteria, events, now)).toContain('three_bookings_365');
    const until = criteriaStableUntil(criteria, events, now);
    expect(until).toBe(NOW + DAY);
    expect(criteriaMet(criteria, events, new Date(until - 1))).toContain('three_bookings_365');
    expect(criteriaMet(criteria, events, new Date(until))).not.toContain('three_bookings_365');
  });

  it('without windows or future-dated events nothing changes with time', () => {
    const events = [ev('booking', 'county-jail', 'jail', NOW - 1000 * DAY), ev('service', 'clinic-0', 'provider', NOW - 5 * DAY)];
    expect(criteriaStableUntil([{ id: 'multi_agency', minAgencies: 2 }], events, new Date(NOW))).toBe(Infinity);
  });
});
