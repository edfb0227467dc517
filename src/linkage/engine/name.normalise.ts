// Name parsing: accents, punctuation, surname particles, Mc/Mac, hyphenated surnames,
// generational suffixes, nickname groups and phonetic codes.
import { foldAccents } from './text.normalise';
import { nicknameGroups } from './nickname.table';
import { phoneticCode } from './phonetic.encode';
import type { NormalisedName } from './record.types';

/** Surname particles dropped for comparison ('De La Cruz' ~ 'Cruz', 'van der Berg' ~ 'Berg'). */
export const SURNAME_PARTICLES: ReadonlySet<string> = new Set([
  'de', 'del', 'della', 'dela', 'la', 'las', 'los', 'le', 'les', 'lo', 'van', 'von', 'der', 'den', 'ter', 'ten',
  'da', 'das', 'dos', 'do', 'du', 'di', 'y', 'e', 'bin', 'ibn', 'al', 'el', 'st', 'saint', 'mac', 'mc', 'o',
]);

const SUFFIX_MAP: Record<string, string> = {
  jr: 'jr', junior: 'jr', jnr: 'jr', sr: 'sr', senior: 'sr', snr: 'sr',
  ii: 'ii', '2nd': 'ii', iii: 'iii', '3rd': 'iii', iv: 'iv', '4th': 'iv', v: 'v', '5th': 'v',
};

/** Split a raw name into folded tokens; apostrophes join (O'Brien -> obrien), hyphens split. */
export function nameTokens(raw: string | undefined): string[] {
  if (!raw) return [];
  return foldAccents(raw)
    .replace(/['’‘`´]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter((t) => t.length > 0 && !/^\d+$/.test(t));
}

/** 'macdonald' and 'mcdonald' compare equal; short or vowel-led forms (mack, macias) are kept. */
function normaliseMac(token: string): string {
  return token.length >= 6 && /^mac[^aeiouhy]/.test(token) ? 'mc' + token.slice(3) : token;
}

/** Remove and return generational suffix tokens, never leaving the name empty. */
export function extractSuffix(tokens: string[]): { tokens: string[]; suffix: string } {
  let suffix = '';
  const kept: string[] = [];
  tokens.forEach((t, i) => {
    const s = SUFFIX_MAP[t];
    // 'v' alone is only a suffix at the very end; never strip the first token.
    if (s && i > 0 && (t !== 'v' || i === tokens.length - 1)) suffix = suffix || s;
    else kept.push(t);
  });
  return { tokens: kept, suffix };
}

export interface ParsedSurname {
  last: string;
  lastFull: string;
  lastParts: string[];
}

export function parseSurname(tokens: string[]): ParsedSurname {
  const toks = tokens.map(normaliseMac);
  let core = toks.filter((t) => !SURNAME_PARTICLES.has(t));
  if (!core.length) core = toks.slice(-1);
  return {
    last: core.join(''),
    // Mac-normalise the joined form too, so 'Mac Donald' ~ 'McDonald'.
    lastFull: normaliseMac(toks.join('')),
    lastParts: core.filter((t) => t.length >= 2),
  };
}

export interface NameInput {
  firstName?: string;
  middleName?: string;
  lastName?: string;
}

/** Parse one name variant; returns the name and any suffix found in it. */
export function normaliseName(input: NameInput, source: string): { name: NormalisedName; suffix: string } {
  const lastSplit = extractSuffix(nameTokens(input.lastName));
  const firstSplit = extractSuffix(nameTokens(input.firstName));
  const middleSplit = extractSuffix(['_', ...nameTokens(input.middleName)]);
  const givenTokens = firstSplit.tokens;
  const surname = parseSurname(lastSplit.tokens);
  const first = givenTokens[0] ?? '';
  const middle = [...givenTokens.slice(1), ...middleSplit.tokens.slice(1)];
  const name: NormalisedName = {
    source,
    first,
    firstFull: givenTokens.join(''),
    middle,
    last: surname.last,
    lastFull: surname.lastFull,
    lastParts: surname.lastParts,
    firstGroups: nicknameGroups(first),
    firstPhon: phoneticCode(first),
    lastPhon: phoneticCode(surname.last),
  };
  return { name, suffix: lastSplit.suffix || firstSplit.suffix || middleSplit.suffix };
}
