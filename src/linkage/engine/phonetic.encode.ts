// Phonetic codes via talisman's Double Metaphone. talisman ships no type declarations,
// so it is loaded through createRequire and given a narrow type here.
import { createRequire } from 'node:module';

const load = createRequire(__filename);
const doubleMetaphoneImpl = load('talisman/phonetics/double-metaphone') as (word: string) => [string, string];

/** Primary Double Metaphone code of a folded name ('' for empty input). */
export function phoneticCode(name: string): string {
  const s = name.replace(/[^a-z]/g, '');
  if (!s) return '';
  const [primary] = doubleMetaphoneImpl(s);
  return primary || s.slice(0, 4);
}

/** Both Double Metaphone codes, de-duplicated. */
export function phoneticCodes(name: string): string[] {
  const s = name.replace(/[^a-z]/g, '');
  if (!s) return [];
  const [p, q] = doubleMetaphoneImpl(s);
  const out = [p || s.slice(0, 4)];
  if (q && q !== out[0]) out.push(q);
  return out;
}
