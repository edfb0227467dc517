import { getMetadataStorage } from 'class-validator';
import { DETAILS_BY_TYPE } from '../event.dto';
import type { FieldIssue } from '../event.contract';

/** Columns copied as-is (after trimming) to the same dotted path in the event. */
export const CSV_PLAIN_COLUMNS = [
  'eventId', 'type', 'occurredAt',
  'subject.recordId', 'subject.firstName', 'subject.middleName', 'subject.lastName', 'subject.dateOfBirth',
  'subject.sex', 'subject.ssn', 'subject.phone', 'subject.email',
  'subject.address.line1', 'subject.address.line2', 'subject.address.city', 'subject.address.state', 'subject.address.postalCode',
] as const;

/** Without these every row would be rejected, so the header is refused instead. */
export const CSV_REQUIRED_COLUMNS = ['eventId', 'type', 'occurredAt', 'subject.recordId', 'subject.firstName', 'subject.lastName'] as const;

export const CSV_LIST_SEPARATOR = ';';

type ColumnKind = 'plain' | 'identifiers' | 'aliases' | 'details' | 'details-list';

export interface CsvColumn {
  name: string;
  kind: ColumnKind;
  /** Path segments inside the event, e.g. ['subject', 'address', 'city']. */
  path: string[];
}

export interface CsvHeader {
  columns: CsvColumn[];
}

export type CsvRowResult =
  | { ok: true; event: Record<string, unknown> }
  | { ok: false; eventId: string | null; errors: FieldIssue[] };

/** The header cannot be used; nothing in the file is imported. */
export class CsvHeaderError extends Error {
  constructor(
    message: string,
    readonly issues: FieldIssue[],
  ) {
    super(message);
  }
}

/**
 * details.<field> columns: every field of every event type's details class, read from the
 * contract's own validation metadata so a new details field needs no change here.
 */
export function detailsFields(): Map<string, 'details' | 'details-list'> {
  const storage = getMetadataStorage();
  const out = new Map<string, 'details' | 'details-list'>();
  for (const cls of Object.values(DETAILS_BY_TYPE)) {
    for (const m of storage.getTargetValidationMetadatas(cls, '', true, false)) {
      const isList = m.name === 'isArray';
      if (isList || !out.has(m.propertyName)) out.set(m.propertyName, isList ? 'details-list' : 'details');
    }
  }
  return out;
}

let detailsCache: Map<string, 'details' | 'details-list'> | undefined;

function columnFor(name: string): CsvColumn | undefined {
  if ((CSV_PLAIN_COLUMNS as readonly string[]).includes(name)) return { name, kind: 'plain', path: name.split('.') };
  if (name === 'subject.identifiers') return { name, kind: 'identifiers', path: ['subject', 'identifiers'] };
  if (name === 'subject.aliases') return { name, kind: 'aliases', path: ['subject', 'aliases'] };
  if (name.startsWith('details.')) {
    const field = name.slice('details.'.length);
    detailsCache ??= detailsFields();
    const kind = detailsCache.get(field);
    if (kind) return { name, kind, path: ['details', field] };
  }
  return undefined;
}

/** Checks the header row: every column known, none twice, the required ones present. */
export function parseCsvHeader(cells: string[]): CsvHeader {
  const issues: FieldIssue[] = [];
  const columns: CsvColumn[] = [];
  const seen = new Set<string>();
  cells.forEach((raw, i) => {
    const name = raw.trim();
    const col = columnFor(name);
    if (!col) {
      issues.push({ path: `header[${i + 1}]`, message: `unknown column ${JSON.stringify(name)} (see docs/import.md for the columns)` });
      return;
    }
    if (seen.has(name)) issues.push({ path: `header[${i + 1}]`, message: `column ${JSON.stringify(name)} appears more than once` });
    seen.add(name);
    columns.push(col);
  });
  for (const req of CSV_REQUIRED_COLUMNS) {
    if (!seen.has(req)) issues.push({ path: 'header', message: `required column ${JSON.stringify(req)} is missing` });
  }
  if (issues.length) throw new CsvHeaderError(`CSV header is not usable: ${issues.map((i) => i.message).join('; ')}`, issues);
  return { columns };
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const seg of path.slice(0, -1)) {
    node[seg] ??= {};
    node = node[seg] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

function splitList(cell: string): string[] {
  return cell.split(CSV_LIST_SEPARATOR).map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * Turns one CSV row into a raw contract-v1 event. Empty cells are absent fields. Only
 * cell-format problems are reported here; the contract itself is checked by the inbox.
 */
export function mapCsvRow(header: CsvHeader, cells: string[]): CsvRowResult {
  const eventIdAt = header.columns.findIndex((c) => c.name === 'eventId');
  const eventId = eventIdAt >= 0 && cells[eventIdAt]?.trim() ? cells[eventIdAt].trim() : null;
  if (cells.length !== header.columns.length) {
    return {
      ok: false, eventId,
      errors: [{ path: '', message: `row has ${cells.length} cells but the header has ${header.columns.length} columns` }],
    };
  }
  const event: Record<string, unknown> = {};
  const errors: FieldIssue[] = [];
  header.columns.forEach((col, i) => {
    const cell = cells[i].trim();
    if (cell === '') return;
    switch (col.kind) {
      case 'plain':
      case 'details':
        setPath(event, col.path, cell);
        break;
      case 'details-list':
        setPath(event, col.path, splitList(cell));
        break;
      case 'identifiers': {
        const ids = splitList(cell).map((entry, j) => {
          const at = entry.indexOf(':');
          if (at <= 0 || at === entry.length - 1) {
            errors.push({ path: `subject.identifiers[${j}]`, message: `subject.identifiers[${j}] must be written system:value` });
            return null;
          }
          return { system: entry.slice(0, at).trim(), value: entry.slice(at + 1).trim() };
        });
        setPath(event, col.path, ids);
        break;
      }
      case 'aliases': {
        let parsed: unknown;
        try {
          parsed = JSON.parse(cell);
        } catch {
          errors.push({ path: 'subject.aliases', message: 'subject.aliases must be a JSON array such as [{"firstName":"Ann","lastName":"Lee"}]' });
          return;
        }
        if (!Array.isArray(parsed)) {
          errors.push({ path: 'subject.aliases', message: 'subject.aliases must be a JSON array such as [{"firstName":"Ann","lastName":"Lee"}]' });
          return;
        }
        setPath(event, col.path, parsed);
        break;
      }
    }
  });
  return errors.length ? { ok: false, eventId, errors } : { ok: true, event };
}
