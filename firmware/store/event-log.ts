/**
 * One ring of the security event log: erase blocks holding sealed entries. Appending never erases
 * anything but the oldest block, so a full ring overwrites the oldest events and never fails. The
 * device keeps two such rings (changes and refusals, see security-log.ts) that share one id sequence.
 *
 * Block: 16-byte header (magic "MGL2", block sequence number) then entries. Entry: length (u16,
 * programmed last: the entry's commit point), a 24-byte nonce, and a secretbox of the CBOR plaintext
 * `[ring, blockSeq, index, id, event, note]`, so an entry cannot be moved to another place or ring
 * without failing to verify. Blocks of format 1 ("MGL1", plaintext `[blockSeq, index, event]`, id
 * `blockSeq × 256 + index`) are still read, so a log written before the rings split stays readable.
 */
import { randomBytes } from 'node:crypto';
import nacl from 'tweetnacl';
import type { Flash } from './flash.ts';
import { cbor } from './sealed-record.ts';

const LOG_MAGIC = Uint8Array.of(0x4d, 0x47, 0x4c, 0x32); // "MGL2"
/** Format 1 blocks: read, never written. */
const LEGACY_MAGIC = Uint8Array.of(0x4d, 0x47, 0x4c, 0x31); // "MGL1"
/** Every block magic of the log, present and past: a block starting with one was written by a device. */
export const LOG_MAGICS: readonly Uint8Array[] = [LOG_MAGIC, LEGACY_MAGIC];
const BLOCK_HEADER_BYTES = 16;
const ENTRY_PREFIX_BYTES = 2 + nacl.secretbox.nonceLength;
const ERASED_LENGTH = 0xffff;
/** Entries per block stay below this, so `blockSeq * 256 + index` numbers every event of a lone ring. */
const MAX_ENTRIES_PER_BLOCK = 256;

export type EventResult = 'ok' | 'denied' | 'failed';

/** One security event (DESIGN §4): who, through what, from where, what, how it ended, when. */
export interface SecurityEvent {
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** What happened, e.g. `login`, `user.add`, `password.change`, `factory-reset`, `boot`. */
  readonly type: string;
  /** `web`, `rest`, `modbus-tcp`, `modbus-rtu`, `display`, `cli`, `system`. */
  readonly interface: string;
  readonly result: EventResult;
  /** The acting slot, when known. */
  readonly slot?: number;
  /** The IEC 62351-8 role acted as, for a Modbus/TCP Security certificate (no slot then). */
  readonly role?: string;
  /** Source address (IP, serial port), when there is one. */
  readonly source?: string;
  /** Short free text: the target slot, the error code. Never a secret. */
  readonly detail?: string;
}

export interface StoredEvent extends SecurityEvent {
  /** Increases with every event; pages of the audit log are cut by it. */
  readonly id: number;
}

/** An event as read back, with the note that was stored beside it (see `append`). */
export interface LoggedEntry {
  readonly event: StoredEvent;
  readonly note: unknown;
}

export interface EventLogOptions {
  /**
   * Gives the id of the next entry. Default: `blockSeq × 256 + index`, which grows with time within
   * one ring; rings that share an id sequence pass a shared counter.
   */
  readonly nextId?: (blockSeq: number, index: number) => number;
  /** Bound into every entry, so entries of one ring do not verify in another. Default 0. */
  readonly ring?: number;
  /** Told the ids of the entries in a block about to be erased to make room (oldest first). */
  readonly onOverwrite?: (ids: readonly number[]) => void;
}

interface BlockState {
  readonly block: number;
  readonly seq: number;
  /** Offset where the next entry goes, or null when the block takes no more. */
  readonly appendAt: number | null;
  readonly entries: number;
}

interface ValidBlock {
  readonly block: number;
  readonly seq: number;
  readonly legacy: boolean;
}

export class EventLog {
  private active: BlockState | null = null;
  /** Entries that failed to verify during the last scan (damage, tamper, torn write). */
  damagedEntries = 0;
  private readonly nextId: (blockSeq: number, index: number) => number;
  private readonly ring: number;
  private readonly onOverwrite: ((ids: readonly number[]) => void) | undefined;

  constructor(
    private readonly flash: Flash,
    private readonly firstBlock: number,
    private readonly blockCount: number,
    private readonly key: Uint8Array,
    options: EventLogOptions = {},
  ) {
    this.nextId = options.nextId ?? ((seq, index) => seq * MAX_ENTRIES_PER_BLOCK + index);
    this.ring = options.ring ?? 0;
    this.onOverwrite = options.onOverwrite;
    this.active = this.newestBlock();
  }

