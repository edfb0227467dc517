// Parsers for the public evaluation datasets (FEBRL, Splink fake_1000). Text in, records out.
import type { RawPersonRecord } from './record.types';

export interface LabelledRecord {
  record: RawPersonRecord;
  /** True entity id (ground truth). */
  entity: string;
}

/** FEBRL CSV (`, ` separated, YYYYMMDD dates, 7-digit soc_sec_id as an identifier). */
export function parseFebrlCsv(text: string): LabelledRecord[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  const header = lines[0].split(',').map((h) => h.trim());
  const col = (name: string): number => header.indexOf(name);
  const idx = {
    id: col('rec_id'), given: col('given_name'), surname: col('surname'), num: col('street_number'),
    a1: col('address_1'), a2: col('address_2'), suburb: col('suburb'), pc: col('postcode'), state: col('state'),
    dob: col('date_of_birth'), ssid: col('soc_sec_id'),
  };
  return lines.slice(1).map((line) => {
    const f = line.split(',').map((v, i) => (i === 0 ? v : v.replace(/^ /, '')).trim());
    const id = f[idx.id];
    const entity = /^rec-(\d+)-/.exec(id)?.[1] ?? id;
    const record: RawPersonRecord = {
      id,
      firstName: f[idx.given],
      lastName: f[idx.surname],
      dateOfBirth: f[idx.dob] || undefined,
      address: {
        line1: [f[idx.num], f[idx.a1]].filter(Boolean).join(' '),
        line2: f[idx.a2] || undefined,
        city: f[idx.suburb] || undefined,
        state: f[idx.state] || undefined,
        postalCode: f[idx.pc] || undefined,
      },
      identifiers: f[idx.ssid] ? [{ system: 'soc_sec_id', value: f[idx.ssid] }] : [],
    };
    return { record, entity };
  });
}

/** Splink fake_1000 CSV: unique_id,first_name,surname,dob,city,email,cluster. */
export function parseSplinkFakeCsv(text: string): LabelledRecord[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  return lines.slice(1).map((line) => {
    const [id, first, last, dob, city, email, cluster] = line.split(',');
    return {
      record: {
        id,
        firstName: first.trim(),
        lastName: last.trim(),
        dateOfBirth: dob || undefined,
        email: email || undefined,
        address: city ? { city } : undefined,
      },
      entity: cluster,
    };
  });
}
