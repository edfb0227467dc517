import { compareFirstName, compareLastName, MISSING } from '../linkage/engine/field.compare';
import { normaliseName } from '../linkage/engine/name.normalise';
import { nicknameGroups } from '../linkage/engine/nickname.table';
import type { NormalisedName } from '../linkage/engine/record.types';
import { jaroWinkler } from '../linkage/engine/string.similarity';
import { foldText } from '../linkage/engine/text.normalise';

/** A fuzzy name query: the trigram probes for candidate generation and the parsed name for ranking. */
export interface NameQuery {
  /** Folded 'first last' strings compared with pg_trgm against person_view.search_name. */
  variants: string[];
  name: NormalisedName;
  /** A single token: it may be a first or a last name. */
  single: boolean;
}

const MAX_VARIANTS = 8;

/**
 * "bob smyth" -> ['bob smyth', 'robert smyth', 'smyth bob', ...]: nickname groups widen the
 * first name (trigrams alone never connect Bob and Robert), the swap catches reversed fields.
 */
export function nameQueryVariants(text: string): NameQuery {
  const tokens = foldText(text).split(' ').filter(Boolean);
  const single = tokens.length === 1;
  const first = single ? '' : tokens[0];
  const last = single ? tokens[0] : tokens.slice(1).join(' ');
  const { name } = normaliseName({ firstName: first || undefined, lastName: last }, 'query');
  const firsts = first ? [first, ...nicknameGroups(first).filter((g) => g !== first)] : [];
  const variants = new Set<string>();
  if (single) variants.add(last);
  for (const f of firsts) {
    variants.add(`${f} ${last}`);
    if (variants.size >= MAX_VARIANTS - 1) break;
  }
  if (first) variants.add(`${last} ${first}`);
  return { variants: [...variants].slice(0, MAX_VARIANTS), name, single };
}

const FIRST_SCORE = [1, 0.95, 0.9, 0.85, 0.75, 0.5, 0];
const LAST_SCORE = [1, 0.9, 0.85, 0.85, 0.75, 0];

/** Similarity in [0,1] of the query to one name, with the linkage engine's comparators; 0 = no match. */
export function rankName(q: NameQuery, firstName: string | undefined, lastName: string | undefined): number {
  const { name: n } = normaliseName({ firstName, lastName }, 'candidate');
  if (q.single) {
    // One token: as a last name, or as a first name (nicknames included).
    const asLast = compareLastName(q.name, n);
    const asFirst = compareFirstName({ ...q.name, first: q.name.last, firstFull: q.name.last, firstGroups: nicknameGroups(q.name.last) }, n);
    const s = Math.max(asLast === MISSING ? 0 : LAST_SCORE[asLast], asFirst === MISSING ? 0 : FIRST_SCORE[asFirst] * 0.9);
    return s >= 0.75 ? s : 0;
  }
  const f = compareFirstName(q.name, n);
  const l = compareLastName(q.name, n);
  const fs = f === MISSING ? 0.5 : FIRST_SCORE[f];
  const ls = l === MISSING ? 0 : LAST_SCORE[l];
  if (ls === 0) {
    // Reversed fields: "smith robert".
    const swapped = jaroWinkler(q.name.first, n.last) >= 0.92 && jaroWinkler(q.name.last, n.first) >= 0.92;
    return swapped ? 0.7 : 0;
  }
  const s = 0.45 * fs + 0.55 * ls;
  return fs > 0 && s >= 0.6 ? Math.round(s * 1000) / 1000 : 0;
}
