/**
 * User table: the factory table, the authorize gate, every operation with every error code it can give,
 * immutability of the input table, slot epochs, the lock-out guard, effective permissions and
 * describeEntry (DESIGN §2, §3).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  createVerifier,
  MIN_KDF_ITERATIONS,
  type PasswordVerifier,
} from '../../../firmware/auth/password-verifier.ts';
import { authorize as decideOrThrow } from '../../../firmware/core/access.ts';
import { type CoreError, type CoreErrorCode, isCoreError } from '../../../firmware/core/core-error.ts';
import {
  ALL_PERMISSIONS,
  AUDIT_READ,
  CONFIG_READ,
  MEASUREMENTS_READ,
  METERS_READ,
  METERS_RESET,
  normalizePermissions,
  PERMISSIONS,
  type PermissionName,
  type PermissionSet,
  PRESETS,
  type PresetName,
  permissionNames,
  permissionsFromNames,
  rolePermissions,
  SECURITY_READ,
  SECURITY_WRITE,
} from '../../../firmware/core/permission-table.ts';
import { ADMIN_SLOT, ANONYMOUS_SLOT, LOCALGUI_SLOT, SLOT_COUNT } from '../../../firmware/core/slots.ts';
import {
  type Actor,
  ANONYMOUS_DEFAULT,
  type ApiKeyEntry,
  actorFor,
  addApiKey,
  addUser,
  assertSecurityAdminRemains,
  createDefaultTable,
  describeEntry,
  type EntryActor,
  effectivePermissions,
  entryAt,
  entryIdAt,
  findSlotByName,
  isDisabled,
  LOCALGUI_DEFAULT,
  type NewApiKey,
  type NewUser,
  removeEntry,
  renameEntry,
  type SlotEntry,
  setDisabled,
  setLocalOnly,
  setPassword,
  setPermissions,
  slotOfEntry,
  type UserEntry,
  type UserTable,
} from '../../../firmware/core/user-table.ts';

/** The one decision (access.ts) for a request over HTTPS: the network interface of these tests. */
const authorize = (actor: Actor, permission: PermissionName) => decideOrThrow(actor, permission, 'https');

let adminVerifier: PasswordVerifier;
let userVerifier: PasswordVerifier;
let newVerifier: PasswordVerifier;

before(async () => {
  [adminVerifier, userVerifier, newVerifier] = await Promise.all([
    createVerifier('CBM_1234', { iterations: MIN_KDF_ITERATIONS }),
    createVerifier('correct horse battery', { iterations: MIN_KDF_ITERATIONS }),
    createVerifier('a new passphrase 42', { iterations: MIN_KDF_ITERATIONS }),
  ]);
});

const DEFINABLE_SLOTS = [3, 4, 5, 6, 7];

function names(set: PermissionSet): string[] {
  return permissionNames(set);
}

function newUser(name: string, overrides: Partial<NewUser> = {}): NewUser {
  return { name, verifier: userVerifier, permissions: rolePermissions('VIEWER'), ...overrides };
}

function newKey(name: string, preset: PresetName = 'read-only'): NewApiKey {
  return { name, preset, keyHash: new Uint8Array(32).fill(name.length), createdAt: 1_700_000_000_000 };
}

