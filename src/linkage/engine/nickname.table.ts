// Given-name nickname equivalence, loaded once at module init from the shipped CSVs.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type NicknameTable = ReadonlyMap<string, readonly string[]>;

const FILES = ['names.csv', 'spanish-hypocorisms.csv'];

// dist/ builds may not copy data files, so fall back to the source tree.
function dataDir(): string {
  const candidates = [
    path.join(__dirname, 'data', 'nicknames'),
    path.join(process.cwd(), 'src', 'linkage', 'engine', 'data', 'nicknames'),
  ];
  for (const c of candidates) if (fs.existsSync(path.join(c, FILES[0]))) return c;
  throw new Error(`nickname data not found in ${candidates.join(' or ')}`);
}

/** Parse `name1,relationship,name2` CSV text into [canonical, nickname] pairs. */
export function parseNicknameCsv(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    const [a, rel, b] = line.split(',');
    if (!a || !b || rel !== 'has_nickname') continue;
    const ca = a.replace(/[^a-z]/g, '');
    const cb = b.replace(/[^a-z]/g, '');
    if (ca && cb) out.push([ca, cb]);
  }
  return out;
}

/** Map each name to the sorted canonical names it belongs to (a canonical maps to itself). */
export function buildNicknameTable(pairs: [string, string][]): NicknameTable {
  const m = new Map<string, Set<string>>();
  const add = (k: string, v: string): void => {
    let s = m.get(k);
    if (!s) m.set(k, (s = new Set()));
    s.add(v);
  };
  for (const [canon, nick] of pairs) {
    add(canon, canon);
    add(nick, canon);
  }
  const out = new Map<string, string[]>();
  for (const [k, s] of m) out.set(k, [...s].sort());
  return out;
}

export function loadNicknameTable(dir: string = dataDir()): NicknameTable {
  const pairs = FILES.flatMap((f) => parseNicknameCsv(fs.readFileSync(path.join(dir, f), 'utf8')));
  return buildNicknameTable(pairs);
}

let cached: NicknameTable | undefined;
export function defaultNicknameTable(): NicknameTable {
  cached ??= loadNicknameTable();
  return cached;
}

/** Canonical group keys for a folded first name: itself plus every canonical it abbreviates. */
export function nicknameGroups(first: string, table: NicknameTable = defaultNicknameTable()): string[] {
  if (!first) return [];
  const groups = table.get(first);
  if (!groups) return [first];
  return groups.includes(first) ? [...groups] : [first, ...groups].sort();
}

let inverse: Map<string, string[]> | undefined;
/** Nicknames of a canonical name ('robert' -> ['bob', 'bobby', ...]); used by the generator. */
export function nicknamesOf(canonical: string, table: NicknameTable = defaultNicknameTable()): string[] {
  if (!inverse || table !== cached) {
    const inv = new Map<string, string[]>();
    for (const [name, canons] of table) {
      for (const c of canons) {
        if (c === name) continue;
        const list = inv.get(c);
        if (list) list.push(name);
        else inv.set(c, [name]);
      }
    }
    if (table !== cached) return inv.get(canonical) ?? [];
    inverse = inv;
  }
  return inverse.get(canonical) ?? [];
}
