// Seeded synthetic US justice/health population for tests and the benchmark. Pure: no I/O
// beyond the shipped nickname table. Every person has 1-5 records from partner sources with
// realistic errors; twins and Jr/Sr pairs are included as precision traps.
import { nicknameGroups, nicknamesOf } from './nickname.table';
import { pick, randInt, seededRng, type Rng } from './random.seed';
import type { RawPersonRecord } from './record.types';

export interface PopulationOptions {
  seed: number;
  /** Number of base persons (twins and juniors are added on top). */
  persons: number;
  /** Share of persons that get a twin (default 0.015: about 3% of people are twins, as in US births). */
  twinRate?: number;
  /** Share of men that get a Jr (default 0.03). */
  juniorRate?: number;
}

export interface GeneratedRecord {
  record: RawPersonRecord;
  /** Ground-truth person id. */
  personId: string;
  source: string;
}

type Culture = 'anglo' | 'hispanic' | 'vietnamese' | 'other';

const SURNAMES: Record<Culture, [string, number][]> = {
  anglo: [
    ['Smith', 30], ['Johnson', 22], ['Williams', 20], ['Brown', 16], ['Jones', 16], ['Davis', 12], ['Miller', 10],
    ['Wilson', 8], ['Anderson', 8], ['Taylor', 8], ['Thomas', 8], ['Jackson', 8], ['White', 6], ['Harris', 6],
    ['Martin', 6], ['Thompson', 6], ['Moore', 6], ['Washington', 4], ["O'Brien", 3], ['McDonald', 3], ["O'Neil", 2],
    ['MacKenzie', 2], ['St. John', 1], ['Van Buren', 1], ['Fitzgerald', 2], ['Abernathy', 1],
  ],
  hispanic: [
    ['Garcia', 30], ['Hernandez', 18], ['Martinez', 16], ['Lopez', 14], ['Gonzalez', 14], ['Rodriguez', 14],
    ['Perez', 8], ['Sanchez', 8], ['Ramirez', 8], ['Torres', 6], ['Flores', 6], ['Rivera', 6], ['Gomez', 6], ['Diaz', 6],
    ['Reyes', 5], ['Morales', 5], ['Ortiz', 5], ['Gutiérrez', 5], ['Chávez', 5], ['Ramos', 4], ['Núñez', 3],
    ['De La Cruz', 3], ['De León', 3], ['Garcia-Lopez', 2], ['Hernández Ruiz', 2], ['Villalobos', 1], ['Quintanilla', 1],
  ],
  vietnamese: [['Nguyen', 30], ['Tran', 10], ['Le', 6], ['Pham', 5], ['Huynh', 3], ['Vo', 2], ['Dang', 2]],
  other: [
    ['Tsinajinnie', 1], ['Yazzie', 2], ['Begay', 2], ['Benally', 1], ['Tsosie', 1], ['Kowalczyk', 1], ['Okonkwo', 1],
    ['Adeyemi', 1], ['Szymanski', 1], ['Patel', 3], ['Kim', 3], ['Lee', 4], ['Wojcik', 1],
  ],
};

