/**
 * The simulated NOR flash: blank images, program-ANDs-bits and erase semantics, write-through to the
 * image file, range checks, image size checks, the byte-exact power cut (throw and kill) and flipBit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { FlashImageError, PowerLossError } from '../../firmware/store/flash.ts';
import { DEFAULT_BLOCK_COUNT, DEFAULT_BLOCK_SIZE, flipBit, NorFlash } from '../../sim/nor-flash.ts';

const BLOCK_SIZE = 256;
const BLOCK_COUNT = 4;
const SIZE = BLOCK_SIZE * BLOCK_COUNT;

function tempImage(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'flash.img');
}

function openSmall(t: TestContext, path: string, extra: { powerCutAfterBytes?: number } = {}): NorFlash {
  const flash = NorFlash.open({
    path,
    blockSize: BLOCK_SIZE,
    blockCount: BLOCK_COUNT,
    create: true,
    ...extra,
  });
  // Tests close it themselves to reopen the file; the cleanup closes it only if they did not.
  const close = flash.close.bind(flash);
  let closed = false;
  flash.close = () => {
    if (closed) return;
    closed = true;
    close();
  };
  t.after(() => flash.close());
  return flash;
}

const blank = (size: number): Buffer => Buffer.alloc(size, 0xff);

describe('NorFlash', () => {
  it('creates an all-0xFF image of blockSize × blockCount bytes', (t) => {
    const path = tempImage(t);
    const flash = openSmall(t, path);
    assert.equal(flash.blockSize, BLOCK_SIZE);
    assert.equal(flash.blockCount, BLOCK_COUNT);
    assert.deepEqual(readFileSync(path), blank(SIZE));
    for (let block = 0; block < BLOCK_COUNT; block++) {
      assert.deepEqual(flash.read(block, 0, BLOCK_SIZE), new Uint8Array(BLOCK_SIZE).fill(0xff));
    }
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  it('defaults to 32 blocks of 4096 bytes', (t) => {
    const path = tempImage(t);
    const flash = NorFlash.open({ path, create: true });
    t.after(() => flash.close());
    assert.equal(flash.blockSize, DEFAULT_BLOCK_SIZE);
    assert.equal(flash.blockCount, DEFAULT_BLOCK_COUNT);
    assert.equal(DEFAULT_BLOCK_SIZE * DEFAULT_BLOCK_COUNT, 131072);
    assert.deepEqual(readFileSync(path), blank(131072));
  });

  it('programs by ANDing bits: 0x0F over 0xF0 gives 0x00', (t) => {
    const path = tempImage(t);
    const flash = openSmall(t, path);
    flash.program(1, 10, Uint8Array.of(0xf0, 0xaa));
    assert.deepEqual(flash.read(1, 10, 2), Uint8Array.of(0xf0, 0xaa));
    flash.program(1, 10, Uint8Array.of(0x0f, 0xff));
    assert.deepEqual(flash.read(1, 10, 2), Uint8Array.of(0x00, 0xaa));
    // Programming can never set a bit back to 1.
    flash.program(1, 11, Uint8Array.of(0x55));
    assert.deepEqual(flash.read(1, 10, 3), Uint8Array.of(0x00, 0x00, 0xff));
    const expected = blank(SIZE);
    expected[BLOCK_SIZE + 10] = 0x00;
    expected[BLOCK_SIZE + 11] = 0x00;
    assert.deepEqual(readFileSync(path), expected);
    assert.equal(flash.bytesProgrammed, 5);
  });

  it('erase restores 0xFF in that block only', (t) => {
    const path = tempImage(t);
    const flash = openSmall(t, path);
    flash.program(1, 0, new Uint8Array(BLOCK_SIZE));
    flash.program(2, 0, new Uint8Array(BLOCK_SIZE));
    flash.erase(1);
    assert.deepEqual(flash.read(1, 0, BLOCK_SIZE), new Uint8Array(BLOCK_SIZE).fill(0xff));
    assert.deepEqual(flash.read(2, 0, BLOCK_SIZE), new Uint8Array(BLOCK_SIZE));
    const expected = blank(SIZE);
    expected.fill(0, 2 * BLOCK_SIZE, 3 * BLOCK_SIZE);
    assert.deepEqual(readFileSync(path), expected);
    assert.equal(flash.blocksErased, 1);
    // An erased block takes new data.
    flash.program(1, 0, Uint8Array.of(0x12));
    assert.deepEqual(flash.read(1, 0, 1), Uint8Array.of(0x12));
  });

  it('writes through to the file at once and reopens with the same contents', (t) => {
    const path = tempImage(t);
    const flash = openSmall(t, path);
    const data = Uint8Array.of(1, 2, 3, 4);
    flash.program(3, BLOCK_SIZE - 4, data);
    // Read while the flash is still open: nothing may be buffered.
    const file = readFileSync(path);
    assert.deepEqual(new Uint8Array(file.subarray(SIZE - 4)), data);
    assert.deepEqual(file.subarray(0, SIZE - 4), blank(SIZE - 4));
    flash.close();
    const again = NorFlash.open({ path, blockSize: BLOCK_SIZE, blockCount: BLOCK_COUNT });
    t.after(() => again.close());
    assert.deepEqual(again.read(3, BLOCK_SIZE - 4, 4), data);
    assert.equal(again.bytesProgrammed, 0);
  });

  it('read returns a copy, not a view of the image', (t) => {
    const flash = openSmall(t, tempImage(t));
    const bytes = flash.read(0, 0, 4);
    bytes.fill(0);
    assert.deepEqual(flash.read(0, 0, 4), Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  });

  it('throws RangeError for an out-of-range block or offset and changes nothing', (t) => {
    const path = tempImage(t);
    const flash = openSmall(t, path);
    const one = Uint8Array.of(0);
    for (const block of [-1, BLOCK_COUNT, 1.5, Number.NaN]) {
      assert.throws(() => flash.read(block, 0, 1), RangeError, `read block ${block}`);
      assert.throws(() => flash.erase(block), RangeError, `erase block ${block}`);
      assert.throws(() => flash.program(block, 0, one), RangeError, `program block ${block}`);
    }
    assert.throws(() => flash.read(0, -1, 1), RangeError);
    assert.throws(() => flash.read(0, BLOCK_SIZE, 1), RangeError);
    assert.throws(() => flash.read(0, BLOCK_SIZE - 1, 2), RangeError);
    assert.throws(() => flash.read(0, 0, BLOCK_SIZE + 1), RangeError);
    assert.throws(() => flash.read(0, 0.5, 1), RangeError);
    assert.throws(() => flash.program(0, BLOCK_SIZE - 1, Uint8Array.of(0, 0)), RangeError);
    assert.throws(() => flash.program(1, -1, one), RangeError);
    // A block-spanning write is refused whole, not programmed partly.
    assert.deepEqual(readFileSync(path), blank(SIZE));
    assert.equal(flash.bytesProgrammed, 0);
    assert.equal(flash.blocksErased, 0);
    // The edges themselves are fine.
    flash.program(BLOCK_COUNT - 1, BLOCK_SIZE - 1, one);
    assert.deepEqual(flash.read(BLOCK_COUNT - 1, BLOCK_SIZE - 1, 1), one);
    assert.deepEqual(flash.read(0, BLOCK_SIZE, 0), new Uint8Array(0));
  });

  it('refuses a wrong-sized existing image, naming both sizes, and leaves it alone', (t) => {
    const path = tempImage(t);
    const content = Buffer.alloc(SIZE + 7, 0x5a);
    writeFileSync(path, content);
    for (const create of [false, true]) {
      assert.throws(
        () => NorFlash.open({ path, blockSize: BLOCK_SIZE, blockCount: BLOCK_COUNT, create }),
        (error: unknown) => {
          assert.ok(error instanceof FlashImageError, `not a FlashImageError: ${String(error)}`);
          assert.match(error.message, new RegExp(`\\b${SIZE + 7}\\b`));
          assert.match(error.message, new RegExp(`\\b${SIZE}\\b`));
          return true;
        },
      );
      assert.deepEqual(readFileSync(path), content);
    }
  });

  it('refuses a missing image without create and does not make one', (t) => {
    const path = tempImage(t);
    assert.throws(
      () => NorFlash.open({ path, blockSize: BLOCK_SIZE, blockCount: BLOCK_COUNT }),
      (error: unknown) => error instanceof FlashImageError && error.message.includes(path),
    );
    assert.equal(existsSync(path), false);
  });

  it('opens an existing right-sized image with create without blanking it', (t) => {
    const path = tempImage(t);
    const content = Buffer.alloc(SIZE, 0x33);
    writeFileSync(path, content);
    const flash = openSmall(t, path);
    assert.deepEqual(flash.read(0, 0, 2), Uint8Array.of(0x33, 0x33));
    flash.close();
    assert.deepEqual(readFileSync(path), content);
  });

  it('powerCutAfterBytes = k programs exactly k bytes, then throws PowerLossError', (t) => {
    for (const k of [0, 1, 3, 5, 8]) {
      const path = tempImage(t);
      const flash = openSmall(t, path, { powerCutAfterBytes: k });
      const calls = [Uint8Array.of(0x01, 0x02, 0x03), Uint8Array.of(0x04, 0x05, 0x06, 0x07, 0x08)];
      let written = 0;
      let thrown: unknown = null;
      for (const data of calls) {
        try {
          flash.program(0, written, data);
          written += data.length;
        } catch (error) {
          thrown = error;
          break;
        }
      }
      if (k >= 8) {
        assert.equal(thrown, null, `k=${k}: the whole write fits the budget`);
      } else {
        assert.ok(thrown instanceof PowerLossError, `k=${k}: expected PowerLossError, got ${String(thrown)}`);
        assert.equal(thrown.bytesWritten, k);
      }
      assert.equal(flash.bytesProgrammed, Math.min(k, 8));
      const expected = blank(SIZE);
      for (let i = 0; i < Math.min(k, 8); i++) expected[i] = i + 1;
      assert.deepEqual(readFileSync(path), expected, `k=${k}`);
      // Once the budget is used up every further byte is lost too.
      assert.throws(() => flash.program(1, 0, Uint8Array.of(0)), PowerLossError);
      assert.deepEqual(readFileSync(path), expected, `k=${k} after`);
    }
  });

  it("onPowerCut 'kill' SIGKILLs the process after exactly k bytes reach the file", (t) => {
    const path = tempImage(t);
    const module = new URL('../../sim/nor-flash.ts', import.meta.url).href;
    const script = `
      import { NorFlash } from ${JSON.stringify(module)};
      const flash = NorFlash.open({ path: ${JSON.stringify(path)}, blockSize: ${BLOCK_SIZE},
        blockCount: ${BLOCK_COUNT}, create: true, powerCutAfterBytes: 5, onPowerCut: 'kill' });
      flash.program(2, 0, Uint8Array.of(1, 2, 3));
      flash.program(2, 3, Uint8Array.of(4, 5, 6, 7));
      console.log('survived');
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(child.signal, 'SIGKILL', `stderr: ${child.stderr}`);
    assert.doesNotMatch(child.stdout, /survived/);
    const expected = blank(SIZE);
    expected.set([1, 2, 3, 4, 5], 2 * BLOCK_SIZE);
    assert.deepEqual(readFileSync(path), expected);
  });

  it('flipBit flips exactly one bit of the file', (t) => {
    const path = tempImage(t);
    const flash = openSmall(t, path);
    flash.program(1, 0, Uint8Array.of(0x00, 0xa5));
    flash.close();
    const before = readFileSync(path);
    for (const [offset, bit] of [
      [BLOCK_SIZE + 1, 0],
      [BLOCK_SIZE + 1, 7],
      [0, 3],
      [SIZE - 1, 6],
    ] as const) {
      flipBit(path, offset, bit);
      const after = readFileSync(path);
      assert.equal(after.length, before.length);
      const differing = [...after.keys()].filter((i) => after[i] !== before[i]);
      assert.deepEqual(differing, [offset]);
      assert.equal((after[offset] as number) ^ (before[offset] as number), 1 << bit);
      flipBit(path, offset, bit);
      assert.deepEqual(readFileSync(path), before);
    }
  });
});
