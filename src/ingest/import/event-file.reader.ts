import { createReadStream } from 'node:fs';
import { parse, type CsvError, type Options } from 'csv-parse';
import type { FieldIssue } from '../event.contract';
import { mapCsvRow, parseCsvHeader, type CsvHeader } from './csv-event.mapper';

export type ImportFormat = 'ndjson' | 'csv';

/** One data row of the file: a raw event to offer the inbox, or a row that could not be read. */
export type FileRow =
  | { line: number; event: unknown }
  | { line: number; eventId: string | null; errors: FieldIssue[]; fatal?: boolean };

/** Bounds memory per row; an event is a few KB. */
export const MAX_ROW_BYTES = 1024 * 1024;
const READ_CHUNK = 256 * 1024;

export interface FileRowSource {
  rows: AsyncGenerator<FileRow>;
  /** Bytes consumed so far, for progress. */
  bytesRead(): number;
}

export function formatFromName(file: string): ImportFormat | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'ndjson';
  if (lower.endsWith('.csv')) return 'csv';
  return undefined;
}

export function readEventFile(file: string, format: ImportFormat): FileRowSource {
  return format === 'csv' ? readCsv(file) : readNdjson(file);
}

/** JSON.parse messages can quote the input; keep only the position. */
function jsonError(err: unknown): string {
  const at = err instanceof Error ? /position (\d+)/.exec(err.message) : null;
  return at ? `line is not valid JSON (error at character ${Number(at[1]) + 1})` : 'line is not valid JSON';
}

/** Helps find a broken line in the source system; no other content is echoed. */
function sniffEventId(text: string): string | null {
  const m = /"eventId"\s*:\s*"([^"\\]{1,128})"/.exec(text);
  return m ? m[1] : null;
}

function readNdjson(file: string): FileRowSource {
  let bytes = 0;
  async function* rows(): AsyncGenerator<FileRow> {
    const stream = createReadStream(file, { highWaterMark: READ_CHUNK });
    let carry: Buffer[] = [];
    let carryLen = 0;
    let tooLong = false;
    let line = 0;

    const finish = (buf: Buffer): FileRow | null => {
      line += 1;
      if (tooLong || buf.length > MAX_ROW_BYTES) {
        tooLong = false;
        return { line, eventId: null, errors: [{ path: '', message: `line is longer than ${MAX_ROW_BYTES} bytes` }] };
      }
      let text = buf.toString('utf8');
      if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.trim() === '') return null;
      try {
        return { line, event: JSON.parse(text) as unknown };
      } catch (err) {
        return { line, eventId: sniffEventId(text), errors: [{ path: '', message: jsonError(err) }] };
      }
    };

    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      let start = 0;
      for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        const whole = carryLen ? Buffer.concat([...carry, piece]) : piece;
        carry = [];
        carryLen = 0;
        start = nl + 1;
        const row = finish(whole);
        if (row) yield row;
      }
      if (start < chunk.length && !tooLong) {
        const rest = chunk.subarray(start);
        carry.push(Buffer.from(rest)); // copy: the stream may reuse its buffer
        carryLen += rest.length;
        if (carryLen > MAX_ROW_BYTES) {
          tooLong = true; // drop bytes until the next newline
          carry = [];
          carryLen = 0;
        }
      }
    }
    if (carryLen || tooLong) {
      const row = finish(Buffer.concat(carry));
      if (row) yield row;
    }
  }
  return { rows: rows(), bytesRead: () => bytes };
}

function count(cells: string[], needle: string): number {
  let n = 0;
  for (const c of cells) for (let i = c.indexOf(needle); i !== -1; i = c.indexOf(needle, i + 1)) n += 1;
  return n;
}

interface CsvItem {
  record: string[];
  /** The file line the row starts on. */
  line: number;
}

/** csv-parse cannot resume after these: everything after the broken row is lost. */
const FATAL_CSV = new Set(['CSV_QUOTE_NOT_CLOSED', 'CSV_MAX_RECORD_SIZE']);

function csvProblem(err: CsvError | undefined): { message: string; fatal: boolean } {
  const code = err?.code ?? 'unknown';
  if (code === 'CSV_QUOTE_NOT_CLOSED') {
    return { message: 'a quote opened in this row is never closed; the rest of the file could not be read', fatal: true };
  }
  if (code === 'CSV_MAX_RECORD_SIZE') {
    return { message: `row is longer than ${MAX_ROW_BYTES} bytes (often an unclosed quote); the rest of the file could not be read`, fatal: true };
  }
  return { message: `row is not valid CSV (${code})`, fatal: FATAL_CSV.has(code) };
}

function readCsv(file: string): FileRowSource {
  let lastLine = 0;
  let crlfInFields = 0;
  const skipped: FileRow[] = [];
  // With info: true each record reaches on_record as { record, info }; we hand on a CsvItem.
  const options: Options<CsvItem, { record: string[] }> = {
    bom: true,
    info: true,
    relax_column_count: true, // a short or long row is one rejected row, not a failed file
    relax_quotes: true, // a stray quote inside a field is kept as text instead of derailing the parser
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: MAX_ROW_BYTES,
    on_record: ({ record }, ctx) => {
      // csv-parse counts a CRLF inside a quoted field as two lines; count file lines instead.
      crlfInFields += count(record, '\r\n');
      lastLine = ctx.lines - crlfInFields;
      return { record, line: lastLine - count(record, '\n') };
    },
    on_skip: (err: CsvError | undefined) => {
      const p = csvProblem(err);
      skipped.push({ line: lastLine + 1, eventId: null, errors: [{ path: '', message: p.message }], fatal: p.fatal });
      return undefined;
    },
  };
  const parser = parse(options as unknown as Options); // the typings assume records stay string[]
  const input = createReadStream(file, { highWaterMark: READ_CHUNK });
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);

  async function* rows(): AsyncGenerator<FileRow> {
    let header: CsvHeader | undefined;
    try {
      for await (const { record, line } of parser as AsyncIterable<CsvItem>) {
        // The parser runs ahead of us: only rows it skipped before this one come first.
        while (skipped.length && skipped[0].line <= line) yield skipped.shift()!;
        if (!header) {
          header = parseCsvHeader(record);
          continue;
        }
        const r = mapCsvRow(header, record);
        yield r.ok ? { line, event: r.event } : { line, eventId: r.eventId, errors: r.errors };
      }
      if (!header) throw new EmptyFileError();
      while (skipped.length) yield skipped.shift()!;
    } finally {
      input.destroy();
      parser.destroy();
    }
  }
  return { rows: rows(), bytesRead: () => (parser.info?.bytes ?? 0) };
}

export class EmptyFileError extends Error {
  constructor() {
    super('the CSV file has no header row');
  }
}
