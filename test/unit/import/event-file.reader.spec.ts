import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { formatFromName, MAX_ROW_BYTES, readEventFile, type FileRow, type ImportFormat } from '../../../src/ingest/import/event-file.reader';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ff-reader-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(name: string, content: string | Buffer, format: ImportFormat): Promise<FileRow[]> {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  const out: FileRow[] = [];
  for await (const r of readEventFile(file, format).rows) out.push(r);
  return out;
}

function summary(rows: FileRow[]): { line: number; ok: boolean; msg?: string }[] {
  return rows.map((r) => ('event' in r ? { line: r.line, ok: true } : { line: r.line, ok: false, msg: r.errors[0].message }));
}

describe('formatFromName', () => {
  it('knows .ndjson, .jsonl and .csv only', () => {
    expect([formatFromName('a.NDJSON'), formatFromName('a.jsonl'), formatFromName('a.csv'), formatFromName('a.json')]).toEqual(['ndjson', 'ndjson', 'csv', undefined]);
  });
});

describe('NDJSON reader', () => {
  it('numbers lines from 1, skips blank lines, handles CRLF and a BOM', async () => {
    const rows = await readAll('a.ndjson', '\ufeff{"a":1}\r\n\n  \n{"b":2}', 'ndjson');
    expect(rows).toEqual([{ line: 1, event: { a: 1 } }, { line: 4, event: { b: 2 } }]);
  });

  it('turns a malformed line into a rejected row without echoing its content', async () => {
    const rows = await readAll('b.ndjson', '{"a":1}\n{"eventId":"x-9","name":"Secret Person",\n{"c":3}\n', 'ndjson');
    expect(summary(rows)).toEqual([{ line: 1, ok: true }, { line: 2, ok: false, msg: expect.stringMatching(/^line is not valid JSON/) }, { line: 3, ok: true }]);
    expect(rows[1]).toMatchObject({ eventId: 'x-9' });
    expect(JSON.stringify(rows[1])).not.toContain('Secret');
  });

  it('rejects an over-long line and carries on with the next', async () => {
    const long = `{"x":"${'a'.repeat(MAX_ROW_BYTES + 10)}"}`;
    const rows = await readAll('c.ndjson', `{"a":1}\n${long}\n{"b":2}\n`, 'ndjson');
    expect(summary(rows)).toEqual([{ line: 1, ok: true }, { line: 2, ok: false, msg: `line is longer than ${MAX_ROW_BYTES} bytes` }, { line: 3, ok: true }]);
  });

  it('keeps multi-byte characters split across read chunks intact', async () => {
    const name = 'Zoë'.repeat(200_000); // crosses several 256 KiB chunks
    const rows = await readAll('d.ndjson', `${JSON.stringify({ n: name })}\n`, 'ndjson');
    expect(rows).toEqual([{ line: 1, event: { n: name } }]);
  });
});

describe('CSV reader', () => {
  const header = 'eventId,type,occurredAt,subject.recordId,subject.firstName,subject.lastName';

  it('gives each row the line it starts on, quoted newlines included', async () => {
    const rows = await readAll('a.csv', `${header}\ne1,service,t,r,"A\nB",L\n\ne2,service,t,r,A,L\n`, 'csv');
    expect(summary(rows)).toEqual([{ line: 2, ok: true }, { line: 5, ok: true }]);
  });

  it('counts a CRLF inside a quoted field as one file line', async () => {
    const rows = await readAll('crlf.csv', `${header}\r\ne1,service,t,r,"A\r\nB",L\r\n\r\ne2,service,t,r,A,L\r\ne3,service\r\n`, 'csv');
    expect(summary(rows)).toEqual([{ line: 2, ok: true }, { line: 5, ok: true }, { line: 6, ok: false, msg: 'row has 2 cells but the header has 6 columns' }]);
  });

  it('rejects a short row and carries on', async () => {
    const rows = await readAll('b.csv', `${header}\ne1,service\ne2,service,t,r,A,L\n`, 'csv');
    expect(summary(rows)).toEqual([{ line: 2, ok: false, msg: 'row has 2 cells but the header has 6 columns' }, { line: 3, ok: true }]);
  });

  it('reports an unclosed quote as a fatal rejected row at the line it starts', async () => {
    const rows = await readAll('c.csv', `${header}\ne1,service,t,r,A,L\ne2,service,t,r,"A,L\ne3,service,t,r,A,L\n`, 'csv');
    expect(summary(rows)).toEqual([{ line: 2, ok: true }, { line: 3, ok: false, msg: expect.stringContaining('never closed') }]);
    expect(rows[1]).toMatchObject({ fatal: true });
  });

  it('fails the file at the header when a column is unknown', async () => {
    await expect(readAll('d.csv', `${header},subject.shoeSize\ne1,service,t,r,A,L,9\n`, 'csv')).rejects.toThrow('unknown column "subject.shoeSize"');
  });

  it('fails an empty file', async () => {
    await expect(readAll('e.csv', '', 'csv')).rejects.toThrow('no header row');
  });
});
