// Shared test helpers: public evaluation data ships in data/eval/ with its licences.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseFebrlCsv, parseSplinkFakeCsv, type LabelledRecord } from '../../../src/linkage/engine/dataset.parse';
import { normaliseRecord } from '../../../src/linkage/engine/record.normalise';
import type { NormalisedRecord, RawPersonRecord } from '../../../src/linkage/engine/record.types';

export const DATA_DIR = process.env.FF_DATA_DIR ?? path.resolve(__dirname, '../../../data/eval');

export function readData(rel: string): string {
  const p = path.join(DATA_DIR, rel);
  if (!fs.existsSync(p)) throw new Error(`evaluation data missing: ${p} (set FF_DATA_DIR)`);
  return fs.readFileSync(p, 'utf8');
}

export function febrl(file: string): LabelledRecord[] {
  return parseFebrlCsv(readData(`febrl/${file}`));
}

export function splinkFake(): LabelledRecord[] {
  return parseSplinkFakeCsv(readData('splink-fake/fake_1000_from_splink_demos.csv'));
}

/** Minimal raw record with defaults. */
export function raw(partial: Partial<RawPersonRecord> & { id?: string }): RawPersonRecord {
  return { id: partial.id ?? 'r', firstName: '', lastName: '', ...partial };
}

export function norm(partial: Partial<RawPersonRecord>): NormalisedRecord {
  return normaliseRecord(raw(partial));
}
