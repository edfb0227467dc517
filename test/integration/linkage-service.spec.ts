import { Client } from 'pg';
import { LinksService } from '../../src/linkage/links.service';
import { ModelStoreService } from '../../src/linkage/model-store.service';
import { NameFrequencyService } from '../../src/linkage/name-frequency.service';
import { makeEvent, TestStack } from '../support/stack';

interface LinkRow {
  source: string;
  record_id: string;
  person_id: string;
}

async function links(stack: TestStack): Promise<LinkRow[]> {
  return stack.query<LinkRow>(
    `SELECT s.code AS source, sr.record_id, lr.person_id FROM linkage_record lr
       JOIN source_record sr ON sr.id = lr.source_record_id JOIN source s ON s.id = sr.source_id ORDER BY 1, 2`,
  );
}

async function drained(stack: TestStack, expected: number): Promise<void> {
  await stack.waitAppliedAndRefolded(expected);
}

describe('name frequencies in the worker', () => {
  it('scores a name against the total of the same recount, not against a live record count', async () => {
    const stack = await TestStack.start({ workers: 1 });
    // Hold the recount's lock, as a service already running with these counts would have them.
    const pg = new Client({ connectionString: stack.dbUrl });
    await pg.connect();
    try {
      await pg.query(`SELECT pg_advisory_lock(hashtextextended('linkage:name-frequency', 0))`);
      // 1,000 records counted; Diane and Smith are each carried by 300 of them: very common.
      await pg.query(`INSERT INTO name_frequency (field, value, records) VALUES ('first', 'diane', 300), ('first', 'other', 700), ('last', 'smith', 300), ('last', 'other', 700)`);
      const jail = await stack.createSource('county-jail', 'jail');
      const clinic = await stack.createSource('bh-clinic', 'provider');
      await stack.sendEvents(jail, [makeEvent({ type: 'booking', details: { bookingNumber: 'B1' } }, { recordId: 'J-1', firstName: 'Diane', lastName: 'Smith', dateOfBirth: '1960-06-03', sex: 'F' })]);
      await drained(stack, 1);
      // Same common name, birth year one off: a match only if the names were rare (the database
      // holds 1 record, so a live count would switch the name frequencies off).
      await stack.sendEvents(clinic, [makeEvent({ type: 'service', details: { serviceType: 'intake' } }, { recordId: 'C-1', firstName: 'Diane', lastName: 'Smith', dateOfBirth: '1961-06-03', sex: 'F' })]);
      await drained(stack, 2);
      const rows = await links(stack);
      expect(rows).toHaveLength(2);
      expect(rows[0].person_id).not.toBe(rows[1].person_id);
    } finally {
      await pg.end();
      await stack.close();
    }
  });
});

