/**
 * Tamper and bit rot (DESIGN §4): every single bit of each sealed copy (header and box, block 0 and
 * block 1) is flipped in turn, and a read-only boot must refuse that copy and serve the committed
 * state from the other; a normal boot repairs it. With both copies damaged the device enters safe
 * mode and writes nothing: above all no factory table, which would bring back admin / CBM_1234.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createVerifier, MIN_KDF_ITERATIONS, verifyPassword } from '../../firmware/auth/password-verifier.ts';
import { ADMIN_SLOT } from '../../firmware/core/slots.ts';
import { SECURITY_RECORD_BLOCKS } from '../../firmware/store/flash-layout.ts';
import { RECORD_HEADER_BYTES } from '../../firmware/store/sealed-record.ts';
import { DEFAULT_BLOCK_SIZE, flipBit } from '../../sim/nor-flash.ts';
import {
  boot,
  bootNormal,
  canonical,
  type DataDir,
  imageBlock,
  keyFiles,
  provisionWithAdminPassword,
  readImage,
  sealedLength,
  tempDataDir,
  writeImage,
} from '../support/store-fixture.ts';

const NEW_ADMIN_PASSWORD = 'Tamper-proof-99';
const ADMIN_VERIFIER = await createVerifier(NEW_ADMIN_PASSWORD, { iterations: MIN_KDF_ITERATIONS });

const provisioned = (data: DataDir) => provisionWithAdminPassword(data, ADMIN_VERIFIER);

describe('tamper: one copy damaged', () => {
  it('every flipped bit of copy A, then of copy B, invalidates that copy and the other serves', async (t) => {
    const data = tempDataDir(t);
    const committed = await provisioned(data);
    const expected = canonical(committed);
    const image = readImage(data);
    const lengths = SECURITY_RECORD_BLOCKS.map((block) => sealedLength(imageBlock(image, block)));
    // Steady state: both copies hold the same sequence (and the same length).
    const steady = await bootNormal(data, { readOnly: true });
    assert.deepEqual(steady.normal.copies, [
      { copy: 'A', state: 'valid', seq: 2 },
      { copy: 'B', state: 'valid', seq: 2 },
    ]);
    steady.close();
    assert.equal(lengths[0], lengths[1]);
    assert.ok((lengths[0] as number) > RECORD_HEADER_BYTES + 16, `sealed length ${lengths[0]}`);

    const started = performance.now();
    let flips = 0;
    for (const [copy, block] of SECURITY_RECORD_BLOCKS.entries()) {
      const damaged = copy === 0 ? 'A' : 'B';
      const other = copy === 0 ? 'B' : 'A';
      const length = lengths[copy] as number;
      for (let byte = 0; byte < length; byte++) {
        for (let bit = 0; bit < 8; bit++) {
          const at = block * DEFAULT_BLOCK_SIZE + byte;
          flipBit(data.imagePath, at, bit);
          const booted = await boot(data, { readOnly: true, create: false });
          const { result } = booted;
          const where = `copy ${damaged}, byte ${byte}, bit ${bit}`;
          if (result.mode !== 'normal') assert.fail(`${where}: safe mode: ${result.reason}`);
          const reports = new Map(result.copies.map((report) => [report.copy, report]));
          if (reports.get(damaged)?.state !== 'invalid') {
            assert.fail(`${where}: the damaged copy was accepted: ${JSON.stringify(reports.get(damaged))}`);
          }
          assert.deepEqual(reports.get(other), { copy: other, state: 'valid', seq: 2 }, where);
          assert.deepEqual(canonical(result.store.state), expected, where);
          assert.equal(booted.flash.bytesProgrammed + booted.flash.blocksErased, 0, where);
          booted.close();
          flipBit(data.imagePath, at, bit);
          flips++;
        }
      }
    }
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`${flips} single-bit flips over 2 copies of ${lengths[0]} bytes in ${seconds.toFixed(1)} s`);
    assert.deepEqual(readImage(data), image);
  });

  it('a normal boot repairs a damaged copy from the other one', async (t) => {
    const data = tempDataDir(t);
    const committed = await provisioned(data);
    for (const [copy, block] of SECURITY_RECORD_BLOCKS.entries()) {
      const name = copy === 0 ? 'A' : 'B';
      flipBit(data.imagePath, block * DEFAULT_BLOCK_SIZE + RECORD_HEADER_BYTES + 7, 5);
      const booted = await bootNormal(data);
      assert.deepEqual(canonical(booted.store.state), canonical(committed));
      assert.equal(booted.normal.repaired.length, 1, JSON.stringify(booted.normal.repaired));
      assert.match(booted.normal.repaired[0] as string, new RegExp(`copy ${name} rewritten`));
      booted.close();
      const after = await bootNormal(data, { readOnly: true });
      assert.deepEqual(after.normal.copies, [
        { copy: 'A', state: 'valid', seq: 2 },
        { copy: 'B', state: 'valid', seq: 2 },
      ]);
      after.close();
      const image = readImage(data);
      assert.deepEqual(
        imageBlock(image, SECURITY_RECORD_BLOCKS[0]).subarray(0, 16),
        imageBlock(image, SECURITY_RECORD_BLOCKS[1]).subarray(0, 16),
      );
    }
    t.diagnostic('both copies repaired in turn');
  });
});

describe('tamper: both copies damaged', () => {
  const box = (block: number, offset: number) => block * DEFAULT_BLOCK_SIZE + RECORD_HEADER_BYTES + offset;
  const flip = (image: Buffer, at: number, mask: number) => {
    image[at] = (image[at] as number) ^ mask;
  };
  const damages: { label: string; damage: (image: Buffer) => void; states: string[] }[] = [
    {
      label: 'a bit flipped in each box',
      damage: (image) => {
        for (const block of SECURITY_RECORD_BLOCKS) flip(image, box(block, 3), 0x10);
      },
      states: ['invalid', 'invalid'],
    },
    {
      label: 'both magics cleared',
      damage: (image) => {
        for (const block of SECURITY_RECORD_BLOCKS) image[block * DEFAULT_BLOCK_SIZE] = 0;
      },
      states: ['invalid', 'invalid'],
    },
    {
      label: 'both blocks erased',
      damage: (image) => image.fill(0xff, 0, 2 * DEFAULT_BLOCK_SIZE),
      states: ['blank', 'blank'],
    },
    {
      label: 'A erased, B flipped',
      damage: (image) => {
        image.fill(0xff, 0, DEFAULT_BLOCK_SIZE);
        flip(image, box(SECURITY_RECORD_BLOCKS[1], 100), 0x01);
      },
      states: ['blank', 'invalid'],
    },
  ];

  for (const { label, damage, states } of damages) {
    it(`${label}: safe mode, nothing written, no factory defaults`, async (t) => {
      const data = tempDataDir(t);
      const committed = await provisioned(data);
      const good = readImage(data);
      const image = Buffer.from(good);
      damage(image);
      writeImage(data, image);
      const keys = keyFiles(data);

      for (let attempt = 0; attempt < 2; attempt++) {
        const booted = await boot(data);
        const { result } = booted;
        assert.equal(result.mode, 'safe', `attempt ${attempt}`);
        assert.match(result.mode === 'safe' ? result.reason : '', /no valid copy/);
        assert.deepEqual(
          result.copies.map((copy) => copy.state),
          states,
        );
        assert.equal(booted.flash.bytesProgrammed + booted.flash.blocksErased, 0);
        booted.close();
        // Not a byte changed: no default table (with admin / CBM_1234) was written, no log entry, and
        // the counter and root key are as they were.
        assert.deepEqual(readImage(data), image);
        assert.deepEqual(keyFiles(data), keys);
      }

      // The admin's own password was never reset: put the good copies back and it is still the one set.
      writeImage(data, good);
      const restored = await bootNormal(data);
      t.after(() => restored.close());
      assert.deepEqual(canonical(restored.store.state), canonical(committed));
      const admin = restored.store.state.table.slots[ADMIN_SLOT];
      assert.ok(admin?.type === 'user', 'slot 0 is not a user');
      assert.equal(admin.mustChangePassword, false);
      assert.equal(await verifyPassword(admin.verifier, 'CBM_1234'), false);
      assert.equal(await verifyPassword(admin.verifier, NEW_ADMIN_PASSWORD), true);
    });
  }
});
