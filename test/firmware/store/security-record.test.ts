/**
 * The security record's payload, version 2: entry identities and the Modbus principals survive
 * encoding; a version-1 payload (no identities, principals as slots) is migrated, a principal slot left
 * empty by a deletion becoming `anonymous`, also when an older firmware left it on the flash image;
 * identities used twice or not below `ni` are refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PasswordVerifier } from '../../../firmware/auth/password-verifier.ts';
import { permissionsFromNames } from '../../../firmware/core/permission-table.ts';
import { DEFAULT_SECURITY_SETTINGS } from '../../../firmware/core/security-settings.ts';
import { ADMIN_SLOT, ANONYMOUS_SLOT, SLOT_COUNT } from '../../../firmware/core/slots.ts';
import {
  actorFor,
  addApiKey,
  addUser,
  createDefaultTable,
  isDisabled,
  removeEntry,
  setDisabled,
  type UserTable,
} from '../../../firmware/core/user-table.ts';
import { deriveKey } from '../../../firmware/keys/record-keys.ts';
import { SECURITY_RECORD_BLOCKS } from '../../../firmware/store/flash-layout.ts';
import { SealedRecordPair } from '../../../firmware/store/sealed-record.ts';
import {
  decodeSecurityState,
  encodeSecurityState,
  RecordShapeError,
  SECURITY_PAYLOAD_VERSION,
  SECURITY_RECORD_KIND,
  type SecurityState,
} from '../../../firmware/store/security-record.ts';
import { bootNormal, tempDataDir } from '../../support/store-fixture.ts';

const VERIFIER: PasswordVerifier = {
  kdf: 'pbkdf2-sha256',
  iterations: 600_000,
  salt: new Uint8Array(16),
  publicKey: new Uint8Array(32),
};

function admin(table: UserTable) {
  return { ...actorFor(table, ADMIN_SLOT), mustChangePassword: false };
}

/** Factory table + user in 3, key in 4, user in 3 deleted and a new key made (in 3). */
function churnedState(): SecurityState {
  let table = createDefaultTable(VERIFIER);
  table = addUser(table, admin(table), {
    name: 'scada1',
    verifier: VERIFIER,
    permissions: permissionsFromNames(['measurements.read']),
  }).table;
  table = addApiKey(table, admin(table), {
    name: 'hist1',
    preset: 'read-only',
    keyHash: new Uint8Array(32),
    createdAt: 1,
  }).table;
  table = removeEntry(table, admin(table), 3);
  table = addApiKey(table, admin(table), {
    name: 'plant.all',
    preset: 'all',
    keyHash: new Uint8Array(32).fill(7),
    createdAt: 2,
  }).table;
  const settings = {
    ...DEFAULT_SECURITY_SETTINGS,
    communication: { ...DEFAULT_SECURITY_SETTINGS.communication, modbusPrincipal: 9, rtuPrincipal: 10 },
  };
  return { table, settings };
}

/** The version-1 payload of a state: no `d`, no `ni`, principals as slots. */
function asVersion1(state: SecurityState, modbusSlot: number, rtuSlot: number): Record<string, unknown> {
  const v2 = encodeSecurityState(state) as Record<string, unknown>;
  const { ni: _ni, ...rest } = v2;
  const c = rest.c as typeof state.settings;
  const { modbusPrincipal: _m, rtuPrincipal: _r, ...communication } = c.communication;
  return {
    ...rest,
    v: 1,
    s: (rest.s as (Record<string, unknown> | null)[]).map((entry) => {
      if (!entry) return null;
      const { d: _d, ...fields } = entry;
      return fields;
    }),
    c: { ...c, communication: { ...communication, modbusSlot, rtuSlot } },
  };
}