describe('linking records to persons in the worker', () => {
  let stack: TestStack;
  let jail: string;
  let clinic: string;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 1 });
    jail = await stack.createSource('county-jail', 'jail');
    clinic = await stack.createSource('bh-clinic', 'provider');
  });
  afterAll(async () => stack.close());

  it('links the jail\'s ROBERT J SMITH and the clinic\'s Bob Smith to one person, with an explanation', async () => {
    await stack.sendEvents(jail, [makeEvent({ type: 'booking', details: { bookingNumber: 'B1' } }, { recordId: 'J-1', firstName: 'ROBERT', middleName: 'J', lastName: 'SMITH', dateOfBirth: '1988-04-12', ssn: '123-45-6789' })]);
    await drained(stack, 1);
    await stack.sendEvents(clinic, [makeEvent({}, { recordId: 'C-9', firstName: 'Bob', lastName: 'Smith', dateOfBirth: '1988-04-12', ssn: '123456789' })]);
    await drained(stack, 2);
    const rows = await links(stack);
    expect(rows).toHaveLength(2);
    expect(rows[0].person_id).toBe(rows[1].person_id);
    const [d] = await stack.query<{ action: string; probability: number; explanation: { bestMatch: { weight: number; priorBits: number; fields: { field: string; bits: number }[] } } }>(
      `SELECT d.action, d.probability, d.explanation FROM link_decision d JOIN source_record sr ON sr.id = d.source_record_id WHERE sr.record_id = 'C-9'`,
    );
    expect(d.action).toBe('link');
    expect(d.probability).toBeGreaterThan(0.9);
    const m = d.explanation.bestMatch;
    const sum = m.priorBits + m.fields.reduce((s, f) => s + f.bits, 0);
    expect(sum).toBeCloseTo(m.weight, 6);
    expect(m.fields.find((f) => f.field === 'firstName')!.bits).toBeGreaterThan(0);
  });

  it('keeps a different person with the same surname apart', async () => {
    await stack.sendEvents(clinic, [makeEvent({}, { recordId: 'C-10', firstName: 'Alicia', lastName: 'Smith', dateOfBirth: '1971-11-30' })]);
    await drained(stack, 3);
    const rows = await links(stack);
    const alicia = rows.find((r) => r.record_id === 'C-10')!;
    expect(rows.filter((r) => r.person_id === alicia.person_id)).toHaveLength(1);
  });

  it('re-links a corrected record: it moves to the person it now matches and the emptied id resolves there', async () => {
    await stack.sendEvents(jail, [makeEvent({ occurredAt: '2026-01-01T00:00:00Z' }, { recordId: 'J-2', firstName: 'Denise', lastName: 'Yazzie', dateOfBirth: '1990-07-07' })]);
    await drained(stack, 4);
    const before = (await links(stack)).find((r) => r.record_id === 'J-2')!;
    await stack.sendEvents(jail, [makeEvent({ type: 'record_corrected', details: {}, occurredAt: '2026-02-01T00:00:00Z' }, { recordId: 'J-2', firstName: 'Alicia', lastName: 'Smith', dateOfBirth: '1971-11-30' })]);
    await drained(stack, 5);
    const rows = await links(stack);
    const moved = rows.find((r) => r.record_id === 'J-2')!;
    const alicia = rows.find((r) => r.record_id === 'C-10')!;
    expect(moved.person_id).toBe(alicia.person_id);
    const [old] = await stack.query<{ retired_into: string | null }>(`SELECT retired_into FROM person WHERE id = $1`, [before.person_id]);
    expect(old.retired_into).toBe(alicia.person_id);
    const decisions = await stack.query<{ action: string }>(
      `SELECT d.action FROM link_decision d JOIN source_record sr ON sr.id = d.source_record_id WHERE sr.record_id = 'J-2' ORDER BY d.id`,
    );
    expect(decisions.map((d) => d.action)).toEqual(['new', 'move']);
    // The record's blocking keys follow its new demographics: none of the old ones are left.
    const keys = await stack.query<{ key: string }>(
      `SELECT key FROM blocking_key bk JOIN source_record sr ON sr.id = bk.source_record_id WHERE sr.record_id = 'J-2'`,
    );
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => k.key.includes('1990'))).toBe(false);
  });
});

