/** A made-up county population for demos: every name, date and number is synthetic. */
import { seededRng } from '../linkage/engine/random.seed';

export interface DemoSource {
  code: string;
  name: string;
  kind: 'court' | 'jail' | 'provider';
  part2?: boolean;
}

export const DEMO_SOURCES: DemoSource[] = [
  { code: 'county-court', name: 'County Court', kind: 'court' },
  { code: 'county-jail', name: 'County Jail', kind: 'jail' },
  { code: 'bh-clinic', name: 'Behavioral Health Clinic', kind: 'provider', part2: true },
  { code: 'shelter', name: 'Westside Shelter', kind: 'provider' },
  { code: 'hospital-ed', name: 'County Hospital ED', kind: 'provider' },
];

const FIRST = ['Robert', 'Maria', 'James', 'Guadalupe', 'Jesus', 'Linda', 'Michael', 'Patricia', 'David', 'Jennifer', 'Jose', 'Elizabeth', 'William', 'Rosa', 'Richard', 'Susan', 'Joseph', 'Margaret', 'Thomas', 'Dorothy', 'Francisco', 'Lisa', 'Daniel', 'Nancy', 'Anthony', 'Karen', 'Manuel', 'Betty', 'Kateri', 'Darnell'];
const NICK: Record<string, string> = { Robert: 'Bob', James: 'Jim', Guadalupe: 'Lupe', Jesus: 'Chuy', Michael: 'Mike', Patricia: 'Patty', William: 'Bill', Richard: 'Rick', Joseph: 'Joe', Elizabeth: 'Liz', Francisco: 'Paco', Daniel: 'Dan', Anthony: 'Tony', Margaret: 'Peggy', Jose: 'Pepe' };
const LAST = ['Smith', 'Garcia', 'Martinez', 'Johnson', 'Lopez', 'Chavez', 'Baca', 'Romero', 'Begay', 'Yazzie', 'Tsosie', 'Sanchez', 'Gonzales', 'Trujillo', 'Nguyen', 'Williams', 'Brown', 'Jones', 'Montoya', 'Archuleta', 'Tsinajinnie', "O'Brien", 'De La Cruz', 'Vigil', 'Apodaca'];
const STREETS = ['Central Ave SE', 'Coors Blvd NW', 'Isleta Blvd SW', 'Menaul Blvd NE', '4th St NW', 'Zuni Rd SE'];
const NEEDS = ['housing', 'behavioral_health', 'substance_use', 'medical', 'medication', 'benefits', 'employment', 'transportation', 'food', 'identification'] as const;

interface Person {
  first: string;
  last: string;
  dob: string;
  sex: 'M' | 'F';
  ssn?: string;
  phone?: string;
}

export type DemoEvent = Record<string, unknown> & { eventId: string };

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function typo(s: string, r: () => number): string {
  if (s.length < 4) return s;
  const i = 1 + Math.floor(r() * (s.length - 2));
  return s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
}

