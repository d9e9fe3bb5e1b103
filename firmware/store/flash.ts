/**
 * The flash partition as the store sees it: NOR semantics, addressed by erase block.
 *
 * Erasing a block sets every byte to 0xFF; programming can only clear bits (1 → 0), so a byte is
 * programmed once between erases. The simulator backs this with an image file; on a Pi it is a raw
 * MTD partition. Implementations throw `PowerLossError` when the (simulated) supply dies mid-write.
 */
export interface Flash {
  /** Bytes per erase block (4096 on every target so far). */
  readonly blockSize: number;
  /** Number of erase blocks in the partition. */
  readonly blockCount: number;
  /** Reads `length` bytes at `offset` from the start of `block`. */
  read(block: number, offset: number, length: number): Uint8Array;
  /** Sets every byte of `block` to 0xFF. */
  erase(block: number): void;
  /** Programs `data` at `offset` of `block` (bitwise AND with what is there). */
  program(block: number, offset: number, data: Uint8Array): void;
  /** Forces programmed data to stable storage. */
  sync(): void;
  /**
   * Forces programmed data to stable storage off the caller's path: for a write whose durability
   * need not come before the answer (an event that changes no state: see event-log.ts). Data already
   * programmed is read back at once either way; a later `sync()` covers it too.
   */
  syncSoon(): void;
  close(): void;
}

/** Thrown by a flash when power is lost during a write; the process must act as if it died here. */
export class PowerLossError extends Error {
  override readonly name = 'PowerLossError';
  constructor(readonly bytesWritten: number) {
    super(`simulated power loss after ${bytesWritten} bytes written to flash`);
  }
}

/** A flash image that cannot be used at all (wrong size, unreadable). */
export class FlashImageError extends Error {
  override readonly name = 'FlashImageError';
}
