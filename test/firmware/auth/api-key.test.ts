/**
 * API keys: `mgk_` + 43 base64url characters (32 random bytes), hashed with SHA-256 over the whole key,
 * well-formedness checked strictly, and the lookup finds the slot whose hash matches among several API
 * keys, ignores users and standard entries, and gives null for an unknown or malformed key.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  API_KEY_PREFIX,
  findApiKeySlot,
  generateApiKey,
  hashApiKey,
  isWellFormedApiKey,
} from '../../../firmware/auth/api-key.ts';
import { fromBase64Url } from '../../../firmware/auth/encoding.ts';
import type { ApiKeyEntry, SlotEntry, UserTable } from '../../../firmware/core/user-table.ts';

function apiKeyEntry(name: string, keyHash: Uint8Array): ApiKeyEntry {
  return { type: 'api-key', name, permissions: 0, preset: 'read-only', keyHash, createdAt: 0 };
}

function tableWith(entries: Record<number, SlotEntry>): UserTable {
  const slots = Array.from({ length: 8 }, (_, slot) => entries[slot] ?? null);
  const ids = slots.map((entry, slot) => (entry ? slot : null));
  return { slots, epochs: new Array(8).fill(0), ids, nextId: 8 };
}

describe('generateApiKey', () => {
  it('gives mgk_ and 43 base64url characters of 32 random bytes, and its SHA-256', () => {
    const { key, hash } = generateApiKey();
    assert.equal(API_KEY_PREFIX, 'mgk_');
    assert.match(key, /^mgk_[A-Za-z0-9_-]{43}$/);
    assert.equal(fromBase64Url(key.slice(4), 32)?.length, 32);
    assert.deepEqual(hash, new Uint8Array(createHash('sha256').update(key).digest()));
    assert.deepEqual(hashApiKey(key), hash);
  });

  it('never gives the same key twice', () => {
    const keys = new Set(Array.from({ length: 50 }, () => generateApiKey().key));
    assert.equal(keys.size, 50);
  });
});

describe('isWellFormedApiKey', () => {
  it('accepts generated keys and refuses anything else', () => {
    const { key } = generateApiKey();
    assert.equal(isWellFormedApiKey(key), true);
    assert.equal(isWellFormedApiKey(key.slice(4)), false);
    assert.equal(isWellFormedApiKey(`MGK_${key.slice(4)}`), false);
    assert.equal(isWellFormedApiKey(key.slice(0, -1)), false);
    assert.equal(isWellFormedApiKey(`${key}A`), false);
    assert.equal(isWellFormedApiKey(`${key}=`), false);
    assert.equal(isWellFormedApiKey(`${key.slice(0, 10)}+${key.slice(11)}`), false);
    assert.equal(isWellFormedApiKey('mgk_'), false);
    assert.equal(isWellFormedApiKey(''), false);
  });
});

describe('findApiKeySlot', () => {
  it('finds the slot of each key among several', () => {
    const keys = [generateApiKey(), generateApiKey(), generateApiKey()];
    const table = tableWith({
      3: apiKeyEntry('scada1', (keys[0] as { hash: Uint8Array }).hash),
      5: apiKeyEntry('scada2', (keys[1] as { hash: Uint8Array }).hash),
      7: apiKeyEntry('scada3', (keys[2] as { hash: Uint8Array }).hash),
    });
    assert.equal(findApiKeySlot(table, (keys[0] as { key: string }).key), 3);
    assert.equal(findApiKeySlot(table, (keys[1] as { key: string }).key), 5);
    assert.equal(findApiKeySlot(table, (keys[2] as { key: string }).key), 7);
  });

  it('gives null for an unknown, revoked or mistyped key', () => {
    const kept = generateApiKey();
    const revoked = generateApiKey();
    const table = tableWith({ 4: apiKeyEntry('scada', kept.hash) });
    assert.equal(findApiKeySlot(table, revoked.key), null);
    assert.equal(findApiKeySlot(table, kept.key.toUpperCase()), null);
    assert.equal(findApiKeySlot(table, ''), null);
    assert.equal(findApiKeySlot(tableWith({}), kept.key), null);
  });

  it('looks at API-key slots only', () => {
    const { key, hash } = generateApiKey();
    const table = tableWith({
      0: {
        type: 'user',
        name: 'admin',
        permissions: 0xffff,
        verifier: { kdf: 'pbkdf2-sha256', iterations: 1, salt: new Uint8Array(16), publicKey: hash },
        localOnly: false,
        mustChangePassword: false,
      },
      2: { type: 'standard', name: 'anonymous', permissions: 0 },
      6: apiKeyEntry('scada', hash),
    });
    assert.equal(findApiKeySlot(table, key), 6);
  });
});