/** Events per source for `persons` people, most known to one agency, many to two or more. */
export function demoEvents(persons: number, seed = 42, now = new Date()): Map<string, DemoEvent[]> {
  const r = seededRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const out = new Map<string, DemoEvent[]>(DEMO_SOURCES.map((s) => [s.code, []]));
  const day = 86_400_000;
  const iso = (t: number): string => new Date(Math.min(t, now.getTime())).toISOString();
  for (let p = 0; p < persons; p++) {
    const person: Person = {
      first: pick(FIRST),
      last: pick(LAST),
      dob: `${1955 + Math.floor(r() * 50)}-${pad(1 + Math.floor(r() * 12))}-${pad(1 + Math.floor(r() * 28))}`,
      sex: r() < 0.55 ? 'M' : 'F',
      ssn: r() < 0.6 ? `${pad(100 + Math.floor(r() * 600), 3)}${pad(10 + Math.floor(r() * 89))}${pad(1000 + Math.floor(r() * 8999), 4)}` : undefined,
      phone: r() < 0.5 ? `505-${pad(200 + Math.floor(r() * 700), 3)}-${pad(Math.floor(r() * 10000), 4)}` : undefined,
    };
    const sources = DEMO_SOURCES.filter(() => r() < 0.35);
    if (sources.length === 0) sources.push(pick(DEMO_SOURCES));
    for (const src of sources) {
      const recordId = `${src.code.slice(0, 3).toUpperCase()}-${pad(p, 6)}`;
      const variant = r();
      const subject: Record<string, unknown> = {
        recordId,
        firstName: variant < 0.2 && NICK[person.first] ? NICK[person.first] : variant < 0.3 ? typo(person.first, r) : person.first,
        lastName: variant > 0.9 ? typo(person.last, r) : person.last,
        dateOfBirth: variant > 0.95 ? `${person.dob.slice(0, 8)}${pad(Math.min(28, Number(person.dob.slice(8)) + 1))}` : person.dob,
        sex: person.sex,
        ...(person.ssn && r() < 0.7 ? { ssn: person.ssn } : {}),
        ...(person.phone && r() < 0.5 ? { phone: person.phone } : {}),
        ...(r() < 0.5 ? { address: { line1: `${100 + Math.floor(r() * 9000)} ${pick(STREETS)}`, city: 'Albuquerque', state: 'NM', postalCode: `871${pad(Math.floor(r() * 100))}` } } : {}),
      };
      const events = out.get(src.code)!;
      let n = 0;
      const ev = (type: string, at: number, details: Record<string, unknown>): void => {
        events.push({ eventId: `${recordId}-${++n}`, type, occurredAt: iso(at), subject, details });
      };
      const t0 = now.getTime() - Math.floor(r() * 300) * day;
      if (src.kind === 'jail') {
        const booked = t0;
        ev('booking', booked, { bookingNumber: `B${pad(p, 7)}`, facility: 'Metropolitan Detention Center', scheduledReleaseAt: new Date(now.getTime() + (1 + Math.floor(r() * 30)) * day).toISOString() });
        if (r() < 0.5) ev('release', booked + Math.floor(r() * 20) * day, { bookingNumber: `B${pad(p, 7)}` });
      } else if (src.kind === 'court') {
        ev('court_case', t0, { caseNumber: `D-202-CR-${pad(p, 6)}`, caseType: pick(['misdemeanor', 'felony', 'competency']) });
        ev('hearing', t0 + day, { caseNumber: `D-202-CR-${pad(p, 6)}`, hearingAt: new Date(now.getTime() + Math.floor(r() * 60) * day).toISOString(), hearingType: 'status' });
      } else {
        ev('service', t0, { serviceType: src.code === 'hospital-ed' ? 'ed_visit' : src.code === 'shelter' ? 'bed_night' : 'intake' });
        const need = src.code === 'shelter' ? 'housing' : src.code === 'bh-clinic' ? pick(['behavioral_health', 'substance_use']) : pick(NEEDS);
        ev('need_opened', t0 + day, { needId: `N-${recordId}`, category: need });
        if (r() < 0.4) ev('referral', t0 + 2 * day, { referralId: `R-${recordId}`, need, status: 'open', toAgency: pick(DEMO_SOURCES).code });
        if (r() < 0.5) {
          const signed = t0 + 3 * day;
          ev('consent_signed', signed, {
            consentId: `C-${recordId}`, form: 'uroi', partners: r() < 0.5 ? ['*'] : [pick(DEMO_SOURCES).code],
            ...(src.part2 && r() < 0.5 ? { categories: ['behavioral_health', 'substance_use'] } : {}),
            signedAt: iso(signed), expiresAt: new Date(signed + (r() < 0.2 ? 20 : 365) * day).toISOString(),
          });
        }
        if (r() < 0.6) ev('contact_assigned', t0 + 4 * day, { name: `${pick(FIRST)} ${pick(LAST)}`, role: 'case manager', phone: `505-555-${pad(Math.floor(r() * 10000), 4)}` });
      }
    }
  }
  return out;
}