/** Asserts `fn` throws a CoreError with `code`, runs `check` on it, and that `table` was not mutated. */
function throwsCode(
  table: UserTable,
  code: CoreErrorCode,
  fn: () => unknown,
  check?: (error: CoreError) => void,
): void {
  const snapshot = structuredClone(table);
  assert.throws(fn, (error: unknown) => {
    assert.ok(isCoreError(error), `expected a CoreError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    check?.(error);
    return true;
  });
  assert.deepStrictEqual(table, snapshot);
}

/** Runs an operation that must succeed: returns its table, checks the input was left as it was. */
function changes(table: UserTable, fn: (table: UserTable) => UserTable): UserTable {
  const snapshot = structuredClone(table);
  const next = fn(table);
  assert.notEqual(next, table);
  assert.notEqual(next.slots, table.slots);
  assert.notEqual(next.epochs, table.epochs);
  assert.deepStrictEqual(table, snapshot);
  return next;
}

function user(table: UserTable, slot: number): UserEntry {
  const entry = entryAt(table, slot);
  assert.equal(entry.type, 'user');
  return entry as UserEntry;
}

function apiKey(table: UserTable, slot: number): ApiKeyEntry {
  const entry = entryAt(table, slot);
  assert.equal(entry.type, 'api-key');
  return entry as ApiKeyEntry;
}

/** The factory table after the admin has set its own password: the admin may act. */
function activeTable(): { table: UserTable; admin: EntryActor } {
  const factory = createDefaultTable(adminVerifier);
  const table = setPassword(factory, actorFor(factory, ADMIN_SLOT), ADMIN_SLOT, newVerifier, {
    currentPasswordVerified: true,
  });
  return { table, admin: actorFor(table, ADMIN_SLOT) };
}

/**
 * activeTable plus slot 3 `viewer` (VIEWER user), slot 4 `reader` (read-only API key) and slot 5
 * `secadm` (SECADM user).
 */
function populatedTable(): { table: UserTable; admin: EntryActor; viewer: EntryActor; secadm: EntryActor } {
  const { table: active, admin } = activeTable();
  let table = addUser(active, admin, newUser('viewer')).table;
  table = addApiKey(table, admin, newKey('reader')).table;
  table = addUser(table, admin, newUser('secadm', { permissions: rolePermissions('SECADM') })).table;
  return { table, admin, viewer: actorFor(table, 3), secadm: actorFor(table, 5) };
}

/** Every epoch unchanged except `slot`'s, which has grown. */
function assertBumpedOnly(before: UserTable, after: UserTable, slot: number): void {
  assert.equal(after.epochs.length, SLOT_COUNT);
  for (let index = 0; index < SLOT_COUNT; index++) {
    const was = before.epochs[index] ?? Number.NaN;
    const now = after.epochs[index] ?? Number.NaN;
    if (index === slot) assert.ok(now > was, `slot ${index}: epoch ${was} -> ${now} should grow`);
    else assert.equal(now, was, `slot ${index}: epoch should stay`);
  }
}

describe('createDefaultTable', () => {
  it('has 8 slots, epochs 0, and slots 3–7 empty', () => {
    const table = createDefaultTable(adminVerifier);
    assert.equal(table.slots.length, SLOT_COUNT);
    assert.deepEqual(table.epochs, new Array(SLOT_COUNT).fill(0));
    for (const slot of DEFINABLE_SLOTS) assert.equal(table.slots[slot], null, `slot ${slot}`);
  });

  it('slot 0 is admin: all permissions, the given verifier, must change its password', () => {
    const table = createDefaultTable(adminVerifier);
    assert.deepEqual(table.slots[ADMIN_SLOT], {
      type: 'user',
      name: 'admin',
      permissions: ALL_PERMISSIONS,
      verifier: adminVerifier,
      localOnly: false,
      mustChangePassword: true,
    });
    assert.equal(user(table, ADMIN_SLOT).verifier, adminVerifier);
  });

  it('slot 1 is localgui = measurements.read, meters.read, config.read', () => {
    const table = createDefaultTable(adminVerifier);
    assert.equal(LOCALGUI_SLOT, 1);
    assert.deepEqual(table.slots[LOCALGUI_SLOT], {
      type: 'standard',
      name: 'localgui',
      permissions: LOCALGUI_DEFAULT,
    });
    assert.deepEqual(names(LOCALGUI_DEFAULT), ['measurements.read', 'meters.read', 'config.read']);
  });

  it('slot 2 is anonymous = measurements.read, meters.read', () => {
    const table = createDefaultTable(adminVerifier);
    assert.equal(ANONYMOUS_SLOT, 2);
    assert.deepEqual(table.slots[ANONYMOUS_SLOT], {
      type: 'standard',
      name: 'anonymous',
      permissions: ANONYMOUS_DEFAULT,
    });
    assert.deepEqual(names(ANONYMOUS_DEFAULT), ['measurements.read', 'meters.read']);
  });

  it('satisfies the lock-out invariant', () => {
    assert.doesNotThrow(() => assertSecurityAdminRemains(createDefaultTable(adminVerifier)));
  });

  it('gives independent tables on each call', () => {
    const a = createDefaultTable(adminVerifier);
    const b = createDefaultTable(adminVerifier);
    assert.notEqual(a.slots, b.slots);
    assert.notEqual(a.epochs, b.epochs);
  });
});

describe('actorFor', () => {
  it('gives the admin all permissions and must-change in the factory table', () => {
    const table = createDefaultTable(adminVerifier);
    assert.deepEqual(actorFor(table, ADMIN_SLOT), {
      slot: ADMIN_SLOT,
      permissions: ALL_PERMISSIONS,
      mustChangePassword: true,
      localOnly: false,
    });
  });

  it('gives standard users and API keys their set and never must-change', () => {
    const { table } = populatedTable();
    assert.deepEqual(actorFor(table, LOCALGUI_SLOT), {
      slot: LOCALGUI_SLOT,
      permissions: LOCALGUI_DEFAULT,
      mustChangePassword: false,
      localOnly: false,
    });
    assert.deepEqual(actorFor(table, 4), {
      slot: 4,
      permissions: PRESETS['read-only'],
      mustChangePassword: false,
      localOnly: false,
    });
  });

  it("carries a user's local-only flag, except the admin's: slot 0 keeps network access", () => {
    const { table: active, admin } = activeTable();
    const { table, slot } = addUser(active, admin, newUser('bench', { localOnly: true }));
    assert.equal(actorFor(table, slot).localOnly, true);
    // A record that says otherwise (a hand-made image, an older firmware) does not lock the admin out.
    const flagged: UserTable = {
      ...table,
      slots: table.slots.map((entry, i) =>
        i === ADMIN_SLOT ? { ...user(table, i), localOnly: true } : entry,
      ),
    };
    assert.equal(actorFor(flagged, ADMIN_SLOT).localOnly, false);
  });

  it('throws not-found for an empty or out-of-range slot', () => {
    const table = createDefaultTable(adminVerifier);
    for (const slot of [3, 7, 8, -1, 1.5]) {
      throwsCode(
        table,
        'not-found',
        () => actorFor(table, slot),
        (error) => assert.equal(error.details.slot, slot),
      );
    }
  });
});

describe('authorize', () => {
  it('a must-change actor gets password-change-required for every permission', () => {
    const table = createDefaultTable(adminVerifier);
    const admin = actorFor(table, ADMIN_SLOT);
    for (const p of PERMISSIONS) {
      assert.throws(
        () => authorize(admin, p.name),
        (error: unknown) => {
          assert.ok(isCoreError(error, 'password-change-required'));
          assert.equal(error.details.permission, p.name);
          return true;
        },
      );
    }
  });

  it('a must-change actor is refused by every gated operation', () => {
    const table = createDefaultTable(adminVerifier);
    const admin = actorFor(table, ADMIN_SLOT);
    const code = 'password-change-required';
    throwsCode(table, code, () => addUser(table, admin, newUser('alice')));
    throwsCode(table, code, () => addApiKey(table, admin, newKey('key1')));
    throwsCode(table, code, () => renameEntry(table, admin, ADMIN_SLOT, 'root'));
    throwsCode(table, code, () => setPermissions(table, admin, ANONYMOUS_SLOT, 0));
    throwsCode(table, code, () => setLocalOnly(table, admin, ADMIN_SLOT, true));
  });

  it('a must-change user can still change its own password with the current one verified', () => {
    const table = createDefaultTable(adminVerifier);
    const admin = actorFor(table, ADMIN_SLOT);
    throwsCode(table, 'wrong-password', () =>
      setPassword(table, admin, ADMIN_SLOT, newVerifier, { currentPasswordVerified: false }),
    );
    const next = changes(table, (t) =>
      setPassword(t, admin, ADMIN_SLOT, newVerifier, { currentPasswordVerified: true }),
    );
    assert.equal(user(next, ADMIN_SLOT).mustChangePassword, false);
    assert.equal(user(next, ADMIN_SLOT).verifier, newVerifier);
    const after = actorFor(next, ADMIN_SLOT);
    for (const p of PERMISSIONS) assert.doesNotThrow(() => authorize(after, p.name));
  });

  it('a must-change user other than admin is also held to password-change-required', () => {
    const { table: active, admin } = activeTable();
    const { table } = addUser(
      active,
      admin,
      newUser('alice', { permissions: ALL_PERMISSIONS, mustChangePassword: true }),
    );
    const alice = actorFor(table, 3);
    assert.equal(alice.mustChangePassword, true);
    throwsCode(table, 'password-change-required', () => authorize(alice, 'measurements.read'));
    throwsCode(table, 'password-change-required', () =>
      setPassword(table, alice, ADMIN_SLOT, newVerifier, { currentPasswordVerified: true }),
    );
    const next = setPassword(table, alice, 3, newVerifier, { currentPasswordVerified: true });
    assert.doesNotThrow(() => authorize(actorFor(next, 3), 'security.write'));
  });

  it('permission-denied names the missing permission', () => {
    const table = createDefaultTable(adminVerifier);
    const anonymous = actorFor(table, ANONYMOUS_SLOT);
    for (const p of PERMISSIONS) {
      if (p.name === 'measurements.read' || p.name === 'meters.read') {
        assert.doesNotThrow(() => authorize(anonymous, p.name));
        continue;
      }
      assert.throws(
        () => authorize(anonymous, p.name),
        (error: unknown) => {
          assert.ok(isCoreError(error, 'permission-denied'));
          assert.equal(error.details.permission, p.name);
          assert.ok(error.message.includes(p.name), error.message);
          return true;
        },
      );
    }
  });

  it('grants exactly the actor set', () => {
    const actor: Actor = {
      slot: 3,
      permissions: METERS_READ | METERS_RESET,
      mustChangePassword: false,
      localOnly: false,
    };
    assert.doesNotThrow(() => authorize(actor, 'meters.read'));
    assert.doesNotThrow(() => authorize(actor, 'meters.reset'));
    assert.throws(
      () => authorize(actor, 'minmax.reset'),
      (e: unknown) => isCoreError(e, 'permission-denied'),
    );
  });

  it('rejects an unknown permission name', () => {
    const { admin } = activeTable();
    assert.throws(
      () => authorize(admin, 'security.admin' as PermissionName),
      (e: unknown) => isCoreError(e, 'unknown-permission'),
    );
  });
});

describe('addUser and addApiKey', () => {
  it('fill slots 3..7 in order, then table-full leaves the table unchanged', () => {
    const { table: active, admin } = activeTable();
    let table = active;
    const added: string[] = [];
    for (const [index, slot] of DEFINABLE_SLOTS.entries()) {
      const name = `entry${index}`;
      let result: { table: UserTable; slot: number } | undefined;
      table = changes(table, (t) => {
        result = index % 2 === 0 ? addUser(t, admin, newUser(name)) : addApiKey(t, admin, newKey(name));
        return result.table;
      });
      assert.equal(result?.slot, slot);
      assert.equal(entryAt(table, slot).name, name);
      added.push(name);
    }
    assert.deepEqual(
      table.slots.map((entry) => entry?.name),
      ['admin', 'localgui', 'anonymous', ...added],
    );
    throwsCode(table, 'table-full', () => addUser(table, admin, newUser('sixth')));
    throwsCode(table, 'table-full', () => addApiKey(table, admin, newKey('sixth')));
  });

  it('fill the lowest freed slot next', () => {
    const { table: populated, admin } = populatedTable();
    const freed = removeEntry(populated, admin, 4);
    const { slot } = addUser(freed, admin, newUser('carol'));
    assert.equal(slot, 4);
  });

  it('store a user with its verifier, normalized permissions and flags', () => {
    const { table: active, admin } = activeTable();
    const { table, slot } = addUser(
      active,
      admin,
      newUser('alice', { permissions: SECURITY_WRITE | 0x8000 }),
    );
    assert.deepEqual(entryAt(table, slot), {
      type: 'user',
      name: 'alice',
      permissions: SECURITY_WRITE | SECURITY_READ,
      verifier: userVerifier,
      localOnly: false,
      mustChangePassword: false,
    });
    const flagged = addUser(table, admin, newUser('bob', { localOnly: true, mustChangePassword: true }));
    assert.equal(user(flagged.table, flagged.slot).localOnly, true);
    assert.equal(user(flagged.table, flagged.slot).mustChangePassword, true);
  });

  for (const preset of Object.keys(PRESETS) as PresetName[]) {
    it(`store an API key with the permissions of preset ${preset}`, () => {
      const { table: active, admin } = activeTable();
      const key = newKey('scada1', preset);
      const { table, slot } = addApiKey(active, admin, key);
      assert.deepEqual(entryAt(table, slot), {
        type: 'api-key',
        name: 'scada1',
        permissions: PRESETS[preset],
        preset,
        keyHash: key.keyHash,
        createdAt: key.createdAt,
      });
      assert.equal(effectivePermissions(table, slot), PRESETS[preset]);
    });
  }

  it('names are unique regardless of case (login still matches exactly)', () => {
    const { table: active, admin } = activeTable();
    const first = addUser(active, admin, newUser('Bob'));
    for (const name of ['bob', 'BOB', 'bOb']) {
      throwsCode(first.table, 'name-taken', () => addUser(first.table, admin, newUser(name)));
      throwsCode(first.table, 'name-taken', () => addApiKey(first.table, admin, newKey(name)));
    }
    for (const name of ['Admin', 'ADMIN', 'Anonymous', 'LocalGUI']) {
      throwsCode(first.table, 'name-taken', () => addUser(first.table, admin, newUser(name)));
    }
    assert.equal(findSlotByName(first.table, 'Bob'), 3);
    assert.equal(findSlotByName(first.table, 'bob'), null);
    // Renaming oneself to another case of one's own name is no clash.
    assert.equal(user(renameEntry(first.table, admin, 3, 'BOB'), 3).name, 'BOB');
    const second = addUser(first.table, admin, newUser('carol')).table;
    throwsCode(second, 'name-taken', () => renameEntry(second, admin, 4, 'bob'));
    throwsCode(second, 'name-taken', () => renameEntry(second, admin, 4, 'ADMIN'));
  });

  it('refuse a taken name with name-taken, for users and API keys alike', () => {
    const { table: active, admin } = activeTable();
    const { table } = addUser(active, admin, newUser('bob'));
    const named = (name: string) => (error: CoreError) => {
      assert.equal(error.details.field, 'name');
      assert.ok(error.message.includes(`'${name}'`), error.message);
    };
    throwsCode(table, 'name-taken', () => addUser(table, admin, newUser('bob')), named('bob'));
    throwsCode(table, 'name-taken', () => addApiKey(table, admin, newKey('bob')), named('bob'));
    for (const reserved of ['admin', 'localgui', 'anonymous']) {
      throwsCode(table, 'name-taken', () => addUser(table, admin, newUser(reserved)), named(reserved));
      throwsCode(table, 'name-taken', () => addApiKey(table, admin, newKey(reserved)), named(reserved));
    }
    const withKey = addApiKey(table, admin, newKey('scada')).table;
    throwsCode(withKey, 'name-taken', () => addUser(withKey, admin, newUser('scada')), named('scada'));
  });

  it('refuse an invalid name with invalid-username', () => {
    const { table, admin } = activeTable();
    const cases: [string, string][] = [
      ['ab', 'min-length'],
      ['a'.repeat(33), 'max-length'],
      ['.hidden', 'characters'],
      ['_x1', 'characters'],
      ['bob smith', 'characters'],
      ['jürgen', 'characters'],
      ['a-b', 'characters'],
    ];
    for (const [name, rule] of cases) {
      const check = (error: CoreError): void => assert.equal(error.details.rule, rule);
      throwsCode(table, 'invalid-username', () => addUser(table, admin, newUser(name)), check);
      throwsCode(table, 'invalid-username', () => addApiKey(table, admin, newKey(name)), check);
    }
    assert.equal(addUser(table, admin, newUser('a'.repeat(32))).slot, 3);
  });

  it('refuse an unknown preset with unknown-preset listing the presets', () => {
    const { table, admin } = activeTable();
    for (const preset of ['admin', 'All', 'toString', '__proto__']) {
      throwsCode(
        table,
        'unknown-preset',
        () => addApiKey(table, admin, { ...newKey('scada'), preset: preset as PresetName }),
        (error) => {
          assert.ok(error.message.includes(`'${preset}'`), error.message);
          assert.deepEqual([...(error.details.known ?? [])].sort(), [
            'all',
            'all-except-security',
            'read-only',
          ]);
        },
      );
    }
  });

  it('need security.write', () => {
    const { table, viewer } = populatedTable();
    const denied = (error: CoreError): void => assert.equal(error.details.permission, 'security.write');
    for (const actor of [
      viewer,
      actorFor(table, LOCALGUI_SLOT),
      actorFor(table, ANONYMOUS_SLOT),
      actorFor(table, 4),
    ]) {
      throwsCode(table, 'permission-denied', () => addUser(table, actor, newUser('alice')), denied);
      throwsCode(table, 'permission-denied', () => addApiKey(table, actor, newKey('alice')), denied);
    }
  });

  it('are open to any holder of security.write (SECADM user, all-preset API key)', () => {
    const { table: populated, admin, secadm } = populatedTable();
    assert.equal(addUser(populated, secadm, newUser('alice')).slot, 6);
    const withKey = addApiKey(populated, admin, newKey('master', 'all'));
    assert.equal(addApiKey(withKey.table, actorFor(withKey.table, withKey.slot), newKey('other')).slot, 7);
  });
});

describe('removeEntry', () => {
  it('deletes a user or API key and leaves the rest', () => {
    const { table, admin } = populatedTable();
    for (const slot of [3, 4, 5]) {
      const next = changes(table, (t) => removeEntry(t, admin, slot));
      assert.equal(next.slots[slot], null);
      for (let other = 0; other < SLOT_COUNT; other++) {
        if (other !== slot) assert.equal(next.slots[other], table.slots[other]);
      }
    }
  });

  it('refuses the predefined slots 0, 1, 2 with protected-slot', () => {
    const { table, admin } = populatedTable();
    for (const slot of [ADMIN_SLOT, LOCALGUI_SLOT, ANONYMOUS_SLOT]) {
      throwsCode(
        table,
        'protected-slot',
        () => removeEntry(table, admin, slot),
        (error) => {
          assert.equal(error.details.slot, slot);
        },
      );
    }
  });

  it('refuses an empty or out-of-range slot with not-found', () => {
    const { table, admin } = populatedTable();
    for (const slot of [6, 7, 8, -1, 2.5, Number.NaN]) {
      throwsCode(table, 'not-found', () => removeEntry(table, admin, slot));
    }
  });

  it('needs security.write', () => {
    const { table, viewer } = populatedTable();
    for (const slot of [3, 4, ADMIN_SLOT, 7]) {
      throwsCode(
        table,
        'permission-denied',
        () => removeEntry(table, viewer, slot),
        (error) => {
          assert.equal(error.details.permission, 'security.write');
        },
      );
    }
    const reader = actorFor(table, 4);
    throwsCode(table, 'permission-denied', () => removeEntry(table, reader, 4));
  });

  it('lets a SECADM user remove entries, itself included', () => {
    const { table, secadm } = populatedTable();
    const next = removeEntry(table, secadm, 3);
    assert.equal(next.slots[3], null);
    assert.equal(removeEntry(next, secadm, 5).slots[5], null);
  });
});

describe('renameEntry', () => {
  it('renames the admin', () => {
    const { table, admin } = populatedTable();
    const next = changes(table, (t) => renameEntry(t, admin, ADMIN_SLOT, 'root'));
    assert.equal(entryAt(next, ADMIN_SLOT).name, 'root');
    assert.equal(findSlotByName(next, 'admin'), null);
    assert.equal(effectivePermissions(next, ADMIN_SLOT), ALL_PERMISSIONS);
    // The old name is free again.
    assert.equal(addUser(next, admin, newUser('admin')).slot, 6);
  });

  it('renames a user and an API key, keeping everything else', () => {
    const { table, admin } = populatedTable();
    for (const slot of [3, 4]) {
      const next = renameEntry(table, admin, slot, 'renamed');
      assert.deepEqual(next.slots[slot], { ...entryAt(table, slot), name: 'renamed' });
    }
  });

  it('accepts the current name and a case variant of it', () => {
    const { table, admin } = populatedTable();
    assert.equal(renameEntry(table, admin, 3, 'viewer').slots[3]?.name, 'viewer');
    assert.equal(renameEntry(table, admin, 3, 'Viewer').slots[3]?.name, 'Viewer');
  });

  it('refuses localgui and anonymous with protected-slot', () => {
    const { table, admin } = populatedTable();
    for (const slot of [LOCALGUI_SLOT, ANONYMOUS_SLOT]) {
      throwsCode(
        table,
        'protected-slot',
        () => renameEntry(table, admin, slot, 'display'),
        (error) => {
          assert.equal(error.details.slot, slot);
        },
      );
    }
  });

  it('refuses a taken name with name-taken', () => {
    const { table, admin } = populatedTable();
    for (const taken of ['admin', 'localgui', 'anonymous', 'reader', 'secadm']) {
      throwsCode(
        table,
        'name-taken',
        () => renameEntry(table, admin, 3, taken),
        (error) => {
          assert.equal(error.details.field, 'name');
        },
      );
    }
    throwsCode(table, 'name-taken', () => renameEntry(table, admin, ADMIN_SLOT, 'viewer'));
  });

  it('refuses an invalid name with invalid-username', () => {
    const { table, admin } = populatedTable();
    for (const name of ['ab', '.x', 'a b', 'x'.repeat(33)]) {
      throwsCode(table, 'invalid-username', () => renameEntry(table, admin, 3, name));
    }
  });

  it('refuses an empty slot with not-found', () => {
    const { table, admin } = populatedTable();
    throwsCode(table, 'not-found', () => renameEntry(table, admin, 7, 'ghost'));
  });

  it('needs security.write, even for renaming oneself', () => {
    const { table, viewer } = populatedTable();
    throwsCode(
      table,
      'permission-denied',
      () => renameEntry(table, viewer, 3, 'viewer2'),
      (error) => {
        assert.equal(error.details.permission, 'security.write');
      },
    );
    throwsCode(table, 'permission-denied', () => renameEntry(table, viewer, ADMIN_SLOT, 'root'));
  });
});

describe('setPassword', () => {
  it('own password: wrong-password unless the current one was verified', () => {
    const { table, viewer, admin } = populatedTable();
    for (const actor of [viewer, admin]) {
      throwsCode(
        table,
        'wrong-password',
        () => setPassword(table, actor, actor.slot, newVerifier, { currentPasswordVerified: false }),
        (error) => assert.equal(error.details.field, 'currentPassword'),
      );
    }
  });

  it('own password: any user, without security.write, with the current one verified', () => {
    const { table, viewer } = populatedTable();
    const next = changes(table, (t) =>
      setPassword(t, viewer, 3, newVerifier, { currentPasswordVerified: true }),
    );
    assert.deepEqual(next.slots[3], { ...user(table, 3), verifier: newVerifier });
  });

  it('own password: clears must-change-password', () => {
    const { table: active, admin } = activeTable();
    const { table } = addUser(active, admin, newUser('alice', { mustChangePassword: true }));
    const alice = actorFor(table, 3);
    const next = setPassword(table, alice, 3, newVerifier, { currentPasswordVerified: true });
    assert.equal(user(next, 3).mustChangePassword, false);
    // A self-change never sets must-change.
    const again = setPassword(next, actorFor(next, 3), 3, userVerifier, { currentPasswordVerified: true });
    assert.equal(user(again, 3).mustChangePassword, false);
  });

  it("another user's password needs security.write", () => {
    const { table, viewer } = populatedTable();
    for (const slot of [ADMIN_SLOT, 5]) {
      throwsCode(
        table,
        'permission-denied',
        () => setPassword(table, viewer, slot, newVerifier, { currentPasswordVerified: true }),
        (error) => assert.equal(error.details.permission, 'security.write'),
      );
    }
  });

  it("another user's password with security.write: set, and always must-change at the next login", () => {
    const { table, admin, secadm } = populatedTable();
    for (const actor of [admin, secadm]) {
      const forced = changes(table, (t) =>
        setPassword(t, actor, 3, newVerifier, { currentPasswordVerified: false }),
      );
      assert.deepEqual(forced.slots[3], {
        ...user(table, 3),
        verifier: newVerifier,
        mustChangePassword: true,
      });
      // Even with the current password "verified": whoever set it for someone else knows it.
      const again = setPassword(forced, actor, 3, userVerifier, { currentPasswordVerified: true });
      assert.equal(user(again, 3).mustChangePassword, true);
      assert.equal(user(again, 3).verifier, userVerifier);
    }
  });

  it('an API key or standard user has no password: wrong-entry-type', () => {
    const { table, admin } = populatedTable();
    for (const slot of [LOCALGUI_SLOT, ANONYMOUS_SLOT, 4]) {
      throwsCode(
        table,
        'wrong-entry-type',
        () => setPassword(table, admin, slot, newVerifier, { currentPasswordVerified: true }),
        (error) => assert.equal(error.details.slot, slot),
      );
    }
    const reader = actorFor(table, 4);
    throwsCode(table, 'wrong-entry-type', () =>
      setPassword(table, reader, 4, newVerifier, { currentPasswordVerified: true }),
    );
  });

  it('an empty slot: not-found', () => {
    const { table, admin } = populatedTable();
    throwsCode(table, 'not-found', () =>
      setPassword(table, admin, 6, newVerifier, { currentPasswordVerified: true }),
    );
  });
});

describe('setPermissions', () => {
  it('the admin cannot be demoted: protected-slot', () => {
    const { table, admin, secadm } = populatedTable();
    for (const set of [0, PRESETS['all-except-security'], ALL_PERMISSIONS & ~SECURITY_WRITE]) {
      throwsCode(
        table,
        'protected-slot',
        () => setPermissions(table, admin, ADMIN_SLOT, set),
        (error) => {
          assert.equal(error.details.slot, ADMIN_SLOT);
        },
      );
      // A SECADM without everything may not even try: the admin holds more than it does.
      throwsCode(table, 'entry-more-privileged', () => setPermissions(table, secadm, ADMIN_SLOT, set));
    }
  });

  it('setting the admin to all is a no-op', () => {
    const { table, admin } = populatedTable();
    assert.equal(setPermissions(table, admin, ADMIN_SLOT, ALL_PERMISSIONS), table);
    assert.equal(setPermissions(table, admin, ADMIN_SLOT, 0xffff), table);
  });

  it('localgui and anonymous are editable but never get security.write: invalid-setting', () => {
    const { table, admin } = populatedTable();
    for (const slot of [LOCALGUI_SLOT, ANONYMOUS_SLOT]) {
      const next = changes(table, (t) => setPermissions(t, admin, slot, METERS_READ | METERS_RESET));
      assert.deepEqual(next.slots[slot], {
        ...entryAt(table, slot),
        permissions: METERS_READ | METERS_RESET,
      });
      assert.equal(setPermissions(table, admin, slot, 0).slots[slot]?.permissions, 0);
      for (const set of [SECURITY_WRITE, ALL_PERMISSIONS, SECURITY_WRITE | SECURITY_READ | CONFIG_READ]) {
        throwsCode(
          table,
          'invalid-setting',
          () => setPermissions(table, admin, slot, set),
          (error) => {
            assert.equal(error.details.permission, 'security.write');
            assert.equal(error.details.slot, slot);
          },
        );
      }
    }
  });

  it('a user gets the normalized set', () => {
    const { table, admin } = populatedTable();
    const next = changes(table, (t) => setPermissions(t, admin, 3, SECURITY_WRITE | CONFIG_READ | 0x8000));
    assert.deepEqual(names(user(next, 3).permissions), ['config.read', 'security.read', 'security.write']);
    assert.equal(setPermissions(table, admin, 5, 0).slots[5]?.permissions, 0);
  });

  it('an API key takes only a preset set: invalid-setting otherwise', () => {
    const { table, admin } = populatedTable();
    for (const set of [
      0,
      METERS_READ,
      PRESETS['read-only'] | METERS_RESET,
      ALL_PERMISSIONS & ~SECURITY_WRITE,
    ]) {
      throwsCode(
        table,
        'invalid-setting',
        () => setPermissions(table, admin, 4, set),
        (error) => {
          assert.equal(error.details.slot, 4);
          assert.deepEqual([...(error.details.known ?? [])].sort(), [
            'all',
            'all-except-security',
            'read-only',
          ]);
        },
      );
    }
  });

  it('a change that changes nothing returns the same table: epoch and sessions kept', () => {
    const { table, admin } = populatedTable();
    const current = entryAt(table, 3);
    assert.equal(setPermissions(table, admin, 3, current.permissions), table);
    assert.equal(renameEntry(table, admin, 3, current.name), table);
    assert.notEqual(setPermissions(table, admin, 3, current.permissions ^ METERS_READ), table);
  });

  it('an API key set to another preset takes that preset', () => {
    const { table, admin } = populatedTable();
    for (const preset of Object.keys(PRESETS) as PresetName[]) {
      if (preset === apiKey(table, 4).preset) {
        // Its own preset changes nothing: the same table, the epoch (and so the sessions) kept.
        assert.equal(setPermissions(table, admin, 4, PRESETS[preset]), table);
        continue;
      }
      const next = changes(table, (t) => setPermissions(t, admin, 4, PRESETS[preset]));
      assert.deepEqual(next.slots[4], { ...apiKey(table, 4), permissions: PRESETS[preset], preset });
    }
    // ALL without security.read normalizes back to ALL (security.write implies it): preset all.
    const viaImplication = setPermissions(table, admin, 4, ALL_PERMISSIONS & ~SECURITY_READ);
    assert.equal(apiKey(viaImplication, 4).preset, 'all');
  });

  it('needs security.write; an empty slot is not-found', () => {
    const { table, admin, viewer } = populatedTable();
    throwsCode(
      table,
      'permission-denied',
      () => setPermissions(table, viewer, 3, ALL_PERMISSIONS),
      (error) => {
        assert.equal(error.details.permission, 'security.write');
      },
    );
    throwsCode(table, 'permission-denied', () => setPermissions(table, viewer, ANONYMOUS_SLOT, 0));
    throwsCode(table, 'not-found', () => setPermissions(table, admin, 7, METERS_READ));
  });
});

describe('setLocalOnly', () => {
  it('restricts a user to local operation and lifts it again', () => {
    const { table, admin } = populatedTable();
    const on = changes(table, (t) => setLocalOnly(t, admin, 3, true));
    assert.deepEqual(on.slots[3], { ...user(table, 3), localOnly: true });
    assert.deepEqual(describeEntry(on, 3).flags, ['local-only']);
    const off = setLocalOnly(on, admin, 3, false);
    assert.equal(user(off, 3).localOnly, false);
  });

  it('an API key or standard user: wrong-entry-type', () => {
    const { table, admin } = populatedTable();
    for (const slot of [4, LOCALGUI_SLOT, ANONYMOUS_SLOT]) {
      throwsCode(
        table,
        'wrong-entry-type',
        () => setLocalOnly(table, admin, slot, true),
        (error) => {
          assert.equal(error.details.slot, slot);
        },
      );
    }
  });

  it('needs security.write; an empty slot is not-found', () => {
    const { table, admin, viewer } = populatedTable();
    throwsCode(table, 'permission-denied', () => setLocalOnly(table, viewer, 3, true));
    throwsCode(table, 'not-found', () => setLocalOnly(table, admin, 7, true));
  });
});

describe('epochs', () => {
  const operations: [string, number, (table: UserTable, admin: Actor) => UserTable][] = [
    ['addUser', 6, (t, a) => addUser(t, a, newUser('alice')).table],
    ['addApiKey', 6, (t, a) => addApiKey(t, a, newKey('scada')).table],
    ['removeEntry user', 3, (t, a) => removeEntry(t, a, 3)],
    ['removeEntry key', 4, (t, a) => removeEntry(t, a, 4)],
    ['renameEntry admin', ADMIN_SLOT, (t, a) => renameEntry(t, a, ADMIN_SLOT, 'root')],
    ['renameEntry key', 4, (t, a) => renameEntry(t, a, 4, 'scada2')],
    [
      'setPassword own',
      3,
      (t) => setPassword(t, actorFor(t, 3), 3, newVerifier, { currentPasswordVerified: true }),
    ],
    ['setPassword other', 5, (t, a) => setPassword(t, a, 5, newVerifier, { currentPasswordVerified: false })],
    [
      'setPassword admin',
      ADMIN_SLOT,
      (t, a) => setPassword(t, a, ADMIN_SLOT, userVerifier, { currentPasswordVerified: true }),
    ],
    ['setPermissions user', 3, (t, a) => setPermissions(t, a, 3, METERS_READ)],
    ['setPermissions localgui', LOCALGUI_SLOT, (t, a) => setPermissions(t, a, LOCALGUI_SLOT, METERS_READ)],
    ['setPermissions anonymous', ANONYMOUS_SLOT, (t, a) => setPermissions(t, a, ANONYMOUS_SLOT, 0)],
    ['setPermissions key', 4, (t, a) => setPermissions(t, a, 4, PRESETS.all)],
    ['setLocalOnly', 5, (t, a) => setLocalOnly(t, a, 5, true)],
  ];

  for (const [label, slot, operation] of operations) {
    it(`${label} bumps exactly slot ${slot}`, () => {
      const { table, admin } = populatedTable();
      const next = changes(table, (t) => operation(t, admin));
      assertBumpedOnly(table, next, slot);
    });
  }

  it('the factory table starts at 0 and each add bumps only its slot', () => {
    const { table: active, admin } = activeTable();
    assert.deepEqual(active.epochs, [1, 0, 0, 0, 0, 0, 0, 0]);
    const { table, slot } = addUser(active, admin, newUser('alice'));
    assertBumpedOnly(active, table, slot);
  });

  it('re-adding into a freed slot gives a higher epoch than the deleted entry had', () => {
    const { table, admin } = populatedTable();
    for (const slot of [3, 4]) {
      const deletedEpoch = table.epochs[slot] ?? Number.NaN;
      const freed = removeEntry(table, admin, slot);
      const readded = addUser(freed, admin, newUser(entryAt(table, slot).name));
      assert.equal(readded.slot, slot);
      assert.ok((readded.table.epochs[slot] ?? Number.NaN) > deletedEpoch);
      assert.ok((readded.table.epochs[slot] ?? Number.NaN) > (freed.epochs[slot] ?? Number.NaN));
    }
  });

  it('a refused operation leaves every epoch alone', () => {
    const { table, admin, viewer } = populatedTable();
    throwsCode(table, 'permission-denied', () => setPermissions(table, viewer, 3, 0));
    throwsCode(table, 'protected-slot', () => setPermissions(table, admin, ADMIN_SLOT, 0));
    assert.deepEqual(table.epochs, populatedTable().table.epochs);
  });
});

describe('assertSecurityAdminRemains', () => {
  const readOnlyKey: SlotEntry = {
    type: 'api-key',
    name: 'admin',
    permissions: PRESETS['read-only'],
    preset: 'read-only',
    keyHash: new Uint8Array(32),
    createdAt: 0,
  };

  function withSlots(table: UserTable, replacements: Record<number, SlotEntry | null>): UserTable {
    const slots = table.slots.slice();
    for (const [slot, entry] of Object.entries(replacements)) slots[Number(slot)] = entry;
    return { ...table, slots, epochs: table.epochs.slice() };
  }

  it('passes for the default and a populated table', () => {
    assert.doesNotThrow(() => assertSecurityAdminRemains(createDefaultTable(adminVerifier)));
    assert.doesNotThrow(() => assertSecurityAdminRemains(populatedTable().table));
  });

  it('throws last-security-admin when no credentialed entry holds security.write', () => {
    const factory = createDefaultTable(adminVerifier);
    const keyInSlot0 = withSlots(factory, { [ADMIN_SLOT]: readOnlyKey });
    throwsCode(keyInSlot0, 'last-security-admin', () => assertSecurityAdminRemains(keyInSlot0));
    const emptySlot0 = withSlots(factory, { [ADMIN_SLOT]: null });
    throwsCode(emptySlot0, 'last-security-admin', () => assertSecurityAdminRemains(emptySlot0));
  });

  it('does not count a standard user holding security.write', () => {
    const factory = createDefaultTable(adminVerifier);
    const table = withSlots(factory, {
      [ADMIN_SLOT]: readOnlyKey,
      [ANONYMOUS_SLOT]: { type: 'standard', name: 'anonymous', permissions: ALL_PERMISSIONS },
    });
    throwsCode(table, 'last-security-admin', () => assertSecurityAdminRemains(table));
  });

  it('passes when another credentialed entry holds security.write', () => {
    const { table } = populatedTable();
    const userHolds = withSlots(table, { [ADMIN_SLOT]: readOnlyKey });
    assert.doesNotThrow(() => assertSecurityAdminRemains(userHolds));
    const keyHolds = withSlots(table, {
      [ADMIN_SLOT]: readOnlyKey,
      5: { ...readOnlyKey, name: 'master', permissions: PRESETS.all, preset: 'all' },
    });
    assert.doesNotThrow(() => assertSecurityAdminRemains(keyHolds));
  });

  it('guards every operation: a broken table cannot be turned into a new one', () => {
    const { table, admin } = populatedTable();
    const broken = withSlots(table, { [ADMIN_SLOT]: readOnlyKey, 5: null });
    throwsCode(broken, 'last-security-admin', () => addUser(broken, admin, newUser('alice')));
  });
});

describe('effectivePermissions', () => {
  it('is ALL for the admin even if the stored set were smaller', () => {
    const { table } = populatedTable();
    const admin = user(table, ADMIN_SLOT);
    const slots = table.slots.slice();
    slots[ADMIN_SLOT] = { ...admin, permissions: METERS_READ };
    const shrunk: UserTable = { ...table, slots };
    assert.equal(effectivePermissions(shrunk, ADMIN_SLOT), ALL_PERMISSIONS);
    assert.equal(actorFor(shrunk, ADMIN_SLOT).permissions, ALL_PERMISSIONS);
    assert.deepEqual(describeEntry(shrunk, ADMIN_SLOT).permissions, names(ALL_PERMISSIONS));
  });

  it('is the stored set, normalized, for everyone else, and 0 for an empty slot', () => {
    const { table } = populatedTable();
    const slots = table.slots.slice();
    slots[3] = { ...user(table, 3), permissions: SECURITY_WRITE | 0x8000 };
    const raw: UserTable = { ...table, slots };
    assert.equal(effectivePermissions(raw, 3), SECURITY_WRITE | SECURITY_READ);
    assert.equal(effectivePermissions(table, 4), PRESETS['read-only']);
    assert.equal(effectivePermissions(table, 5), rolePermissions('SECADM'));
    assert.equal(effectivePermissions(table, LOCALGUI_SLOT), LOCALGUI_DEFAULT);
    assert.equal(effectivePermissions(table, 7), 0);
    assert.equal(effectivePermissions(table, 99), 0);
  });
});

describe('findSlotByName', () => {
  it('finds by exact, case-sensitive name', () => {
    const { table } = populatedTable();
    assert.equal(findSlotByName(table, 'admin'), ADMIN_SLOT);
    assert.equal(findSlotByName(table, 'localgui'), LOCALGUI_SLOT);
    assert.equal(findSlotByName(table, 'anonymous'), ANONYMOUS_SLOT);
    assert.equal(findSlotByName(table, 'reader'), 4);
    assert.equal(findSlotByName(table, 'Admin'), null);
    assert.equal(findSlotByName(table, 'nobody'), null);
  });
});

describe('describeEntry', () => {
  it('summarizes every slot without verifier or key-hash fields', () => {
    const { table: populated, admin } = populatedTable();
    const withFlags = setLocalOnly(
      setPassword(populated, admin, 3, newVerifier, { currentPasswordVerified: false }),
      admin,
      3,
      true,
    );
    const table = addApiKey(withFlags, admin, newKey('master', 'all')).table;
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const summary = describeEntry(table, slot);
      assert.deepEqual(Object.keys(summary).sort(), ['flags', 'name', 'permissions', 'slot', 'type']);
      const text = JSON.stringify(summary);
      for (const secret of ['verifier', 'keyHash', 'salt', 'publicKey', 'kdf', 'iterations']) {
        assert.ok(!text.includes(secret), `slot ${slot}: ${text}`);
      }
    }
    assert.deepEqual(describeEntry(table, ADMIN_SLOT), {
      slot: 0,
      type: 'user',
      name: 'admin',
      permissions: names(ALL_PERMISSIONS),
      flags: [],
    });
    assert.deepEqual(describeEntry(table, 3), {
      slot: 3,
      type: 'user',
      name: 'viewer',
      permissions: names(rolePermissions('VIEWER')),
      flags: ['local-only', 'must-change-password'],
    });
    assert.deepEqual(describeEntry(table, 4).flags, ['preset:read-only']);
    assert.deepEqual(describeEntry(table, 6), {
      slot: 6,
      type: 'api-key',
      name: 'master',
      permissions: names(ALL_PERMISSIONS),
      flags: ['preset:all'],
    });
    assert.deepEqual(describeEntry(table, ANONYMOUS_SLOT), {
      slot: 2,
      type: 'standard',
      name: 'anonymous',
      permissions: ['measurements.read', 'meters.read'],
      flags: [],
    });
    assert.deepEqual(describeEntry(table, 7), {
      slot: 7,
      type: 'empty',
      name: null,
      permissions: [],
      flags: [],
    });
  });

  it('shows must-change-password for the factory admin', () => {
    assert.deepEqual(describeEntry(createDefaultTable(adminVerifier), ADMIN_SLOT).flags, [
      'must-change-password',
    ]);
  });
});

describe('permission names round-trip through the table', () => {
  it('a user given permissionsFromNames keeps exactly those names', () => {
    const { table: active, admin } = activeTable();
    const wanted = ['meters.reset', 'config.write', 'service'];
    const { table, slot } = addUser(
      active,
      admin,
      newUser('alice', { permissions: permissionsFromNames(wanted) }),
    );
    assert.deepEqual(describeEntry(table, slot).permissions, ['meters.reset', 'config.write', 'service']);
    assert.equal(normalizePermissions(user(table, slot).permissions), user(table, slot).permissions);
  });
});

describe('entry identities', () => {
  it('the predefined entries have their slot numbers; new entries count up from SLOT_COUNT', () => {
    const { table } = populatedTable();
    assert.deepEqual(table.ids, [0, 1, 2, 8, 9, 10, null, null]);
    assert.equal(table.nextId, 11);
    assert.equal(slotOfEntry(table, 9), 4);
    assert.equal(entryIdAt(table, 5), 10);
    throwsCode(table, 'not-found', () => entryIdAt(table, 6));
  });

  it('an entry keeps its identity through rename, password, rights and local-only changes', () => {
    const { table, admin } = populatedTable();
    let changed = renameEntry(table, admin, 3, 'viewer2');
    changed = setPassword(changed, admin, 3, newVerifier, { currentPasswordVerified: false });
    changed = setPermissions(changed, admin, 3, ANONYMOUS_DEFAULT);
    changed = setLocalOnly(changed, admin, 3, true);
    assert.equal(entryIdAt(changed, 3), entryIdAt(table, 3));
    assert.equal(changed.nextId, table.nextId);
  });

  it('a new entry in a freed slot gets a new identity; a deleted identity names no slot and is never given again', () => {
    const { table, admin } = populatedTable();
    const deleted = entryIdAt(table, 3);
    const freed = removeEntry(table, admin, 3);
    assert.equal(freed.ids[3], null);
    assert.equal(slotOfEntry(freed, deleted), null);
    const { table: reused, slot } = addApiKey(freed, admin, newKey('plant.all', 'all'));
    assert.equal(slot, 3);
    assert.equal(entryIdAt(reused, 3), table.nextId);
    assert.notEqual(entryIdAt(reused, 3), deleted);
    assert.equal(slotOfEntry(reused, deleted), null);
    assert.equal(reused.nextId, table.nextId + 1);
  });
});

describe('climbing (issue 14 §3): nobody takes over a more privileged account', () => {
  /** activeTable plus slot 3 `secw` holding security.write alone and slot 4 `eng` (ENGINEER). */
  function climbTable(): { table: UserTable; admin: Actor; secw: Actor } {
    const { table: active, admin } = activeTable();
    let table = addUser(active, admin, newUser('secw', { permissions: SECURITY_WRITE })).table;
    table = addUser(table, admin, newUser('eng', { permissions: rolePermissions('ENGINEER') })).table;
    return { table, admin, secw: actorFor(table, 3) };
  }

  it('an actor grants only permissions it holds: to itself, a new user, a key, another user', () => {
    const { table, secw } = climbTable();
    throwsCode(
      table,
      'permission-not-held',
      () => setPermissions(table, secw, 3, ALL_PERMISSIONS),
      (error) => {
        assert.equal(error.details.permission, 'measurements.read');
        assert.match(error.message, /'audit\.read'/);
      },
    );
    throwsCode(table, 'permission-not-held', () =>
      addUser(table, secw, newUser('helper', { permissions: METERS_READ })),
    );
    throwsCode(table, 'permission-not-held', () => addApiKey(table, secw, newKey('scada', 'read-only')));
    const bare = addUser(table, actorFor(table, ADMIN_SLOT), newUser('bare', { permissions: 0 }));
    throwsCode(bare.table, 'permission-not-held', () =>
      setPermissions(bare.table, secw, bare.slot, METERS_READ),
    );
    // What it holds it may grant; and it may drop its own rights.
    const added = addUser(table, secw, newUser('auditor', { permissions: SECURITY_READ }));
    assert.deepEqual(names(user(added.table, added.slot).permissions), ['security.read']);
  });

  it('another entry is changed or deleted only by an actor holding all of its permissions', () => {
    const { table, secw } = climbTable();
    for (const slot of [ADMIN_SLOT, 4]) {
      const attempts: [string, () => unknown][] = [
        ['rename', () => renameEntry(table, secw, slot, 'taken_over')],
        ['password', () => setPassword(table, secw, slot, newVerifier, { currentPasswordVerified: false })],
        ['local-only', () => setLocalOnly(table, secw, slot, true)],
        ['permissions', () => setPermissions(table, secw, slot, 0)],
      ];
      if (slot !== ADMIN_SLOT) attempts.push(['delete', () => removeEntry(table, secw, slot)]);
      for (const [what, attempt] of attempts) {
        throwsCode(table, 'entry-more-privileged', attempt, (error) => {
          assert.equal(error.details.slot, slot, what);
          assert.match(error.message, /holds permissions you lack/);
        });
      }
    }
    // The standard users hold measurements.read, which secw lacks: not theirs to change either.
    throwsCode(table, 'entry-more-privileged', () => setPermissions(table, secw, ANONYMOUS_SLOT, 0));
    // An entry it outranks is its to manage.
    const { table: withBare, slot } = addUser(
      table,
      actorFor(table, ADMIN_SLOT),
      newUser('bare', { permissions: 0 }),
    );
    const renamed = renameEntry(withBare, secw, slot, 'bare2');
    assert.equal(user(renamed, slot).name, 'bare2');
    assert.equal(removeEntry(renamed, secw, slot).slots[slot], null);
  });

  it('the admin may rename itself; an actor holding everything may act on the admin', () => {
    const { table, admin } = climbTable();
    assert.equal(user(renameEntry(table, admin, ADMIN_SLOT, 'root'), ADMIN_SLOT).name, 'root');
    const { table: withPeer, slot } = addUser(
      table,
      admin,
      newUser('peer', { permissions: ALL_PERMISSIONS }),
    );
    const peer = actorFor(withPeer, slot);
    const reset = setPassword(withPeer, peer, ADMIN_SLOT, newVerifier, { currentPasswordVerified: false });
    assert.equal(user(reset, ADMIN_SLOT).mustChangePassword, true);
  });

  it('the admin keeps network access: protected-slot, for the admin itself too', () => {
    const { table, admin } = climbTable();
    throwsCode(
      table,
      'protected-slot',
      () => setLocalOnly(table, admin, ADMIN_SLOT, true),
      (error) => assert.equal(error.details.field, 'localOnly'),
    );
    assert.equal(setLocalOnly(table, admin, ADMIN_SLOT, false), table);
  });

  it('anonymous never gets security.read, security.write or audit.read; stored bits are not honoured', () => {
    const { table, admin } = climbTable();
    for (const grant of [SECURITY_READ, AUDIT_READ, SECURITY_READ | AUDIT_READ]) {
      throwsCode(
        table,
        'invalid-setting',
        () => setPermissions(table, admin, ANONYMOUS_SLOT, MEASUREMENTS_READ | grant),
        (error) => assert.equal(error.details.field, 'permissions'),
      );
    }
    // localgui (at the meter, behind the display) may be given them.
    const localgui = setPermissions(table, admin, LOCALGUI_SLOT, LOCALGUI_DEFAULT | AUDIT_READ);
    assert.ok(names(effectivePermissions(localgui, LOCALGUI_SLOT)).includes('audit.read'));
    // A record holding them anyway (hand-made, older firmware) does not give them to anonymous.
    const forged: UserTable = {
      ...table,
      slots: table.slots.map((entry, i) =>
        i === ANONYMOUS_SLOT ? { type: 'standard', name: 'anonymous', permissions: ALL_PERMISSIONS } : entry,
      ),
    };
    const effective = names(effectivePermissions(forged, ANONYMOUS_SLOT));
    for (const name of ['security.read', 'security.write', 'audit.read'])
      assert.ok(!effective.includes(name));
  });
});

describe('setDisabled', () => {
  it('keeps the entry, moves its epoch (sessions end), and enabling restores it as it was', () => {
    const { table, admin } = populatedTable();
    const disabled = changes(table, (t) => setDisabled(t, admin, 3, true));
    assertBumpedOnly(table, disabled, 3);
    assert.ok(isDisabled(disabled, 3));
    assert.deepEqual(
      { ...entryAt(disabled, 3), disabled: undefined },
      { ...entryAt(table, 3), disabled: undefined },
    );
    assert.ok(describeEntry(disabled, 3).flags.includes('disabled'));
    const key = setDisabled(disabled, admin, 4, true);
    assert.ok(isDisabled(key, 4));
    const enabled = setDisabled(disabled, admin, 3, false);
    assert.deepEqual(entryAt(enabled, 3), entryAt(table, 3));
    // Enabling an enabled entry changes nothing: no epoch moves.
    assert.equal(setDisabled(table, admin, 3, false), table);
  });

  it('refuses the admin, yourself, a standard user, a more privileged entry and an actor without security.write', () => {
    const { table, admin, viewer, secadm } = populatedTable();
    throwsCode(table, 'protected-slot', () => setDisabled(table, admin, ADMIN_SLOT, true));
    throwsCode(table, 'protected-slot', () => setDisabled(table, secadm, 5, true));
    throwsCode(table, 'wrong-entry-type', () => setDisabled(table, admin, ANONYMOUS_SLOT, true));
    throwsCode(table, 'permission-denied', () => setDisabled(table, viewer, 4, true));
    const engineer = addUser(
      table,
      admin,
      newUser('eng', { permissions: ALL_PERMISSIONS & ~SECURITY_WRITE }),
    );
    throwsCode(engineer.table, 'entry-more-privileged', () =>
      setDisabled(engineer.table, actorFor(engineer.table, 5), engineer.slot, true),
    );
  });

  it('a disabled entry does not count for the lock-out invariant', () => {
    const { table, admin } = populatedTable();
    const broken = { ...table, slots: table.slots.map((e, slot) => (slot === ADMIN_SLOT ? null : e)) };
    assert.doesNotThrow(() => assertSecurityAdminRemains(broken));
    const secadmDisabled = setDisabled(table, admin, 5, true);
    const without = {
      ...secadmDisabled,
      slots: secadmDisabled.slots.map((e, s) => (s === ADMIN_SLOT ? null : e)),
    };
    assert.throws(() => assertSecurityAdminRemains(without), /last entry holding security.write/);
  });
});
