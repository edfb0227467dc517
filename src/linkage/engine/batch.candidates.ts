import { addKeyHit, DEFAULT_CANDIDATE_LIMIT, DEFAULT_KEY_CAP, DEFAULT_SELECTIVE_KEY, isKeyCapped, pickCandidates, type KeyHits } from './blocking.rules';

/** One record of a batch linked in order: its keys as stored before the batch, and the keys it will carry. */
export interface BatchKeys {
  id: string;
  /** Keys the record carries in the key index before the batch (empty for a new record). */
  oldKeys: readonly string[];
  newKeys: readonly string[];
}

/**
 * The candidate records of each record of a batch, exactly as linking the batch one record at a
 * time in this order would pick them, from one read of the key index instead of one per record.
 *
 * When record i is linked one at a time, the key index holds the records outside the batch, the
 * batch records before i with their new keys, and those after i with their old keys (i's own entry
 * never counts). `others` gives, per new key of the batch, the records outside the batch that carry
 * it, read up to cap + 1: a key with cap + 1 of them is capped for every record of the batch, as
 * records outside the batch do not change. Candidates depend only on key membership, never on the
 * decisions, so all of them are known before the first decision.
 */
export function batchCandidates(
  batch: readonly BatchKeys[], others: ReadonlyMap<string, readonly string[]>,
  cap: number = DEFAULT_KEY_CAP, selective: number = DEFAULT_SELECTIVE_KEY, limit: number = DEFAULT_CANDIDATE_LIMIT,
): string[][] {
  // Batch members per key, as of the record being linked.
  const members = new Map<string, Set<string>>();
  const add = (k: string, id: string): void => {
    let s = members.get(k);
    if (!s) members.set(k, (s = new Set()));
    s.add(id);
  };
  for (const b of batch) for (const k of b.oldKeys) add(k, b.id);
  const byId = (a: string, b: string): number => Number(a) - Number(b);
  return batch.map((b) => {
    // i's old entries leave before it reads (the one-at-a-time linker replaces its keys first).
    for (const k of b.oldKeys) members.get(k)?.delete(b.id);
    const hits = new Map<string, KeyHits>();
    for (const k of new Set(b.newKeys)) {
      const outside = others.get(k) ?? [];
      const inside = members.get(k);
      const n = outside.length + (inside?.size ?? 0);
      if (n === 0 || isKeyCapped(n, cap)) continue;
      for (const id of outside) addKeyHit(hits, id, n);
      if (inside) for (const id of inside) addKeyHit(hits, id, n);
    }
    for (const k of b.newKeys) add(k, b.id);
    return pickCandidates(hits, byId, selective, limit);
  });
}
