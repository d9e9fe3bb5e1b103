/**
 * The secure store over the simulated flash and the file key provider: first boot and the factory
 * table, reboots, commits, key file modes, the 4 KiB budget of a full table, that nothing in the data
 * dir is plain text, and what boot does with garbage images and missing or damaged key files.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  createVerifier,
  MIN_KDF_ITERATIONS,
  verifyPassword,
} from '../../../firmware/auth/password-verifier.ts';
import { ALL_PERMISSIONS } from '../../../firmware/core/permission-table.ts';
import { DEFAULT_SECURITY_SETTINGS } from '../../../firmware/core/security-settings.ts';
import { hostnameProblem } from '../../../firmware/core/security-settings-rules.ts';
import { ADMIN_SLOT, SLOT_COUNT } from '../../../firmware/core/slots.ts';
import {
  ANONYMOUS_DEFAULT,
  actorFor,
  addApiKey,
  addUser,
  LOCALGUI_DEFAULT,
  setPassword,
  type UserTable,
} from '../../../firmware/core/user-table.ts';
import { deriveKey } from '../../../firmware/keys/record-keys.ts';
import { FlashImageError } from '../../../firmware/store/flash.ts';
import {
  CONFIG_RECORD_BLOCKS,
  FIRST_LOG_BLOCK,
  LOG_BLOCK_COUNT,
  SECURITY_RECORD_BLOCKS,
} from '../../../firmware/store/flash-layout.ts';
import type { SecurityState } from '../../../firmware/store/security-record.ts';
import { DEFAULT_BLOCK_COUNT, DEFAULT_BLOCK_SIZE } from '../../../sim/nor-flash.ts';
import {
  boot,
  bootNormal,
  canonical,
  type DataDir,
  FIXED_TIME,
  imageBlock,
  keyFiles,
  provisionWithAdminPassword,
  readImage,
  recordBlocks,
  sealedLength,
  tempDataDir,
  writeImage,
} from '../../support/store-fixture.ts';

const IMAGE_SIZE = DEFAULT_BLOCK_SIZE * DEFAULT_BLOCK_COUNT;
const fast = { iterations: MIN_KDF_ITERATIONS };
// Derived once for the whole file.
const [ADMIN_VERIFIER, USER_VERIFIER] = await Promise.all([
  createVerifier('new-Admin-pass-42', fast),
  createVerifier('user-Pass-1234', fast),
]);
const EVENT = { time: FIXED_TIME, type: 'test.change', interface: 'system', result: 'ok' } as const;

function adminActor(table: UserTable) {
  return actorFor(table, ADMIN_SLOT);
}

/** The admin has set its own password: the table may now be changed. */
function withNewAdminPassword(state: SecurityState): SecurityState {
  const table = setPassword(state.table, adminActor(state.table), ADMIN_SLOT, ADMIN_VERIFIER, {
    currentPasswordVerified: true,
  });
  return { ...state, table };
}

const provisioned = (data: DataDir) => provisionWithAdminPassword(data, ADMIN_VERIFIER);