const FIRST: Record<Culture, { M: string[]; F: string[] }> = {
  anglo: {
    M: ['James', 'Robert', 'John', 'Michael', 'William', 'David', 'Richard', 'Joseph', 'Thomas', 'Charles', 'Christopher',
      'Daniel', 'Matthew', 'Anthony', 'Mark', 'Steven', 'Andrew', 'Joshua', 'Kenneth', 'Kevin', 'Brian', 'Timothy',
      'Ronald', 'Edward', 'Jason', 'Jeffrey', 'Ryan', 'Jacob', 'Gary', 'Nicholas', 'Eric', 'Jonathan', 'Stephen',
      'Larry', 'Justin', 'Scott', 'Brandon', 'Benjamin', 'Samuel', 'Gregory', 'Alexander', 'Patrick', 'Frank',
      'Raymond', 'Dennis', 'Tyler', 'Aaron', 'Henry', 'Douglas', 'Peter', 'Nathan', 'Zachary', 'Walter', 'Kyle',
      'Harold', 'Carl', 'Jeremy', 'Keith', 'Roger', 'Gerald', 'Ethan', 'Arthur', 'Terry', 'Sean', 'Lawrence', 'Austin'],
    F: ['Mary', 'Patricia', 'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica', 'Sarah', 'Karen', 'Lisa',
      'Nancy', 'Betty', 'Margaret', 'Sandra', 'Ashley', 'Kimberly', 'Emily', 'Donna', 'Michelle', 'Carol', 'Amanda',
      'Dorothy', 'Melissa', 'Deborah', 'Stephanie', 'Rebecca', 'Sharon', 'Laura', 'Cynthia', 'Kathleen', 'Amy',
      'Angela', 'Shirley', 'Anna', 'Brenda', 'Pamela', 'Emma', 'Nicole', 'Helen', 'Samantha', 'Katherine', 'Christine',
      'Rachel', 'Carolyn', 'Janet', 'Catherine', 'Heather', 'Diane', 'Ruth', 'Julie', 'Olivia', 'Joyce', 'Virginia'],
  },
  hispanic: {
    M: ['José', 'Juan', 'Luis', 'Carlos', 'Jesús', 'Francisco', 'Antonio', 'Manuel', 'Miguel', 'Pedro', 'Alejandro',
      'Guillermo', 'Eduardo', 'Ignacio', 'Enrique', 'Roberto', 'Alberto', 'Vicente', 'Lorenzo', 'Rafael', 'Ramón',
      'Salvador', 'Fernando', 'Ricardo', 'Jorge', 'Javier', 'Sergio', 'Raúl', 'Óscar', 'Rubén', 'Héctor', 'Arturo'],
    F: ['María', 'Guadalupe', 'Rosa', 'Ana', 'Carmen', 'Josefina', 'Graciela', 'Concepción', 'Dolores', 'Teresa',
      'Isabel', 'Margarita', 'Patricia', 'Juana', 'Francisca', 'Yolanda', 'Gloria', 'Esperanza', 'Leticia',
      'Verónica', 'Alejandra', 'Socorro', 'Rosario', 'Mercedes'],
  },
  vietnamese: {
    M: ['Minh', 'Thanh', 'Hung', 'Tuan', 'Duc', 'Nam', 'Long', 'Quang', 'Khanh', 'Dung', 'Hieu', 'Phuc'],
    F: ['Anh', 'Linh', 'Huong', 'Lan', 'Mai', 'Thao', 'Trang', 'Phuong', 'Hoa', 'Vy', 'Ngoc', 'Hanh'],
  },
  other: {
    M: ['Darius', 'Tariq', 'Chinedu', 'Kwame', 'Hosteen', 'Ahiga', 'Dmitri', 'Rajesh', 'Jae', 'Mateusz'],
    F: ['Nizhoni', 'Aiyana', 'Ngozi', 'Amara', 'Priya', 'Soo', 'Agnieszka', 'Leilani', 'Zainab', 'Oksana'],
  },
};

const SYLLABLES = ['ka', 'ro', 'vel', 'mar', 'ten', 'shi', 'lo', 'ber', 'din', 'ga', 'tor', 'wen', 'ly', 'stan', 'bro',
  'quin', 'zel', 'har', 'mo', 'ric', 'pel', 'das', 'ven', 'tro', 'lan', 'fer', 'gus', 'nik', 'sol', 'ard'];
const STREETS = ['Main', 'Oak', 'Pine', 'Maple', 'Cedar', 'Elm', 'Washington', 'Lake', 'Hill', 'Sunset', 'Mission',
  'Central', 'Park', 'Lincoln', 'Jefferson', 'Madison', 'Chavez', 'Alvarado', 'Grand', 'Broadway', 'Valley', 'Mesa'];
const STREET_TYPES = ['Street', 'St', 'Avenue', 'Ave', 'Road', 'Drive', 'Lane', 'Blvd', 'Court'];
const CITIES: [string, string, string][] = [
  ['Phoenix', 'AZ', '850'], ['Tucson', 'AZ', '857'], ['Albuquerque', 'NM', '871'], ['El Paso', 'TX', '799'],
  ['San Antonio', 'TX', '782'], ['Houston', 'TX', '770'], ['Fresno', 'CA', '937'], ['Los Angeles', 'CA', '900'],
];
const NO_ADDRESS = ['HOMELESS', 'Transient', 'No fixed address', 'Salvation Army Shelter, 1 Mission St', 'General Delivery'];

