/**
 * Rollback (DESIGN §4): an older, genuinely sealed image replayed over a newer one is refused by the
 * monotonic counter (safe mode, nothing written); an old copy replayed over only one half of the pair
 * is outvoted by the newer copy, which then repairs it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createVerifier, MIN_KDF_ITERATIONS } from '../../firmware/auth/password-verifier.ts';
import { ADMIN_SLOT } from '../../firmware/core/slots.ts';
import { actorFor, addUser, LOCALGUI_DEFAULT, setPassword } from '../../firmware/core/user-table.ts';
import { SECURITY_RECORD_BLOCKS } from '../../firmware/store/flash-layout.ts';
import type { SecurityState } from '../../firmware/store/security-record.ts';
import { DEFAULT_BLOCK_SIZE } from '../../sim/nor-flash.ts';
import {
  boot,
  bootNormal,
  canonical,
  commitAndPowerOff,
  type DataDir,
  readImage,
  tempDataDir,
  writeImage,
} from '../support/store-fixture.ts';

const [ADMIN_VERIFIER, USER_VERIFIER] = await Promise.all([
  createVerifier('Rollback-admin-1', { iterations: MIN_KDF_ITERATIONS }),
  createVerifier('Rollback-user-22', { iterations: MIN_KDF_ITERATIONS }),
]);

interface History {
  /** The image after first boot (factory table, admin / CBM_1234, sequence 1). */
  readonly image0: Buffer;
  readonly state1: SecurityState;
  readonly state2: SecurityState;
  /** The image as it was with state 1 committed (sequence 2). */
  readonly image1: Buffer;
  /** The image with state 2 committed (sequence 3). */
  readonly image2: Buffer;
}

/** First boot (seq 1), state 1 = admin password set (seq 2), state 2 = a user added (seq 3). */
async function history(data: DataDir): Promise<History> {
  const first = await bootNormal(data);
  const factory = first.store.state;
  first.close();
  const image0 = readImage(data);
  const table1 = setPassword(factory.table, actorFor(factory.table, ADMIN_SLOT), ADMIN_SLOT, ADMIN_VERIFIER, {
    currentPasswordVerified: true,
  });
  const state1 = { ...factory, table: table1 };
  await commitAndPowerOff(data, state1);
  const image1 = readImage(data);
  const table2 = addUser(table1, actorFor(table1, ADMIN_SLOT), {
    name: 'operator',
    verifier: USER_VERIFIER,
    permissions: LOCALGUI_DEFAULT,
  }).table;
  const state2 = { ...state1, table: table2 };
  await commitAndPowerOff(data, state2);
  const image2 = readImage(data);
  assert.equal(readFileSync(data.counterPath, 'ascii').trim(), '3');
  assert.notDeepEqual(canonical(state1), canonical(state2));
  return { state1, state2, image0, image1, image2 };
}

function withBlock(image: Buffer, block: number, from: Buffer): Buffer {
  const copy = Buffer.from(image);
  from.copy(copy, block * DEFAULT_BLOCK_SIZE, block * DEFAULT_BLOCK_SIZE, (block + 1) * DEFAULT_BLOCK_SIZE);
  return copy;
}

