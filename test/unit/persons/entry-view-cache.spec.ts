import { consentActive, decidePersonAccess } from '../../../src/access/access.policy';
import { EntryViewCache } from '../../../src/persons/entry-view.cache';
import { CLINIC, consent, JAIL, NOW, OWN, personState, principal, REGISTRY } from '../access/access-fixture.helper';

const DAY = 86_400_000;
const at = (days: number): Date => new Date(NOW.getTime() + days * DAY);

describe('EntryViewCache (the list reuses a decision only while it cannot differ)', () => {
  // The jail's consent ends 165 days after NOW; the clinic's Part 2 consent starts tomorrow.
  const state = personState([OWN, JAIL, CLINIC], [
    consent(JAIL, 'c-jail', [OWN], null),
    consent(CLINIC, 'c-clinic', [OWN], ['substance_use'], { future: true }),
  ]);
  const viewer = principal('case_manager');
  const decide = (now: Date) => decidePersonAccess({ viewer, purpose: 'care_coordination', state, agencies: REGISTRY, now });

  it('reuses the decision within the same consents in effect, and decides again when one starts or ends', () => {
    const cache = new EntryViewCache<ReturnType<typeof decide>>();
    let computed = 0;
    const get = (now: Date, key = 'shelter|case_manager|care_coordination', registry: object = REGISTRY) =>
      cache.get(state, key, registry, now, () => ((computed += 1), decide(now)));

    const first = get(NOW);
    expect(get(at(0.5))).toBe(first);
    expect(computed).toBe(1);
    // Tomorrow the clinic's consent is in effect: the Part 2 agency becomes nameable.
    const tomorrow = get(at(2));
    expect(computed).toBe(2);
    expect(tomorrow).toEqual(decide(at(2)));
    expect(JSON.stringify(tomorrow)).not.toEqual(JSON.stringify(first));
    // After the jail's consent ended, decided again.
    expect(get(at(170))).toEqual(decide(at(170)));
    expect(computed).toBe(3);
    // Another kind of viewer, or a re-read agency registry, is never served another's entry.
    get(at(170), 'county-jail|case_manager|care_coordination');
    get(at(170), 'shelter|case_manager|care_coordination', new Map(REGISTRY));
    expect(computed).toBe(5);
  });

  it('keys on what the decision reads of the clock: equal consents in effect give an equal decision', () => {
    const active = (d: Date) => state.consents.map((c) => consentActive(c, d)).join();
    // Pairs of instants inside each stretch between consent boundaries: the jail's runs from day -200 to 165, the clinic's from day 1.
    for (const [x, y] of [[-300, -250], [-150, 0.5], [1.5, 100], [100, 164.9], [166, 400]]) {
      expect(active(at(x))).toEqual(active(at(y)));
      expect(decide(at(y))).toEqual(decide(at(x)));
    }
  });
});