  /**
   * Appends one event and returns its id. `note` gives a value (any CBOR) stored sealed beside the
   * event, asked for after any erase the append needed (see `readEntries`). Rolls over to (and erases)
   * the oldest block when the current one is full.
   */
  append(event: SecurityEvent, note: () => unknown = () => null): number {
    let active = this.active;
    if (active === null || active.appendAt === null || active.entries >= MAX_ENTRIES_PER_BLOCK - 1) {
      active = this.activateNext();
    }
    const plaintextFor = (state: BlockState) =>
      cbor.encode([
        this.ring,
        state.seq,
        state.entries,
        this.nextId(state.seq, state.entries),
        stripUndefined(event),
        note(),
      ]);
    let sealed = this.seal(plaintextFor(active));
    if (active.appendAt === null || active.appendAt + sealed.length > this.flash.blockSize) {
      active = this.activateNext();
      sealed = this.seal(plaintextFor(active));
    }
    const at = active.appendAt as number;
    this.flash.program(active.block, at + 2, sealed.subarray(2));
    this.flash.program(active.block, at, sealed.subarray(0, 2));
    // Flushed to stable storage off the event loop, not before the answer: an event changes no state,
    // and what a power cut in the next milliseconds could lose with it is lost anyway (a login's
    // session lives in RAM); any commit that follows syncs the whole partition first (issue 18).
    this.flash.syncSoon();
    this.active = { ...active, appendAt: at + sealed.length, entries: active.entries + 1 };
    return this.nextId(active.seq, active.entries);
  }

  /** Every readable event, oldest first. */
  readAll(): StoredEvent[] {
    return this.readEntries().map((entry) => entry.event);
  }

  /** Every readable event with its note, oldest first. */
  readEntries(): LoggedEntry[] {
    this.damagedEntries = 0;
    const blocks = this.validBlocks().sort((a, b) => a.seq - b.seq);
    return blocks.flatMap((block) => this.scan(block).entries);
  }

  /**
   * Why the ring's blocks are not one unbroken run of block sequence numbers, or null. Appending only
   * ever adds the block after the newest (a torn header leaves no block), so a gap or a repeat means a
   * block was erased, damaged, or replaced by an older copy. Format 1 blocks are not counted.
   */
  sequenceGap(): string | null {
    const seqs = this.validBlocks()
      .filter((block) => !block.legacy)
      .map((block) => block.seq)
      .sort((a, b) => a - b);
    for (let i = 1; i < seqs.length; i++) {
      const [previous, seq] = [seqs[i - 1] as number, seqs[i] as number];
      if (seq === previous) return `two blocks with sequence ${seq}`;
      if (seq !== previous + 1) return `blocks ${previous + 1}–${seq - 1} of the ring are missing`;
    }
    return null;
  }

  /** Erases the whole ring (factory reset). */
  eraseAll(): void {
    for (let i = 0; i < this.blockCount; i++) this.flash.erase(this.firstBlock + i);
    this.active = null;
  }

  private seal(plaintext: Uint8Array): Uint8Array {
    const nonce = new Uint8Array(randomBytes(nacl.secretbox.nonceLength));
    const box = nacl.secretbox(plaintext, nonce, this.key);
    const maxBox = this.flash.blockSize - BLOCK_HEADER_BYTES - ENTRY_PREFIX_BYTES;
    if (box.length > maxBox) throw new RangeError(`security event of ${box.length} bytes is too large`);
    const entry = new Uint8Array(ENTRY_PREFIX_BYTES + box.length);
    new DataView(entry.buffer).setUint16(0, box.length);
    entry.set(nonce, 2);
    entry.set(box, ENTRY_PREFIX_BYTES);
    return entry;
  }

  private activateNext(): BlockState {
    const blocks = this.validBlocks();
    const newest = blocks.reduce<ValidBlock | null>((a, b) => (a && a.seq > b.seq ? a : b), null);
    const index = newest === null ? 0 : (newest.block - this.firstBlock + 1) % this.blockCount;
    const block = this.firstBlock + index;
    const seq = (newest?.seq ?? 0) + 1;
    const victim = blocks.find((b) => b.block === block);
    if (victim && this.onOverwrite) {
      const damaged = this.damagedEntries;
      const ids = this.scan(victim).entries.map((entry) => entry.event.id);
      this.damagedEntries = damaged;
      if (ids.length > 0) this.onOverwrite(ids);
    }
    this.flash.erase(block);
    const header = new Uint8Array(BLOCK_HEADER_BYTES).fill(0xff);
    header.set(LOG_MAGIC, 0);
    new DataView(header.buffer).setUint32(4, seq);
    // Magic last: a header torn before it is whole leaves no block, never one whose sequence number
    // is half programmed (a prefix of the bytes with the rest 0xFF: a huge number that would throw
    // every later event id forward).
    this.flash.program(block, LOG_MAGIC.length, header.subarray(LOG_MAGIC.length));
    this.flash.program(block, 0, header.subarray(0, LOG_MAGIC.length));
    this.active = { block, seq, appendAt: BLOCK_HEADER_BYTES, entries: 0 };
    return this.active;
  }