describe('rollback', () => {
  it('an older image copied over the newer one gives safe mode and is not touched', async (t) => {
    const data = tempDataDir(t);
    const { image1, image2 } = await history(data);
    assert.notDeepEqual(image1, image2);
    writeImage(data, image1);
    for (const readOnly of [false, true]) {
      const booted = await boot(data, { readOnly });
      const { result } = booted;
      assert.equal(result.mode, 'safe', `readOnly=${readOnly}`);
      assert.match(result.mode === 'safe' ? result.reason : '', /rollback/i);
      assert.deepEqual(result.copies, [
        { copy: 'A', state: 'rolled-back', seq: 2 },
        { copy: 'B', state: 'rolled-back', seq: 2 },
      ]);
      assert.equal(booted.flash.bytesProgrammed + booted.flash.blocksErased, 0);
      booted.close();
      assert.deepEqual(readImage(data), image1, 'the open changed the replayed image');
      assert.equal(readFileSync(data.counterPath, 'ascii').trim(), '3', 'the counter moved');
    }
  });

  it('the newer image still boots after a refused replay is undone', async (t) => {
    const data = tempDataDir(t);
    const { image1, image2, state2 } = await history(data);
    writeImage(data, image1);
    (await boot(data)).close();
    writeImage(data, image2);
    const booted = await bootNormal(data);
    t.after(() => booted.close());
    assert.deepEqual(canonical(booted.store.state), canonical(state2));
    assert.deepEqual(booted.normal.repaired, []);
  });

  for (const [copy, name, other] of [
    [0, 'A', 'B'],
    [1, 'B', 'A'],
  ] as const) {
    it(`only copy ${name} replaced by its old self: copy ${other} serves the new state and ${name} is repaired`, async (t) => {
      const data = tempDataDir(t);
      const { image1, image2, state2 } = await history(data);
      const mixed = withBlock(image2, SECURITY_RECORD_BLOCKS[copy], image1);
      writeImage(data, mixed);

      const booted = await bootNormal(data);
      assert.deepEqual(canonical(booted.store.state), canonical(state2));
      assert.equal(booted.store.sequence, 3);
      const reports = new Map(booted.normal.copies.map((report) => [report.copy, report]));
      assert.deepEqual(reports.get(name), { copy: name, state: 'rolled-back', seq: 2 });
      assert.deepEqual(reports.get(other), { copy: other, state: 'valid', seq: 3 });
      assert.equal(booted.normal.repaired.length, 1, JSON.stringify(booted.normal.repaired));
      assert.match(
        booted.normal.repaired[0] as string,
        new RegExp(`^copy ${name} rewritten \\(was sequence 2\\)`),
      );
      booted.close();

      const after = await bootNormal(data, { readOnly: true });
      t.after(() => after.close());
      assert.deepEqual(after.normal.copies, [
        { copy: 'A', state: 'valid', seq: 3 },
        { copy: 'B', state: 'valid', seq: 3 },
      ]);
      assert.deepEqual(canonical(after.store.state), canonical(state2));
      assert.equal(readFileSync(data.counterPath, 'ascii').trim(), '3');
    });
  }

  it('an old copy A with copy B erased gives safe mode: the only valid copy is a replay', async (t) => {
    const data = tempDataDir(t);
    const { image1, image2 } = await history(data);
    const mixed = withBlock(image2, SECURITY_RECORD_BLOCKS[0], image1);
    mixed.fill(
      0xff,
      SECURITY_RECORD_BLOCKS[1] * DEFAULT_BLOCK_SIZE,
      (SECURITY_RECORD_BLOCKS[1] + 1) * DEFAULT_BLOCK_SIZE,
    );
    writeImage(data, mixed);
    const booted = await boot(data);
    t.after(() => booted.close());
    assert.equal(booted.result.mode, 'safe');
    assert.match(booted.result.mode === 'safe' ? booted.result.reason : '', /rollback/i);
    assert.deepEqual(readImage(data), mixed);
  });

  it('a replay of the first-boot image (factory admin password) is refused too', async (t) => {
    const data = tempDataDir(t);
    const { image0 } = await history(data);
    writeImage(data, image0);
    const booted = await boot(data);
    t.after(() => booted.close());
    assert.equal(booted.result.mode, 'safe');
    assert.match(booted.result.mode === 'safe' ? booted.result.reason : '', /rollback/i);
    assert.deepEqual(booted.result.copies, [
      { copy: 'A', state: 'rolled-back', seq: 1 },
      { copy: 'B', state: 'rolled-back', seq: 1 },
    ]);
    assert.deepEqual(readImage(data), image0);
  });
});
