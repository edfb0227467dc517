import { ValidationFailedError } from '../errors/domain.error';

/** Keyset position: the sort key of the last row examined and its person id. */
export interface Cursor {
  /** Which sort the cursor belongs to, so a cursor cannot be replayed against another order. */
  s: string;
  /** Sort key (ISO time, name, or rank) or null for rows without one. */
  k: string | number | null;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
}

/** Opaque to clients; anything that is not ours is a 400 naming `cursor`. */
export function decodeCursor(raw: string, sort: string): Cursor {
  const bad = (): never => {
    throw new ValidationFailedError('invalid query: cursor', [{ path: 'cursor', message: 'cursor is not a cursor from this API for this sort' }]);
  };
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    return bad();
  }
  if (typeof c !== 'object' || c === null) return bad();
  const { s, k, id } = c as Record<string, unknown>;
  if (s !== sort || typeof id !== 'string' || !UUID.test(id)) return bad();
  if (!(k === null || typeof k === 'string' || typeof k === 'number')) return bad();
  if (typeof k === 'number' && sort !== 'rank') return bad();
  if (typeof k === 'string') {
    const time = sort === 'releaseDate' ? /^0\|(.+)$/.exec(k)?.[1] : sort === 'name' ? undefined : k;
    if (sort === 'releaseDate' && !/^(0\|.+|1\||2\|)$/.test(k)) return bad();
    if (time !== undefined && Number.isNaN(Date.parse(time))) return bad();
    if (sort === 'rank') return bad();
  }
  return { s, k, id };
}