const SOURCES = [
  { name: 'county_jail', sid: 0.9, fbi: 0.5, ssn: 0.7, mrn: '' },
  { name: 'municipal_court', sid: 0.6, fbi: 0, ssn: 0.4, mrn: '' },
  { name: 'probation', sid: 0.9, fbi: 0.3, ssn: 0.8, mrn: '' },
  { name: 'county_health', sid: 0, fbi: 0, ssn: 0.8, mrn: 'mrn_county_health' },
  { name: 'hospital_er', sid: 0, fbi: 0, ssn: 0.6, mrn: 'mrn_hospital' },
  { name: 'shelter_hmis', sid: 0, fbi: 0, ssn: 0.5, mrn: 'hmis_id' },
];

interface Person {
  id: string;
  sex: 'M' | 'F';
  culture: Culture;
  first: string;
  middle: string;
  last: string;
  suffix: string;
  dob: [number, number, number];
  ssn: string;
  phone: string;
  address: RawPersonRecord['address'] | 'none';
  sid: string;
  fbi: string;
  mrn: Record<string, string>;
  maidenName: string;
}

function weighted<T>(rng: Rng, items: [T, number][]): T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  let r = rng() * total;
  for (const [v, w] of items) {
    r -= w;
    if (r <= 0) return v;
  }
  return items[items.length - 1][0];
}

function cap(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

function syllableName(rng: Rng): string {
  const n = 2 + randInt(rng, 2);
  let s = '';
  for (let i = 0; i < n; i++) s += pick(rng, SYLLABLES);
  return cap(s);
}

function digits(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(randInt(rng, 10));
  return s;
}

function validSsn(rng: Rng): string {
  let area = 1 + randInt(rng, 899);
  if (area === 666) area = 667;
  return String(area).padStart(3, '0') + String(1 + randInt(rng, 99)).padStart(2, '0') + String(1 + randInt(rng, 9999)).padStart(4, '0');
}

function randomAddress(rng: Rng): RawPersonRecord['address'] {
  const [city, state, zip3] = pick(rng, CITIES);
  const apt = rng() < 0.3 ? `Apt ${1 + randInt(rng, 40)}` : undefined;
  return {
    line1: `${1 + randInt(rng, 9999)} ${pick(rng, STREETS)} ${pick(rng, STREET_TYPES)}`,
    line2: apt,
    city,
    state,
    postalCode: zip3 + digits(rng, 2),
  };
}

function makePerson(rng: Rng, id: string): Person {
  const culture = weighted<Culture>(rng, [['anglo', 45], ['hispanic', 35], ['vietnamese', 8], ['other', 12]]);
  const sex = rng() < 0.55 ? 'M' : 'F';
  // Long tail: most people have a surname nobody else in the data has.
  const last = rng() < 0.45 ? weighted(rng, SURNAMES[culture]) : syllableName(rng);
  const first = rng() < 0.9 ? pick(rng, FIRST[culture][sex]) : syllableName(rng);
  const middle = rng() < 0.6 ? pick(rng, FIRST[pick(rng, ['anglo', 'hispanic'] as const)][sex]) : '';
  const year = 1950 + randInt(rng, 56);
  const month = 1 + randInt(rng, 12);
  const day = 1 + randInt(rng, 28);
  return {
    id,
    sex,
    culture,
    first,
    middle,
    last,
    suffix: '',
    dob: [year, month, day],
    ssn: rng() < 0.85 ? validSsn(rng) : '',
    phone: rng() < 0.7 ? String(2 + randInt(rng, 8)) + digits(rng, 9) : '',
    address: rng() < 0.12 ? 'none' : randomAddress(rng),
    sid: rng() < 0.6 ? 'AZ' + digits(rng, 8) : '',
    fbi: rng() < 0.35 ? digits(rng, 7) + 'AB' + digits(rng, 1) : '',
    mrn: { mrn_county_health: digits(rng, 8), mrn_hospital: 'H' + digits(rng, 7), hmis_id: digits(rng, 6) },
    maidenName: sex === 'F' && rng() < 0.05 ? syllableName(rng) : '',
  };
}

// ---------- record-level corruption ----------

const KEYBOARD = 'abcdefghijklmnopqrstuvwxyz';

function typo(rng: Rng, s: string): string {
  if (s.length < 3) return s;
  const i = 1 + randInt(rng, s.length - 1);
  switch (randInt(rng, 4)) {
    case 0:
      return s.slice(0, i) + s.slice(i + 1); // drop
    case 1:
      return s.slice(0, i) + pick(rng, [...KEYBOARD]) + s.slice(i + 1); // substitute
    case 2:
      return i < s.length - 1 ? s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2) : s + s[i - 1]; // transpose
    default:
      return s.slice(0, i) + s[i - 1] + s.slice(i); // double
  }
}