  private newestBlock(): BlockState | null {
    const newest = this.validBlocks().reduce<ValidBlock | null>((a, b) => (a && a.seq > b.seq ? a : b), null);
    if (newest === null) return null;
    const { appendAt, entries } = this.scan(newest);
    // Never append to a format 1 block: its entries are numbered by position, these by the id source.
    return {
      block: newest.block,
      seq: newest.seq,
      appendAt: newest.legacy ? null : appendAt,
      entries: entries.length,
    };
  }

  private validBlocks(): ValidBlock[] {
    const blocks: ValidBlock[] = [];
    for (let i = 0; i < this.blockCount; i++) {
      const block = this.firstBlock + i;
      const header = this.flash.read(block, 0, BLOCK_HEADER_BYTES);
      const legacy = LEGACY_MAGIC.every((byte, j) => header[j] === byte);
      if (!legacy && !LOG_MAGIC.every((byte, j) => header[j] === byte)) continue;
      const seq = new DataView(header.buffer, header.byteOffset).getUint32(4);
      if (seq !== 0xffffffff) blocks.push({ block, seq, legacy });
    }
    return blocks;
  }

  /** Reads one block's entries; stops at the first unreadable one, after which the block takes no more. */
  private scan(valid: ValidBlock): { entries: LoggedEntry[]; appendAt: number | null } {
    const { block, seq } = valid;
    const data = this.flash.read(block, 0, this.flash.blockSize);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const entries: LoggedEntry[] = [];
    let at = BLOCK_HEADER_BYTES;
    while (at + ENTRY_PREFIX_BYTES <= data.length) {
      const length = view.getUint16(at);
      if (length === ERASED_LENGTH) {
        const clean = data.subarray(at).every((byte) => byte === 0xff);
        if (!clean) this.damagedEntries++;
        return { entries, appendAt: clean ? at : null };
      }
      const end = at + ENTRY_PREFIX_BYTES + length;
      const box =
        length >= nacl.secretbox.overheadLength && end <= data.length
          ? data.subarray(at + ENTRY_PREFIX_BYTES, end)
          : null;
      const plaintext =
        box && nacl.secretbox.open(box, data.subarray(at + 2, at + ENTRY_PREFIX_BYTES), this.key);
      const entry = plaintext
        ? valid.legacy
          ? decodeLegacyEntry(plaintext, seq, entries.length)
          : decodeEntry(plaintext, this.ring, seq, entries.length)
        : null;
      if (!entry) {
        this.damagedEntries++;
        return { entries, appendAt: null };
      }
      entries.push(entry);
      at = end;
    }
    return { entries, appendAt: null };
  }
}

function decodeEntry(plaintext: Uint8Array, ring: number, seq: number, index: number): LoggedEntry | null {
  try {
    const decoded = cbor.decode(plaintext) as unknown;
    if (
      !Array.isArray(decoded) ||
      decoded.length !== 6 ||
      decoded[0] !== ring ||
      decoded[1] !== seq ||
      decoded[2] !== index ||
      !Number.isSafeInteger(decoded[3])
    ) {
      return null;
    }
    const event = checkedEvent(decoded[4]);
    return event ? { event: { ...event, id: decoded[3] as number }, note: decoded[5] } : null;
  } catch {
    return null;
  }
}

function decodeLegacyEntry(plaintext: Uint8Array, seq: number, index: number): LoggedEntry | null {
  try {
    const decoded = cbor.decode(plaintext) as unknown;
    if (!Array.isArray(decoded) || decoded[0] !== seq || decoded[1] !== index) return null;
    const event = checkedEvent(decoded[2]);
    return event ? { event: { ...event, id: seq * MAX_ENTRIES_PER_BLOCK + index }, note: null } : null;
  } catch {
    return null;
  }
}

function checkedEvent(value: unknown): SecurityEvent | null {
  const event = value as SecurityEvent;
  if (
    typeof event !== 'object' ||
    event === null ||
    typeof event.type !== 'string' ||
    typeof event.time !== 'number'
  ) {
    return null;
  }
  return event;
}

function stripUndefined(event: SecurityEvent): Record<string, unknown> {
  return Object.fromEntries(Object.entries(event).filter(([, value]) => value !== undefined));
}
