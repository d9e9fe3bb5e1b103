/**
 * The simulator's NOR flash: the firmware's file-backed flash (firmware/store/file-flash.ts) with
 * power-cut injection, like ESP-IDF's `failAfter(n)`: the power dies after the Nth programmed byte,
 * the bytes before it on the image, the rest never. Counts programmed bytes and erased blocks for the
 * fault tests and the bench. `flipBit` plays flash wear or an attacker on the image file.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { FileFlash, type FileFlashOptions } from '../firmware/store/file-flash.ts';
import { type Flash, PowerLossError } from '../firmware/store/flash.ts';

export { DEFAULT_BLOCK_COUNT, DEFAULT_BLOCK_SIZE } from '../firmware/store/file-flash.ts';

export interface NorFlashOptions extends FileFlashOptions {
  /** Lose power once this many bytes have been programmed since open. Default: never. */
  readonly powerCutAfterBytes?: number;
  /**
   * What a power loss does: `throw` a PowerLossError (in-process tests) or `kill` the process with
   * SIGKILL, as `--sim-powercut-after-bytes` wants. Default `throw`.
   */
  readonly onPowerCut?: 'throw' | 'kill';
}

export class NorFlash implements Flash {
  /** Bytes programmed since open (the figure the power cut counts, and the bench reports). */
  bytesProgrammed = 0;
  /** Blocks erased since open. */
  blocksErased = 0;

  private constructor(
    private readonly flash: Flash,
    private readonly powerCutAfterBytes: number | undefined,
    private readonly onPowerCut: 'throw' | 'kill',
  ) {}

  /** Opens (or with `create`, makes) the image. Throws FlashImageError for a missing or wrong-sized image. */
  static open(options: NorFlashOptions): NorFlash {
    return new NorFlash(FileFlash.open(options), options.powerCutAfterBytes, options.onPowerCut ?? 'throw');
  }

  get blockSize(): number {
    return this.flash.blockSize;
  }

  get blockCount(): number {
    return this.flash.blockCount;
  }

  read(block: number, offset: number, length: number): Uint8Array {
    return this.flash.read(block, offset, length);
  }

  erase(block: number): void {
    this.flash.erase(block);
    this.blocksErased++;
  }

  program(block: number, offset: number, data: Uint8Array): void {
    const budget =
      this.powerCutAfterBytes === undefined
        ? Number.POSITIVE_INFINITY
        : this.powerCutAfterBytes - this.bytesProgrammed;
    const cut = data.length > budget;
    const length = cut ? Math.max(0, budget) : data.length;
    // Range checks first (the file flash throws RangeError), so a bad access never counts as written.
    if (cut) this.flash.read(block, offset, data.length);
    if (length > 0 || !cut) this.flash.program(block, offset, cut ? data.subarray(0, length) : data);
    this.bytesProgrammed += length;
    if (cut) this.losePower();
  }

  sync(): void {
    this.flash.sync();
  }

  syncSoon(): void {
    this.flash.syncSoon();
  }

  close(): void {
    this.flash.close();
  }

  private losePower(): never {
    if (this.onPowerCut === 'kill') {
      this.flash.sync();
      process.kill(process.pid, 'SIGKILL');
    }
    throw new PowerLossError(this.bytesProgrammed);
  }
}

/** Test helper: flips one bit of the image file in place, as flash wear or an attacker would. */
export function flipBit(path: string, byteOffset: number, bit: number): void {
  const fd = openSync(path, 'r+');
  try {
    const byte = new Uint8Array(1);
    readSync(fd, byte, 0, 1, byteOffset);
    byte[0] = (byte[0] as number) ^ (1 << bit);
    writeSync(fd, byte, 0, 1, byteOffset);
  } finally {
    closeSync(fd);
  }
}
