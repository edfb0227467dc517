// Writes a synthetic NDJSON file of contract-v1 events for the bulk-import benchmarks.
// Run: npx ts-node --transpile-only bench/import-file.generate.ts <rows> <out.ndjson> [badEvery]
// Every badEvery-th row (default 0: none) is broken, alternating malformed JSON and a bad date.
// bench/import.bench.ts imports writeImportFile() to write a file of a given size.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

const FIRST = ['Maria', 'James', 'Ann', 'Luis', 'Keisha', 'Tom', 'Priya', 'Omar', 'Grace', 'Dmitri'];
const LAST = ['Lopez', 'Smith', 'Lee', 'Nguyen', 'Johnson', 'Patel', 'Brown', 'Garcia', 'Okafor', 'Ivanova'];
const TYPES = ['service', 'booking', 'need_opened'] as const;

function event(i: number): Record<string, unknown> {
  const type = TYPES[i % TYPES.length];
  const person = Math.floor(i / 3);
  const details =
    type === 'service' ? { serviceType: 'intake', program: 'outreach' }
    : type === 'booking' ? { bookingNumber: `B${i}`, facility: 'Main Jail' }
    : { needId: `N${i}`, category: 'housing' };
  return {
    eventId: `bench-${i}`,
    type,
    // Ten seconds apart from 2020: millions of rows stay in the past (the contract refuses the future).
    occurredAt: new Date(Date.UTC(2020, 0, 1) + i * 10_000).toISOString(),
    subject: {
      recordId: `R${person}`,
      firstName: FIRST[person % FIRST.length],
      lastName: LAST[Math.floor(person / FIRST.length) % LAST.length],
      dateOfBirth: `19${50 + (person % 50)}-0${1 + (person % 9)}-1${person % 10}`,
      sex: person % 2 ? 'F' : 'M',
      phone: `555-01${String(person % 100).padStart(2, '0')}`,
      address: { line1: `${person % 900} Main St`, city: 'Springfield', state: 'IL', postalCode: '62701' },
      identifiers: [{ system: 'state_id', value: `S${person}` }],
    },
    details,
  };
}

export interface ImportFileOptions {
  /** Stop after this many rows ... */
  rows?: number;
  /** ... or once the file has at least this many bytes. */
  bytes?: number;
  /** Every badEvery-th row is broken (0: none). */
  badEvery?: number;
}

/** Writes the file; returns its rows and bytes. */
export async function writeImportFile(out: string, opts: ImportFileOptions): Promise<{ rows: number; bytes: number }> {
  const { rows = Number.MAX_SAFE_INTEGER, bytes = Number.MAX_SAFE_INTEGER, badEvery = 0 } = opts;
  const file = createWriteStream(out);
  let written = 0;
  let i = 0;
  while (i < rows && written < bytes) {
    i += 1;
    let line: string;
    if (badEvery && i % badEvery === 0) {
      line = (i / badEvery) % 2 ? `{"eventId":"bench-${i}","type":` : JSON.stringify({ ...event(i), subject: { ...(event(i).subject as object), dateOfBirth: '1980-02-30' } });
    } else line = JSON.stringify(event(i));
    written += Buffer.byteLength(line) + 1;
    if (!file.write(`${line}\n`)) await once(file, 'drain');
  }
  file.end();
  await once(file, 'finish');
  return { rows: i, bytes: written };
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2]);
  const out = process.argv[3];
  const badEvery = Number(process.argv[4] ?? 0);
  if (!Number.isInteger(rows) || rows < 1 || !out) throw new Error('usage: import-file.generate.ts <rows> <out.ndjson> [badEvery]');
  await writeImportFile(out, { rows, badEvery });
  process.stderr.write(`wrote ${rows} rows to ${out}\n`);
}

if (require.main === module) void main();
