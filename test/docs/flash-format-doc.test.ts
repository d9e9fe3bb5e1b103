/**
 * docs/flash-format.md's slot flags cannot drift from the record encoder: each documented bit of a
 * user's `f` (and an API key's `f`) is the bit the encoder sets for that flag.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PasswordVerifier } from '../../firmware/core/password-verifier-record.ts';
import { DEFAULT_SECURITY_SETTINGS } from '../../firmware/core/security-settings.ts';
import { createDefaultTable, type SlotEntry, type UserTable } from '../../firmware/core/user-table.ts';
import { encodeSecurityState } from '../../firmware/store/security-record.ts';
import { REPO_ROOT } from '../support/device-process.ts';

const VERIFIER: PasswordVerifier = {
  kdf: 'pbkdf2-sha256',
  iterations: 600_000,
  salt: new Uint8Array(16),
  publicKey: new Uint8Array(32),
};

/** The `f` the encoder writes for one entry placed in slot 3. */
function flagsOf(entry: SlotEntry): unknown {
  const factory = createDefaultTable(VERIFIER);
  const slots = factory.slots.slice();
  slots[3] = entry;
  const ids = factory.ids.slice();
  ids[3] = 8;
  const table: UserTable = { ...factory, slots, ids, nextId: 9 };
  const encoded = encodeSecurityState({ table, settings: DEFAULT_SECURITY_SETTINGS }) as {
    s: ({ f?: unknown } | null)[];
  };
  return encoded.s[3]?.f;
}

test('the user and API-key flag bits of docs/flash-format.md are the encoder’s', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'flash-format.md'), 'utf8').replace(/\s+/g, ' ');
  const userFlags = /Users add `f` flags \(([^)]+)\)/.exec(doc)?.[1];
  assert.ok(userFlags, 'the doc lists the user flags');
  const bits = new Map([...userFlags.matchAll(/bit (\d+) ([\w-]+)/g)].map((m) => [m[2], Number(m[1])]));
  assert.deepEqual([...bits.keys()].sort(), ['disabled', 'local-only', 'must-change-password']);
  const user = {
    type: 'user',
    name: 'field.eng',
    permissions: 1,
    verifier: VERIFIER,
    localOnly: false,
    mustChangePassword: false,
  } as const;
  assert.equal(flagsOf(user), 0);
  assert.equal(flagsOf({ ...user, localOnly: true }), 1 << (bits.get('local-only') as number));
  assert.equal(
    flagsOf({ ...user, mustChangePassword: true }),
    1 << (bits.get('must-change-password') as number),
  );
  assert.equal(flagsOf({ ...user, disabled: true }), 1 << (bits.get('disabled') as number));

  const keyBit = /and `f` \(bit (\d+) disabled\) only when disabled/.exec(doc)?.[1];
  assert.ok(keyBit, 'the doc gives the API key flag');
  const key = {
    type: 'api-key',
    name: 'scada',
    permissions: 1,
    preset: 'read-only',
    keyHash: new Uint8Array(32),
    createdAt: 0,
  } as const;
  assert.equal(flagsOf(key), undefined, 'an enabled key has no f');
  assert.equal(flagsOf({ ...key, disabled: true }), 1 << Number(keyBit));
});
