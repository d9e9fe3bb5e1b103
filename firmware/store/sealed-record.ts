/**
 * One sealed record copy in one erase block, and the A/B pair that holds two of them.
 *
 * A copy is a 40-byte header (magic, kind, version, two reserved zero bytes, seq u32 BE, box length
 * u32 BE, nonce) and a tweetnacl secretbox (XSalsa20-Poly1305) of the CBOR plaintext
 * `[kind, seq, payload]`. The header's kind and seq are repeated inside the box and compared after
 * opening, and the reserved bytes must be zero, so the whole copy is authenticated. The magic is
 * programmed last: until it is on flash the copy does not exist, which is what makes a torn write
 * harmless (mbed TDBStore's header-last rule).
 */
import { randomBytes } from 'node:crypto';
import { Encoder } from 'cbor-x';
import nacl from 'tweetnacl';
import type { Flash } from './flash.ts';

export const RECORD_MAGIC = Uint8Array.of(0x4d, 0x47, 0x52, 0x31); // "MGR1"
export const RECORD_FORMAT_VERSION = 1;
export const RECORD_HEADER_BYTES = 16 + nacl.secretbox.nonceLength;

/** Standard CBOR only: no cbor-x record extensions, so a third party can decode what we open. */
export const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });

export type CopyState =
  | { readonly state: 'blank' }
  | { readonly state: 'invalid'; readonly reason: string }
  | { readonly state: 'valid'; readonly seq: number; readonly payload: unknown };

/** Seals `payload` into the bytes of one copy. Throws RangeError when it does not fit `capacity`. */
export function sealCopy(
  key: Uint8Array,
  kind: number,
  seq: number,
  payload: unknown,
  capacity: number,
): Uint8Array {
  const plaintext = cbor.encode([kind, seq, payload]);
  const nonce = new Uint8Array(randomBytes(nacl.secretbox.nonceLength));
  const box = nacl.secretbox(plaintext, nonce, key);
  const bytes = new Uint8Array(RECORD_HEADER_BYTES + box.length);
  if (bytes.length > capacity) {
    throw new RangeError(`sealed record of ${bytes.length} bytes does not fit a ${capacity}-byte block`);
  }
  const view = new DataView(bytes.buffer);
  bytes.set(RECORD_MAGIC, 0);
  bytes[4] = kind;
  bytes[5] = RECORD_FORMAT_VERSION;
  view.setUint32(8, seq);
  view.setUint32(12, box.length);
  bytes.set(nonce, 16);
  bytes.set(box, RECORD_HEADER_BYTES);
  return bytes;
}

/** Opens the copy at the start of `block` (the whole block's bytes). Never throws. */
export function openCopy(key: Uint8Array, kind: number, block: Uint8Array): CopyState {
  if (block.every((byte) => byte === 0xff)) return { state: 'blank' };
  if (!RECORD_MAGIC.every((byte, i) => block[i] === byte)) {
    return { state: 'invalid', reason: 'no commit marker (torn write or foreign data)' };
  }
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  if (block[4] !== kind) return { state: 'invalid', reason: `record kind ${block[4]}, expected ${kind}` };
  if (block[5] !== RECORD_FORMAT_VERSION)
    return { state: 'invalid', reason: `unknown format version ${block[5]}` };
  // Bytes 6–7 are reserved (written as zero) and not inside the box: refuse anything else, so that
  // every header byte is either a checked constant, compared with the sealed content, or authenticated.
  if (block[6] !== 0 || block[7] !== 0)
    return { state: 'invalid', reason: 'reserved header bytes are not zero' };
  const seq = view.getUint32(8);
  const boxLength = view.getUint32(12);
  if (boxLength < nacl.secretbox.overheadLength || RECORD_HEADER_BYTES + boxLength > block.length) {
    return { state: 'invalid', reason: `record length ${boxLength} does not fit the block` };
  }
  const nonce = block.subarray(16, RECORD_HEADER_BYTES);
  const plaintext = nacl.secretbox.open(
    block.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + boxLength),
    nonce,
    key,
  );
  if (!plaintext)
    return { state: 'invalid', reason: 'authentication failed (damaged, tampered or foreign key)' };
  let decoded: unknown;
  try {
    decoded = cbor.decode(plaintext);
  } catch {
    return { state: 'invalid', reason: 'authenticated but undecodable' };
  }
  if (!Array.isArray(decoded) || decoded.length !== 3 || decoded[0] !== kind || decoded[1] !== seq) {
    return { state: 'invalid', reason: 'header does not match the sealed content' };
  }
  return { state: 'valid', seq, payload: decoded[2] };
}

/** The two copies of one record kind, each in its own erase block. */
export class SealedRecordPair {
  constructor(
    private readonly flash: Flash,
    readonly blocks: readonly [number, number],
    readonly kind: number,
    private readonly key: Uint8Array,
  ) {}

  read(): [CopyState, CopyState] {
    return [this.readCopy(0), this.readCopy(1)];
  }

  readCopy(copy: 0 | 1): CopyState {
    return openCopy(this.key, this.kind, this.flash.read(this.blocks[copy], 0, this.flash.blockSize));
  }

  /** Erases one copy's block and programs the sealed record into it, magic last. */
  writeCopy(copy: 0 | 1, seq: number, payload: unknown): void {
    const bytes = sealCopy(this.key, this.kind, seq, payload, this.flash.blockSize);
    const block = this.blocks[copy];
    this.flash.erase(block);
    this.flash.program(block, RECORD_MAGIC.length, bytes.subarray(RECORD_MAGIC.length));
    this.flash.program(block, 0, bytes.subarray(0, RECORD_MAGIC.length));
    this.flash.sync();
  }

  /** Size in bytes a payload would take on flash (for the 4 KiB budget test and the bench). */
  sealedSize(payload: unknown): number {
    return (
      RECORD_HEADER_BYTES +
      cbor.encode([this.kind, 0xffffffff, payload]).length +
      nacl.secretbox.overheadLength
    );
  }
}
