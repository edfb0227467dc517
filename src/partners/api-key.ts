import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Readable prefix so a leaked key is recognisable in scanners (e.g. secret scanning). */
export const KEY_PREFIX = 'ffk';

export interface GeneratedKey {
  token: string;
  keyId: string;
  digest: Buffer;
}

/** `ffk_<keyId>_<secret>`: keyId (public) finds the row, the 256-bit secret proves possession. */
export function generateApiKey(): GeneratedKey {
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const token = `${KEY_PREFIX}_${keyId}_${secret}`;
  return { token, keyId, digest: digestKey(token) };
}

export function parseApiKey(token: string): { keyId: string } | null {
  const m = /^ffk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(token);
  return m ? { keyId: m[1] } : null;
}

// SHA-256 suffices: a 256-bit random secret cannot be brute-forced, and a slow KDF would cap ingest.
export function digestKey(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