describe('SecureStore: boot and commit', () => {
  it('first boot stores the factory table: admin (must change), localgui, anonymous, 5 empty slots', async (t) => {
    const data = tempDataDir(t);
    const { normal, store, close } = await bootNormal(data);
    assert.equal(normal.firstBoot, true);
    assert.deepEqual(normal.repaired, []);
    assert.equal(store.sequence, 1);
    const { table, settings } = store.state;
    assert.equal(table.slots.length, SLOT_COUNT);
    const admin = table.slots[0];
    assert.ok(admin && admin.type === 'user', 'slot 0 is not a user');
    assert.deepEqual(
      { ...admin, verifier: undefined },
      {
        type: 'user',
        name: 'admin',
        permissions: ALL_PERMISSIONS,
        verifier: undefined,
        localOnly: false,
        mustChangePassword: true,
      },
    );
    assert.equal(admin.verifier.iterations, MIN_KDF_ITERATIONS);
    assert.equal(await verifyPassword(admin.verifier, 'CBM_1234'), true);
    assert.equal(await verifyPassword(admin.verifier, 'CBM_1235'), false);
    assert.deepEqual(table.slots.slice(1), [
      { type: 'standard', name: 'localgui', permissions: LOCALGUI_DEFAULT },
      { type: 'standard', name: 'anonymous', permissions: ANONYMOUS_DEFAULT },
      null,
      null,
      null,
      null,
      null,
    ]);
    assert.deepEqual(table.epochs, new Array(SLOT_COUNT).fill(0));
    assert.deepEqual(settings, DEFAULT_SECURITY_SETTINGS);
    assert.deepEqual(
      store.log.readAll().map(({ type, result }) => ({ type, result })),
      [{ type: 'first-boot', result: 'ok' }],
    );
    close();
    assert.equal(readFileSync(data.counterPath, 'ascii').trim(), '1');
    // Both copies are on flash with sequence 1.
    const reboot = await bootNormal(data, { readOnly: true });
    t.after(() => reboot.close());
    assert.deepEqual(reboot.normal.copies, [
      { copy: 'A', state: 'valid', seq: 1 },
      { copy: 'B', state: 'valid', seq: 1 },
    ]);
  });

  it('a reboot gives the same state, not a first boot, and repairs nothing', async (t) => {
    const data = tempDataDir(t);
    const first = await bootNormal(data);
    const state = first.store.state;
    first.close();
    const image = readImage(data);
    for (let i = 0; i < 2; i++) {
      const again = await bootNormal(data);
      assert.equal(again.normal.firstBoot, false);
      assert.deepEqual(again.normal.repaired, []);
      assert.deepEqual(again.store.state, state);
      assert.equal(again.store.sequence, 1);
      assert.equal(again.flash.bytesProgrammed, 0);
      assert.equal(again.flash.blocksErased, 0);
      again.close();
    }
    assert.deepEqual(readImage(data), image);
  });

  it('a commit survives a reboot with the new state, sequence and counter', async (t) => {
    const data = tempDataDir(t);
    const first = await bootNormal(data);
    const old = first.store.state;
    const next = withNewAdminPassword(old);
    first.store.commit(next, { ...EVENT, type: 'password.change', slot: 0 });
    assert.deepEqual(first.store.state, next);
    assert.equal(first.store.sequence, 2);
    first.close();
    assert.equal(readFileSync(data.counterPath, 'ascii').trim(), '2');

    const again = await bootNormal(data);
    t.after(() => again.close());
    assert.notDeepEqual(canonical(old), canonical(next));
    assert.deepEqual(again.store.state, next);
    assert.deepEqual(canonical(again.store.state), canonical(next));
    assert.equal(again.store.sequence, 2);
    assert.equal(again.normal.firstBoot, false);
    assert.deepEqual(
      again.store.log.readAll().map(({ type, slot }) => ({ type, slot })),
      [
        { type: 'first-boot', slot: undefined },
        { type: 'password.change', slot: 0 },
      ],
    );
    const admin = again.store.state.table.slots[0];
    assert.ok(admin?.type === 'user' && !admin.mustChangePassword, 'admin still must change its password');
    assert.equal(await verifyPassword(admin.verifier, 'new-Admin-pass-42'), true);
  });

  it('keeps the root key and counter in a 0700 dir as 0600 files', async (t) => {
    const data = tempDataDir(t);
    (await bootNormal(data)).close();
    assert.equal(statSync(data.keysDir).mode & 0o777, 0o700);
    assert.equal(statSync(data.rootKeyPath).mode & 0o777, 0o600);
    assert.equal(statSync(data.counterPath).mode & 0o777, 0o600);
    assert.equal(statSync(data.imagePath).mode & 0o777, 0o600);
    assert.equal(readFileSync(data.rootKeyPath).length, 32);
    assert.deepEqual([...keyFiles(data).keys()].sort(), ['rollback.counter', 'root.key']);
  });

  it('a full table (5 entries with 32-character names, 16 IPv6 CIDRs, 8 host names of 100 characters, 8 denied certificates) fits one 4 KiB block', async (t) => {
    const data = tempDataDir(t);
    const first = await bootNormal(data);
    let state = withNewAdminPassword(first.store.state);
    const name = (i: number) => `${String.fromCharCode(97 + i).repeat(31)}${i}`;
    for (let i = 0; i < 5; i++) {
      const actor = adminActor(state.table);
      const placed =
        i % 2 === 0
          ? addUser(state.table, actor, {
              name: name(i),
              verifier: USER_VERIFIER,
              permissions: ALL_PERMISSIONS,
              localOnly: true,
              mustChangePassword: true,
            })
          : addApiKey(state.table, actor, {
              name: name(i),
              preset: 'all-except-security',
              keyHash: new Uint8Array(randomBytes(32)),
              createdAt: FIXED_TIME + i,
            });
      state = { ...state, table: placed.table };
    }
    // Identities of the largest kind a record holds after years of deleting and creating entries.
    state = {
      ...state,
      table: {
        ...state.table,
        ids: state.table.ids.map((id, slot) => (slot < 3 || id === null ? id : 2 ** 32 + slot)),
        nextId: 2 ** 32 + 8,
      },
    };
    const whitelist = Array.from(
      { length: 16 },
      (_, i) => `ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff${i.toString(16).padStart(2, '0')}/128`,
    );
    assert.ok(
      whitelist.every((entry) => entry.length === 43),
      'whitelist entries of the longest form',
    );
    state = {
      ...state,
      settings: {
        ...state.settings,
        whitelist,
        hostnames: Array.from({ length: 8 }, (_, i) => `${'h'.repeat(61)}.${'p'.repeat(37)}${i}`),
        deniedCertificates: Array.from({ length: 8 }, (_, i) => `${i}`.repeat(64)),
        communication: {
          ...state.settings.communication,
          modbusTcp: true,
          // Identities of the largest kind a record holds after years of changes.
          modbusPrincipal: 2 ** 32,
          rtuPrincipal: 2 ** 32,
        },
      },
    };
    assert.ok(
      state.settings.hostnames.every((n) => n.length === 100 && hostnameProblem(n) === null),
      'host names of the longest form',
    );
    assert.ok(
      state.table.slots.every((entry) => entry !== null),
      'the table is not full',
    );
    const size = first.store.sealedSize(state);
    t.diagnostic(`sealed size of a full table: ${size} bytes`);
    assert.ok(size <= 4096, `${size} bytes`);
    first.store.commit(state, EVENT);
    first.close();
    // sealedSize is an upper bound of what went to flash.
    const onFlash = sealedLength(imageBlock(readImage(data), SECURITY_RECORD_BLOCKS[0]));
    assert.ok(onFlash <= size && onFlash > size - 8, `on flash ${onFlash}, estimated ${size}`);

    const again = await bootNormal(data);
    t.after(() => again.close());
    assert.deepEqual(again.store.state, state);
  });

  it('refuses a record too large for its block before touching flash', async (t) => {
    const data = tempDataDir(t);
    const first = await bootNormal(data);
    t.after(() => first.close());
    const old = first.store.state;
    const whitelist = Array.from({ length: 100 }, (_, i) => `ffff:ffff:ffff:ffff:ffff:ffff:ffff:${i}/128`);
    const huge = { ...old, settings: { ...old.settings, whitelist } };
    const size = first.store.sealedSize(huge);
    assert.ok(size > 4096, `${size} bytes`);
    const image = readImage(data);
    const { bytesProgrammed, blocksErased } = first.flash;
    assert.throws(() => first.store.commit(huge, EVENT), RangeError);
    assert.equal(first.flash.bytesProgrammed, bytesProgrammed);
    assert.equal(first.flash.blocksErased, blocksErased);
    assert.deepEqual(readImage(data), image);
    assert.deepEqual(first.store.state, old);
    assert.equal(first.store.sequence, 1);
    assert.equal(readFileSync(data.counterPath, 'ascii').trim(), '1');
  });
});

