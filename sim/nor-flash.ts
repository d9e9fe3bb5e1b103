/**
 * The simulator's NOR flash: a fixed-size image file with erase-to-0xFF and program-clears-bits
 * semantics, written through on every operation so that a killed process leaves exactly the bytes it
 * had programmed. It can cut the power after the Nth programmed byte, like ESP-IDF's `failAfter(n)`.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { type Flash, FlashImageError, PowerLossError } from '../firmware/store/flash.ts';

export const DEFAULT_BLOCK_SIZE = 4096;
/** 32 blocks = 128 KiB: security record A/B, config record A/B, spare pairs and a 16-block event ring. */
export const DEFAULT_BLOCK_COUNT = 32;

export interface NorFlashOptions {
  readonly path: string;
  readonly blockSize?: number;
  readonly blockCount?: number;
  /** Create a blank (all 0xFF) image when the file does not exist. Default false. */
  readonly create?: boolean;
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
    private readonly fd: number,
    private readonly image: Uint8Array,
    readonly blockSize: number,
    readonly blockCount: number,
    private readonly powerCutAfterBytes: number | undefined,
    private readonly onPowerCut: 'throw' | 'kill',
  ) {}

  /** Opens (or with `create`, makes) the image. Throws FlashImageError for a missing or wrong-sized image. */
  static open(options: NorFlashOptions): NorFlash {
    const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    const blockCount = options.blockCount ?? DEFAULT_BLOCK_COUNT;
    const size = blockSize * blockCount;
    let fd: number;
    try {
      fd = openSync(options.path, options.create ? 'a+' : 'r+', 0o600);
    } catch (error) {
      throw new FlashImageError(`cannot open flash image ${options.path}: ${(error as Error).message}`);
    }
    try {
      const actual = fstatSync(fd).size;
      if (actual === 0 && options.create) {
        closeSync(fd);
        fd = openSync(options.path, 'r+');
        writeSync(fd, new Uint8Array(size).fill(0xff), 0, size, 0);
        fsyncSync(fd);
      } else if (actual !== size) {
        throw new FlashImageError(
          `flash image ${options.path} is ${actual} bytes; a ${blockCount}×${blockSize}-byte partition needs exactly ${size}`,
        );
      } else if (options.create) {
        closeSync(fd);
        fd = openSync(options.path, 'r+');
      }
      const image = new Uint8Array(size);
      readSync(fd, image, 0, size, 0);
      return new NorFlash(
        fd,
        image,
        blockSize,
        blockCount,
        options.powerCutAfterBytes,
        options.onPowerCut ?? 'throw',
      );
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  read(block: number, offset: number, length: number): Uint8Array {
    const start = this.address(block, offset, length);
    return this.image.slice(start, start + length);
  }

  erase(block: number): void {
    const start = this.address(block, 0, this.blockSize);
    this.image.fill(0xff, start, start + this.blockSize);
    writeSync(this.fd, this.image, start, this.blockSize, start);
    this.blocksErased++;
  }

  program(block: number, offset: number, data: Uint8Array): void {
    const start = this.address(block, offset, data.length);
    let length = data.length;
    const budget =
      this.powerCutAfterBytes === undefined
        ? Number.POSITIVE_INFINITY
        : this.powerCutAfterBytes - this.bytesProgrammed;
    const cut = length > budget;
    if (cut) length = Math.max(0, budget);
    for (let i = 0; i < length; i++) {
      this.image[start + i] = (this.image[start + i] as number) & (data[i] as number);
    }
    if (length > 0) writeSync(this.fd, this.image, start, length, start);
    this.bytesProgrammed += length;
    if (cut) this.losePower();
  }

  sync(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }

  private losePower(): never {
    if (this.onPowerCut === 'kill') {
      fsyncSync(this.fd);
      process.kill(process.pid, 'SIGKILL');
    }
    throw new PowerLossError(this.bytesProgrammed);
  }

  private address(block: number, offset: number, length: number): number {
    if (!Number.isInteger(block) || block < 0 || block >= this.blockCount) {
      throw new RangeError(`flash block ${block} is outside the partition (0…${this.blockCount - 1})`);
    }
    if (!Number.isInteger(offset) || offset < 0 || length < 0 || offset + length > this.blockSize) {
      throw new RangeError(
        `flash access of ${length} bytes at offset ${offset} runs past a ${this.blockSize}-byte block`,
      );
    }
    return block * this.blockSize + offset;
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