describe('security record payload version 2', () => {
  it('identities, the next identity and the principals survive encoding', () => {
    const state = churnedState();
    assert.equal(SECURITY_PAYLOAD_VERSION, 2);
    assert.deepEqual(state.table.ids, [0, 1, 2, 10, 9, null, null, null]);
    assert.equal(state.table.nextId, 11);
    const decoded = decodeSecurityState(encodeSecurityState(state));
    assert.deepEqual(decoded.table.ids, state.table.ids);
    assert.equal(decoded.table.nextId, 11);
    assert.deepEqual(decoded.settings.communication, state.settings.communication);
    assert.deepEqual(encodeSecurityState(decoded), encodeSecurityState(state));
  });

  it('a version-1 record is migrated: identities = slots, principals = the entries in their slots', () => {
    const state = churnedState();
    const v1 = asVersion1(state, 4, 3);
    const decoded = decodeSecurityState(v1);
    assert.deepEqual(decoded.table.ids, [0, 1, 2, 3, 4, null, null, null]);
    assert.equal(decoded.table.nextId, SLOT_COUNT);
    assert.deepEqual(
      [decoded.settings.communication.modbusPrincipal, decoded.settings.communication.rtuPrincipal],
      [4, 3],
    );
    assert.equal('modbusSlot' in decoded.settings.communication, false);
    assert.deepEqual(decoded.table.slots, state.table.slots);
    // A new entry after the migration gets an identity no migrated entry has.
    const next = addUser(decoded.table, admin(decoded.table), {
      name: 'eng2',
      verifier: VERIFIER,
      permissions: 0,
    });
    assert.equal(next.table.ids[next.slot], SLOT_COUNT);
  });

  it('a version-1 principal naming an empty slot becomes anonymous, not whatever comes there next', () => {
    const decoded = decodeSecurityState(asVersion1(churnedState(), 6, 7));
    assert.deepEqual(
      [decoded.settings.communication.modbusPrincipal, decoded.settings.communication.rtuPrincipal],
      [ANONYMOUS_SLOT, ANONYMOUS_SLOT],
    );
    const withoutPrincipals = asVersion1(churnedState(), 2, 2) as { c: { communication: object } };
    withoutPrincipals.c.communication = {};
    assert.equal(
      decodeSecurityState(withoutPrincipals).settings.communication.modbusPrincipal,
      ANONYMOUS_SLOT,
    );
  });

  it('identities used twice, not below ni, or missing are refused naming the field', () => {
    const encode = () => encodeSecurityState(churnedState()) as { s: Record<string, unknown>[]; ni: number };
    const twice = encode();
    (twice.s[4] as Record<string, unknown>).d = 10;
    assert.throws(
      () => decodeSecurityState(twice),
      (e: unknown) => e instanceof RecordShapeError && /s\[4\]\.d/.test(e.message),
    );
    const high = encode();
    high.ni = 10;
    assert.throws(() => decodeSecurityState(high), /s\[3\]\.d: identity 10 is not below ni 10/);
    const missing = encode();
    delete (missing.s[0] as Record<string, unknown>).d;
    assert.throws(() => decodeSecurityState(missing), /s\[0\]\.d/);
    assert.throws(() => decodeSecurityState({ ...encode(), v: 3 }), /unsupported record version 3/);
  });

  it('a version-1 record on flash (an older firmware) boots migrated, and the next commit writes version 2', async (t) => {
    const data = tempDataDir(t);
    const first = await bootNormal(data);
    const seq = first.store.sequence;
    const pair = new SealedRecordPair(
      first.flash,
      SECURITY_RECORD_BLOCKS,
      SECURITY_RECORD_KIND,
      deriveKey(first.normal.rootKey, 'record/security'),
    );
    // What the older firmware left: both copies at the counter's sequence, principals as slots (5 empty).
    const v1 = asVersion1(churnedState(), 5, 4);
    pair.writeCopy(0, seq, v1);
    pair.writeCopy(1, seq, v1);
    first.close();

    const second = await bootNormal(data);
    const { state } = second.store;
    assert.deepEqual(state.table.ids, [0, 1, 2, 3, 4, null, null, null]);
    assert.deepEqual(
      [state.settings.communication.modbusPrincipal, state.settings.communication.rtuPrincipal],
      [ANONYMOUS_SLOT, 4],
    );
    second.store.commit(state);
    const stored = new SealedRecordPair(
      second.flash,
      SECURITY_RECORD_BLOCKS,
      SECURITY_RECORD_KIND,
      deriveKey(second.normal.rootKey, 'record/security'),
    ).readCopy(0);
    assert.equal(stored.state, 'valid');
    assert.equal(stored.state === 'valid' && (stored.payload as { v: number }).v, 2);
    second.close();
  });
});

describe('the disabled flag', () => {
  it('a disabled user and API key survive encoding; a record from before the flag loads them enabled', () => {
    let { table, settings } = churnedState();
    table = addUser(table, admin(table), {
      name: 'field.eng',
      verifier: VERIFIER,
      permissions: permissionsFromNames(['config.read']),
    }).table;
    const user = table.slots.findIndex((entry) => entry?.name === 'field.eng');
    table = setDisabled(table, admin(table), user, true);
    table = setDisabled(table, admin(table), 4, true);
    const encoded = encodeSecurityState({ table, settings }) as { s: (Record<string, unknown> | null)[] };
    // Users keep their flags byte (bit 2); an API key gets `f` only when disabled.
    assert.equal(encoded.s[user]?.f, 1 << 2);
    assert.equal(encoded.s[4]?.f, 1 << 2);
    assert.equal(encoded.s[3]?.f, undefined);
    const decoded = decodeSecurityState(encoded);
    assert.ok(isDisabled(decoded.table, user) && isDisabled(decoded.table, 4));
    assert.ok(!isDisabled(decoded.table, 3));
    assert.deepEqual(encodeSecurityState(decoded), encoded);
    // The same record as an older firmware wrote it (no bit 2, no `f` on keys): every entry enabled.
    const older = {
      ...encoded,
      s: encoded.s.map((entry) => {
        if (!entry) return null;
        const { f, ...rest } = entry;
        return entry.t === 1 ? rest : { ...rest, f: (f as number) & ~(1 << 2) };
      }),
    };
    const loaded = decodeSecurityState(older);
    assert.ok(loaded.table.slots.every((_, slot) => !isDisabled(loaded.table, slot)));
    const enabled = setDisabled(decoded.table, admin(decoded.table), user, false);
    assert.equal(enabled.slots[user]?.type === 'user' && 'disabled' in enabled.slots[user], false);
  });
});