describe('SecureStore: nothing in plain text', () => {
  it('holds no name, verifier, salt, key hash or key in the image', async (t) => {
    const data = tempDataDir(t);
    const first = await bootNormal(data);
    const factoryAdmin = first.store.state.table.slots[0];
    assert.ok(factoryAdmin?.type === 'user', 'slot 0 is not a user');
    let state = withNewAdminPassword(first.store.state);
    first.store.commit(state, { ...EVENT, type: 'password.change', slot: 0 });
    const keyHash = new Uint8Array(createHash('sha256').update('secret api key material').digest());
    const user = addUser(state.table, adminActor(state.table), {
      name: 'plainuser_visible',
      verifier: USER_VERIFIER,
      permissions: LOCALGUI_DEFAULT,
    });
    state = { ...state, table: user.table };
    first.store.commit(state, { ...EVENT, type: 'user.add', slot: 0, detail: `slot ${user.slot}` });
    const key = addApiKey(state.table, adminActor(state.table), {
      name: 'scada_key_visible',
      preset: 'read-only',
      keyHash,
      createdAt: FIXED_TIME,
    });
    state = { ...state, table: key.table };
    first.store.commit(state, { ...EVENT, type: 'api-key.add', slot: 0, detail: `slot ${key.slot}` });
    first.close();

    // The state really holds what we search for.
    const again = await bootNormal(data);
    assert.deepEqual(again.store.state, state);
    again.close();

    const image = readImage(data);
    const rootKey = readFileSync(data.rootKeyPath);
    const needles: [string, Uint8Array | string][] = [
      ['plainuser_visible', 'plainuser_visible'],
      ['scada_key_visible', 'scada_key_visible'],
      ['admin', 'admin'],
      ['localgui', 'localgui'],
      ['anonymous', 'anonymous'],
      ['api-key.add', 'api-key.add'],
      ['admin public key', ADMIN_VERIFIER.publicKey],
      ['admin salt', ADMIN_VERIFIER.salt],
      ['factory admin public key', factoryAdmin.verifier.publicKey],
      ['factory admin salt', factoryAdmin.verifier.salt],
      ['user public key', USER_VERIFIER.publicKey],
      ['user salt', USER_VERIFIER.salt],
      ['API key hash', keyHash],
      ['root key', rootKey],
      ['record key', deriveKey(rootKey, 'record/security')],
      ['event-log key', deriveKey(rootKey, 'event-log')],
    ];
    for (const [label, needle] of needles) {
      assert.equal(image.indexOf(needle), -1, `${label} found in the image`);
      // Half of a 32- or 16-byte secret would still be a leak.
      if (typeof needle !== 'string') {
        assert.equal(image.indexOf(needle.subarray(0, 8)), -1, `part of the ${label} found in the image`);
      }
    }
    // The key files hold the key and a number, nothing of the table.
    for (const [file, bytes] of keyFiles(data)) {
      for (const [label, needle] of needles.filter(([l]) => !l.endsWith('key') || l.includes('public'))) {
        assert.equal(bytes.indexOf(needle), -1, `${label} found in keys/${file}`);
      }
    }
    assert.deepEqual(readdirSync(data.dir).sort(), ['flash.img', 'keys']);
  });
});

