/**
 * The flash partition of a real board and of the simulator: a fixed-size image file (or a partition
 * device of that size) with NOR semantics, erase-to-0xFF and program-clears-bits, written through on
 * every operation so that a killed process leaves exactly the bytes it had programmed. Power-cut
 * injection is the simulator's (sim/nor-flash.ts wraps this one).
 */
import { closeSync, fdatasync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { type Flash, FlashImageError } from './flash.ts';

export const DEFAULT_BLOCK_SIZE = 4096;
/** 32 blocks = 128 KiB: security record A/B, config record A/B, spare pairs and a 16-block event ring. */
export const DEFAULT_BLOCK_COUNT = 32;

export interface FileFlashOptions {
  readonly path: string;
  readonly blockSize?: number;
  readonly blockCount?: number;
  /** Create a blank (all 0xFF) image when the file does not exist. Default false. */
  readonly create?: boolean;
}

export class FileFlash implements Flash {
  /** An fdatasync is under way on the thread pool; `again`: more was programmed since it started. */
  private syncing: { again: boolean } | null = null;
  private closed = false;

  private constructor(
    private readonly fd: number,
    private readonly image: Uint8Array,
    readonly blockSize: number,
    readonly blockCount: number,
  ) {}

  /** Opens (or with `create`, makes) the image. Throws FlashImageError for a missing or wrong-sized image. */
  static open(options: FileFlashOptions): FileFlash {
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
      return new FileFlash(fd, image, blockSize, blockCount);
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
  }

  program(block: number, offset: number, data: Uint8Array): void {
    const start = this.address(block, offset, data.length);
    for (let i = 0; i < data.length; i++) {
      this.image[start + i] = (this.image[start + i] as number) & (data[i] as number);
    }
    if (data.length > 0) writeSync(this.fd, this.image, start, data.length, start);
  }

  sync(): void {
    fsyncSync(this.fd);
  }

  /**
   * fdatasync on the thread pool: the event loop does not wait the 1–3 ms of a disk flush (issue 18:
   * one per login was a third of a login's time, and Modbus answers waited behind it). Appends made
   * while one runs share the next.
   */
  syncSoon(): void {
    if (this.closed) return;
    if (this.syncing) {
      this.syncing.again = true;
      return;
    }
    const syncing = { again: false };
    this.syncing = syncing;
    fdatasync(this.fd, () => {
      this.syncing = null;
      if (syncing.again) this.syncSoon();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A flush still under way on the thread pool: the synchronous one covers it before the fd goes.
    if (this.syncing) fsyncSync(this.fd);
    closeSync(this.fd);
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