function caseStyle(rng: Rng, s: string): string {
  const r = rng();
  if (r < 0.3) return s.toUpperCase();
  if (r < 0.4) return s.toLowerCase();
  return s;
}

function stripAccents(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
}

function surnameVariant(rng: Rng, last: string): string {
  if (/^(De La|De|Van|St\.) /.test(last)) return pick(rng, [last.replace(/ /g, ''), last.split(' ').pop() ?? last, last.toUpperCase()]);
  if (last.startsWith("O'")) return pick(rng, [last.replace("'", ''), last.replace("'", ' ')]);
  if (last.startsWith('Mc')) return 'Mac' + last.slice(2);
  if (last.startsWith('Mac')) return 'Mc' + last.slice(3);
  if (/[- ]/.test(last)) return pick(rng, [last.split(/[- ]/)[0], last.replace(/[- ]/, ' '), last.replace(/[- ]/, '-')]);
  return last;
}

function slipDob(rng: Rng, [y, m, d]: [number, number, number]): string {
  const fmt = (a: number, b: number, c: number): string => `${a}-${String(b).padStart(2, '0')}-${String(c).padStart(2, '0')}`;
  const r = rng();
  if (r < 0.03) return ''; // missing
  if (r < 0.05 && d <= 12) return fmt(y, d, m); // day/month swap
  if (r < 0.08) {
    const s = fmt(y, m, d);
    const pos = pick(rng, [3, 6, 9]); // last digit of year, month or day
    const nd = String((+s[pos] + 1 + randInt(rng, 8)) % 10);
    const out = s.slice(0, pos) + nd + s.slice(pos + 1);
    return /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/.test(out) ? out : fmt(y, m, d);
  }
  if (r < 0.095) return fmt(y + (rng() < 0.5 ? 1 : -1), m, d);
  if (r < 0.105) return fmt(y, 1, 1); // placeholder day/month
  if (r < 0.11) return '1900-01-01';
  return fmt(y, m, d);
}

function corruptSsn(rng: Rng, ssn: string): string {
  const r = rng();
  if (r < 0.02) {
    const i = randInt(rng, 9);
    return ssn.slice(0, i) + String((+ssn[i] + 1) % 10) + ssn.slice(i + 1);
  }
  if (r < 0.03) {
    const i = randInt(rng, 8);
    return ssn.slice(0, i) + ssn[i + 1] + ssn[i] + ssn.slice(i + 2);
  }
  return ssn;
}