describe('four workers link like one', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await TestStack.start({ workers: 4, env: { WORKER_CONCURRENCY: '8' } });
  });
  afterAll(async () => stack.close());

  it('creates exactly one person per true person when many sources send the same people at once', async () => {
    const sources = ['court', 'jail', 'clinic', 'shelter'] as const;
    const keys = await Promise.all(sources.map((s, i) => stack.createSource(s, i === 0 ? 'court' : i === 1 ? 'jail' : 'provider')));
    const firsts = ['Ana', 'Luis', 'Kateri', 'Darnell', 'Mei', 'Oscar', 'Ruth', 'Tomas', 'Ivy', 'Noel'];
    const lasts = ['Begay', 'Archuleta', 'Nguyen', 'Okafor', 'Lindqvist', 'Trujillo'];
    const people = Array.from({ length: 60 }, (_, i) => ({
      firstName: firsts[i % firsts.length], lastName: lasts[Math.floor(i / firsts.length) % lasts.length],
      dateOfBirth: `19${60 + (i % 40)}-0${1 + (i % 9)}-${10 + (i % 18)}`, ssn: `${String(100 + i).padStart(3, '0')}-55-${String(1000 + i)}`,
    }));
    // Rounds of 5 people from all 4 sources at once: each person's 4 records are queued together
    // and picked up by different workers at the same moment, which is where races would merge or split.
    for (let from = 0; from < people.length; from += 5) {
      const answers = await Promise.all(
        sources.map((_, s) =>
          stack.sendEvents(keys[s], people.slice(from, from + 5).map((p, j) => makeEvent({ eventId: `e-${s}-${from + j}` }, { recordId: `${s}-${from + j}`, ...p }))),
        ),
      );
      expect(answers.every((a) => a.status === 202)).toBe(true);
    }
    await drained(stack, sources.length * people.length);
    const rows = await links(stack);
    expect(rows).toHaveLength(sources.length * people.length);
    const personOf = new Map<number, Set<string>>();
    for (const r of rows) {
      const truth = Number(r.record_id.split('-')[1]);
      personOf.set(truth, (personOf.get(truth) ?? new Set()).add(r.person_id));
    }
    // Every true person is one person, and no two true persons share one.
    expect([...personOf.values()].every((s) => s.size === 1)).toBe(true);
    expect(new Set(rows.map((r) => r.person_id)).size).toBe(people.length);
  });

  it('recounts name frequencies for term-frequency adjustment', async () => {
    expect(await stack.workers[0].get(NameFrequencyService).refresh()).toBe(true);
    const rows = await stack.query<{ field: string; value: string; records: number }>(`SELECT field, value, records FROM name_frequency ORDER BY field, value`);
    // 10 first names and 6 surnames, each carried by the 4 sources' copies of 6 or 10 people.
    expect(rows.filter((r) => r.field === 'first')).toHaveLength(10);
    expect(rows.filter((r) => r.field === 'last')).toHaveLength(6);
    expect(rows.reduce((n, r) => n + (r.field === 'last' ? r.records : 0), 0)).toBe(240);
  });

  it('exports one TSV row per source record with its person', async () => {
    let out = '';
    const n = await stack.workers[0].get(LinksService).exportTsv((c) => (out += c));
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('source\trecordId\tpersonId');
    expect(lines).toHaveLength(n + 1);
    expect(n).toBe(240);
    expect(lines.slice(1).every((l) => /^[a-z-]+\t[0-9]+-[0-9]+\t[0-9a-f-]{36}$/.test(l))).toBe(true);
  });

  it('explains a record with its decision history', async () => {
    const res = await stack.workers[0].get(LinksService).explain('jail', '1-7');
    expect(res.decisions.length).toBeGreaterThan(0);
    expect(res.decisions[0].actor).toBe('auto');
    await expect(stack.workers[0].get(LinksService).explain('jail', 'nope')).rejects.toThrow(/no record nope from source jail/);
  });

  it('trains a model by EM without labels, activates it, and evaluates links against labelled pairs', async () => {
    const store = stack.workers[0].get(ModelStoreService);
    const trained = await store.train({ seed: 3 });
    expect(trained.active).toBe(false);
    expect(trained.trainedOn).toBe(240);
    await store.activate(trained.version);
    expect((await store.list()).filter((m) => m.active).map((m) => m.version)).toEqual([trained.version]);
    const labels = ['a\tb\tmatch', 'court:0-1\tjail:1-1\t1', 'court:0-2\tclinic:2-2\t1', 'court:0-1\tjail:1-2\t0', 'court:0-3\tshelter:3-4\t0', 'court:0-1\tnowhere:9\t1', 'bad line'].join('\n');
    const ev = await stack.workers[0].get(LinksService).evaluate(labels);
    expect(ev.labelledPairs).toBe(4);
    expect(ev.current).toMatchObject({ precision: 1, recall: 1, f1: 1 });
    expect(ev.skipped.map((s) => s.line).sort()).toEqual([6, 7]);
    expect(ev.byThreshold.length).toBeGreaterThan(5);
  });
});
