// Plain-text folding shared by all normalisers. Pure, no I/O.

// Letters that Unicode NFD does not decompose into base + mark.
const SPECIAL_LETTERS: Record<string, string> = {
  ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', đ: 'd', ð: 'd', ł: 'l', þ: 'th', ı: 'i', ŀ: 'l',
};

/** Lower-case, strip accents (José -> jose, Toño -> tono), map special letters. */
export function foldAccents(s: string): string {
  const lower = s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  let out = '';
  for (const ch of lower) out += SPECIAL_LETTERS[ch] ?? ch;
  return out;
}

/** Fold, drop apostrophes (O'Brien -> obrien), turn other punctuation into spaces, collapse. */
export function foldText(s: string | undefined | null): string {
  if (!s) return '';
  return foldAccents(s)
    .replace(/['’‘`´]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** Digits only. */
export function digitsOnly(s: string | undefined | null): string {
  return s ? s.replace(/\D+/g, '') : '';
}
