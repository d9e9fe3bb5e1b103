/**
 * API keys (DESIGN §5): 256 random bits shown once as `mgk_<base64url>`, stored as SHA-256 only, and
 * found by comparing the hash against every API-key slot in constant time (no early exit).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { UserTable } from '../core/user-table.ts';
import { toBase64Url } from './encoding.ts';

export const API_KEY_PREFIX = 'mgk_';

export function generateApiKey(): { key: string; hash: Uint8Array } {
  const key = `${API_KEY_PREFIX}${toBase64Url(new Uint8Array(randomBytes(32)))}`;
  return { key, hash: hashApiKey(key) };
}

export function hashApiKey(key: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(key, 'utf8').digest());
}

/** True when `key` has the form of an API key (prefix and 32 base64url bytes). */
export function isWellFormedApiKey(key: string): boolean {
  // 32 bytes in unpadded base64url are 43 characters; the last carries 4 bits, its low 2 bits zero.
  return WELL_FORMED.test(key);
}

const WELL_FORMED = /^mgk_[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** The slot holding this key, or null. Every API-key slot is compared, whatever matched before. */
export function findApiKeySlot(table: UserTable, key: string): number | null {
  const hash = hashApiKey(key);
  let found: number | null = null;
  table.slots.forEach((entry, slot) => {
    if (entry?.type === 'api-key' && timingSafeEqual(entry.keyHash, hash) && found === null) found = slot;
  });
  return found;
}