function makeRecord(rng: Rng, p: Person, source: (typeof SOURCES)[number], recId: string): RawPersonRecord {
  let first = p.first;
  let middle = p.middle;
  let last = p.last;
  const r1 = rng();
  const nicks = nicknamesOf(stripAccents(p.first).toLowerCase()).filter((n) => n.length > 2);
  if (r1 < 0.12 && nicks.length) first = cap(pick(rng, nicks));
  else if (r1 < 0.16 && middle) [first, middle] = [middle, rng() < 0.5 ? first : ''];
  else if (r1 < 0.22) first = typo(rng, first);
  else if (r1 < 0.23) first = first[0];
  if (rng() < 0.5) middle = rng() < 0.5 ? middle.slice(0, 1) : '';
  const r2 = rng();
  if (r2 < 0.05) last = typo(rng, last);
  else if (r2 < 0.15) last = surnameVariant(rng, last);
  else if (r2 < 0.18 && p.maidenName) last = p.maidenName;
  if (rng() < 0.4) [first, last, middle] = [stripAccents(first), stripAccents(last), stripAccents(middle)];
  if (p.suffix && rng() < 0.6) last = `${last} ${pick(rng, p.suffix === 'Jr' ? ['Jr', 'Jr.', 'JR'] : ['Sr', 'Sr.', 'SR'])}`;
  if (rng() < 0.02) [first, last] = [last, first];
  const rec: RawPersonRecord = { id: recId, firstName: caseStyle(rng, first), lastName: caseStyle(rng, last) };
  if (middle) rec.middleName = middle;
  const dob = slipDob(rng, p.dob);
  if (dob) rec.dateOfBirth = dob;
  rec.sex = rng() < 0.1 ? 'U' : p.sex;
  if (p.ssn && rng() < source.ssn) {
    const ssn = corruptSsn(rng, p.ssn);
    rec.ssn = rng() < 0.15 ? `XXX-XX-${ssn.slice(5)}` : rng() < 0.5 ? `${ssn.slice(0, 3)}-${ssn.slice(3, 5)}-${ssn.slice(5)}` : ssn;
  }
  if (p.phone && rng() < 0.6) rec.phone = rng() < 0.1 ? String(2 + randInt(rng, 8)) + digits(rng, 9) : `(${p.phone.slice(0, 3)}) ${p.phone.slice(3, 6)}-${p.phone.slice(6)}`;
  if (rng() < 0.75) {
    if (p.address === 'none') rec.address = { line1: pick(rng, NO_ADDRESS), city: CITIES[0][0], state: 'AZ' };
    else rec.address = rng() < 0.2 ? randomAddress(rng) : p.address;
  }
  const ids: { system: string; value: string }[] = [];
  if (p.sid && rng() < source.sid) ids.push({ system: 'state_id', value: p.sid });
  if (p.fbi && rng() < source.fbi) ids.push({ system: 'fbi_number', value: p.fbi });
  if (source.mrn) ids.push({ system: source.mrn, value: p.mrn[source.mrn] });
  if (ids.length) rec.identifiers = ids;
  if (p.maidenName && rng() < 0.5) rec.aliases = [{ lastName: last === p.maidenName ? p.last : p.maidenName }];
  else if (rng() < 0.03) rec.aliases = [{ firstName: pick(rng, FIRST[p.culture][p.sex]) }];
  return rec;
}

/** Generate a population; deterministic for a given seed. Record order is shuffled. */
export function generatePopulation(opts: PopulationOptions): GeneratedRecord[] {
  const rng = seededRng(opts.seed);
  const persons: Person[] = [];
  for (let i = 0; i < opts.persons; i++) {
    const p = makePerson(rng, `person-${i}`);
    persons.push(p);
    if (rng() < (opts.twinRate ?? 0.015)) {
      // Twin: same DOB, surname, household; different first name and SSN (often consecutive).
      const t = makePerson(rng, `person-${i}-twin`);
      let first = p.first;
      const related = new Set(nicknameGroups(stripAccents(p.first).toLowerCase()));
      while (first === p.first || nicknameGroups(stripAccents(first).toLowerCase()).some((g) => related.has(g))) {
        first = pick(rng, FIRST[p.culture][t.sex]);
      }
      const ssn = p.ssn && rng() < 0.5 ? p.ssn.slice(0, 8) + String((+p.ssn[8] + 1) % 10) : t.ssn;
      persons.push({ ...t, culture: p.culture, first, last: p.last, dob: p.dob, address: p.address, phone: rng() < 0.5 ? p.phone : t.phone, ssn });
    }
    if (p.sex === 'M' && p.dob[0] <= 1985 && rng() < (opts.juniorRate ?? 0.03)) {
      // Jr/Sr: same name, DOB a generation later, often the same household.
      const j = makePerson(rng, `person-${i}-jr`);
      p.suffix = 'Sr';
      const [, m, d] = j.dob;
      persons.push({
        ...j, sex: 'M', culture: p.culture, first: p.first, middle: p.middle, last: p.last, suffix: 'Jr',
        dob: [Math.min(p.dob[0] + 20 + randInt(rng, 16), 2006), m, d],
        address: rng() < 0.6 ? p.address : j.address, phone: rng() < 0.3 ? p.phone : j.phone,
      });
    }
  }
  const out: GeneratedRecord[] = [];
  let n = 0;
  for (const p of persons) {
    const count = weighted(rng, [[1, 30], [2, 25], [3, 20], [4, 14], [5, 11]]);
    for (let k = 0; k < count; k++) {
      const source = pick(rng, SOURCES);
      out.push({ record: makeRecord(rng, p, source, `${source.name}-${n++}`), personId: p.id, source: source.name });
    }
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