describe('SecureStore: garbage images and key files', () => {
  it('a random image with an existing root key and counter ≥ 1 gives safe mode and is left alone', async (t) => {
    const data = tempDataDir(t);
    await provisioned(data);
    const keys = keyFiles(data);
    const garbage = randomBytes(IMAGE_SIZE);
    writeImage(data, garbage);
    const booted = await boot(data);
    t.after(() => booted.close());
    assert.equal(booted.result.mode, 'safe');
    assert.match(booted.result.mode === 'safe' ? booted.result.reason : '', /no valid copy/);
    assert.deepEqual(
      booted.result.copies.map((copy) => [copy.copy, copy.state]),
      [
        ['A', 'invalid'],
        ['B', 'invalid'],
      ],
    );
    assert.equal(booted.flash.bytesProgrammed + booted.flash.blocksErased, 0);
    assert.deepEqual(readImage(data), garbage);
    assert.deepEqual(keyFiles(data), keys);
  });

  it('a random image on first boot (no key yet) is formatted and the device boots normally', async (t) => {
    const data = tempDataDir(t);
    const garbage = randomBytes(IMAGE_SIZE);
    writeImage(data, garbage);
    const first = await bootNormal(data);
    assert.equal(first.normal.firstBoot, true);
    const state = first.store.state;
    assert.equal(state.table.slots[0]?.name, 'admin');
    first.close();
    const image = readImage(data);
    // The config record blocks and the unused part of the log ring are erased; the reserved blocks
    // 4–15 are not the store's business and keep whatever they held.
    for (const block of CONFIG_RECORD_BLOCKS) {
      assert.ok(
        imageBlock(image, block).every((byte) => byte === 0xff),
        `block ${block}`,
      );
    }
    for (let i = 1; i < LOG_BLOCK_COUNT; i++) {
      assert.ok(
        imageBlock(image, FIRST_LOG_BLOCK + i).every((byte) => byte === 0xff),
        `log block ${i}`,
      );
    }
    const again = await bootNormal(data);
    t.after(() => again.close());
    assert.equal(again.normal.firstBoot, false);
    assert.deepEqual(again.store.state, state);
    assert.deepEqual(
      again.store.log.readAll().map((e) => e.type),
      ['first-boot'],
    );
    assert.equal(again.store.log.damagedEntries, 0);
  });

  it('a wrong-sized image is refused with FlashImageError and nothing is written', async (t) => {
    const data = tempDataDir(t);
    for (const size of [IMAGE_SIZE - 1, IMAGE_SIZE + DEFAULT_BLOCK_SIZE, 1]) {
      const content = randomBytes(size);
      writeImage(data, content);
      await assert.rejects(
        boot(data),
        (error: unknown) =>
          error instanceof FlashImageError &&
          error.message.includes(String(size)) &&
          error.message.includes(String(IMAGE_SIZE)),
      );
      assert.deepEqual(readImage(data), content);
      assert.equal(existsSync(data.keysDir), false, 'no root key may be made for an unusable image');
    }
  });

  it('a missing root key with the counter ≥ 1 gives safe mode; no new key, nothing written', async (t) => {
    const data = tempDataDir(t);
    await provisioned(data);
    rmSync(data.rootKeyPath);
    const image = readImage(data);
    const booted = await boot(data);
    t.after(() => booted.close());
    assert.equal(booted.result.mode, 'safe');
    assert.match(booted.result.mode === 'safe' ? booted.result.reason : '', /root key/);
    assert.deepEqual(readImage(data), image);
    assert.equal(existsSync(data.rootKeyPath), false);
    assert.equal(readFileSync(data.counterPath, 'ascii').trim(), '2');
  });

  it('a missing counter gives safe mode; the counter is not recreated, nothing written', async (t) => {
    const data = tempDataDir(t);
    await provisioned(data);
    rmSync(data.counterPath);
    const image = readImage(data);
    const booted = await boot(data);
    t.after(() => booted.close());
    assert.equal(booted.result.mode, 'safe');
    assert.match(booted.result.mode === 'safe' ? booted.result.reason : '', /counter/);
    assert.deepEqual(readImage(data), image);
    assert.equal(existsSync(data.counterPath), false);
  });

  it('a missing counter with both copies erased gives safe mode, not the factory table', async (t) => {
    const data = tempDataDir(t);
    await provisioned(data);
    rmSync(data.counterPath);
    const image = readImage(data);
    image.fill(0xff, 0, 2 * DEFAULT_BLOCK_SIZE);
    writeImage(data, image);
    const booted = await boot(data);
    t.after(() => booted.close());
    assert.equal(
      booted.result.mode,
      'safe',
      'with the root key present, a missing counter is not a first boot: defaults would reset the admin',
    );
    assert.deepEqual(readImage(data), image);
    assert.equal(existsSync(data.counterPath), false);
  });

  it('a damaged counter file gives safe mode', async (t) => {
    const data = tempDataDir(t);
    await provisioned(data);
    writeFileSync(data.counterPath, 'two\n', { mode: 0o600 });
    const image = readImage(data);
    const booted = await boot(data);
    t.after(() => booted.close());
    assert.equal(booted.result.mode, 'safe');
    assert.match(booted.result.mode === 'safe' ? booted.result.reason : '', /counter .* damaged/);
    assert.deepEqual(readImage(data), image);
  });

  it('a root key readable by others gives safe mode naming the mode', async (t) => {
    const data = tempDataDir(t);
    await provisioned(data);
    chmodSync(data.rootKeyPath, 0o644);
    const image = readImage(data);
    const booted = await boot(data);
    t.after(() => booted.close());
    assert.equal(booted.result.mode, 'safe');
    assert.match(booted.result.mode === 'safe' ? booted.result.reason : '', /mode 644/);
    assert.deepEqual(readImage(data), image);
  });

  it('a root key of the wrong length gives safe mode', async (t) => {
    const data = tempDataDir(t);
    await provisioned(data);
    writeFileSync(data.rootKeyPath, randomBytes(16), { mode: 0o600 });
    const booted = await boot(data);
    t.after(() => booted.close());
    assert.equal(booted.result.mode, 'safe');
    assert.match(booted.result.mode === 'safe' ? booted.result.reason : '', /16 bytes/);
  });

  it('another device’s root key gives safe mode', async (t) => {
    const data = tempDataDir(t);
    await provisioned(data);
    writeFileSync(data.rootKeyPath, randomBytes(32), { mode: 0o600 });
    const image = readImage(data);
    const booted = await boot(data);
    t.after(() => booted.close());
    assert.equal(booted.result.mode, 'safe');
    assert.deepEqual(readImage(data), image);
  });

  it('read-only open changes nothing and reports both copies', async (t) => {
    const data = tempDataDir(t);
    const state = await provisioned(data);
    // Make copy B lag, which a normal boot would repair.
    const image = readImage(data);
    image.fill(0xff, DEFAULT_BLOCK_SIZE, 2 * DEFAULT_BLOCK_SIZE);
    writeImage(data, image);
    const keys = keyFiles(data);
    const booted = await bootNormal(data, { readOnly: true });
    t.after(() => booted.close());
    assert.deepEqual(booted.store.state, state);
    assert.deepEqual(booted.normal.repaired, []);
    assert.deepEqual(booted.normal.copies, [
      { copy: 'A', state: 'valid', seq: 2 },
      { copy: 'B', state: 'blank' },
    ]);
    assert.deepEqual(readImage(data), image);
    assert.deepEqual(keyFiles(data), keys);
    assert.ok(
      recordBlocks(readImage(data))
        .subarray(DEFAULT_BLOCK_SIZE)
        .every((byte) => byte === 0xff),
      'copy B was repaired',
    );
  });

  it('read-only open before the first boot gives safe mode and creates no key', async (t) => {
    const data = tempDataDir(t);
    const booted = await boot(data, { readOnly: true });
    t.after(() => booted.close());
    assert.equal(booted.result.mode, 'safe');
    assert.equal(existsSync(data.rootKeyPath), false);
    assert.ok(
      readImage(data).every((byte) => byte === 0xff),
      'the image was written',
    );
  });
});
