/**
 * The secure store: the security record on flash, sealed under a key derived from the device root
 * key, kept as two mirrored copies (A then B) with a sequence number and guarded by a monotonic counter
 * kept apart from the flash.
 *
 * A commit writes copy A (seq n+1), advances the counter to n+1, then writes copy B. A power cut at
 * any byte leaves either the old state (A torn, B old, counter n) or the new one (A new; B old, torn
 * or new); boot repairs the lagging copy. Because both copies normally hold the newest state, one
 * damaged copy never loses it, and the counter can be strict: a valid copy older than the counter is a
 * replayed image and is refused. With no usable copy the device enters safe mode, never defaults: only
 * a physical-presence factory reset leaves it; so does a partition holding records while the root key
 * and the counter are both gone (a deleted keys directory is never a first boot).
 *
 * The record also anchors what lies outside it (record-anchors.ts): the configuration record, the
 * newest event of each log ring (taken afresh by every commit) and the files bound to the counter, so
 * one counter covers them all. A log found behind its anchor at boot is reported and anchored again.
 */

import { createVerifier } from '../auth/password-verifier.ts';
import { DEFAULT_ADMIN_PASSWORD } from '../core/password-rules.ts';
import { DEFAULT_SECURITY_SETTINGS } from '../core/security-settings.ts';
import { createDefaultTable } from '../core/user-table.ts';
import type { KeyProvider, MonotonicCounter } from '../keys/key-provider.ts';
import { deriveKey } from '../keys/record-keys.ts';
import { LOG_MAGICS, type SecurityEvent } from './event-log.ts';
import type { Flash } from './flash.ts';
import {
  CHANGES_LOG,
  CONFIG_RECORD_BLOCKS,
  FIRST_LOG_BLOCK,
  LOG_BLOCK_COUNT,
  MIN_BLOCK_COUNT,
  REFUSALS_LOG,
  REQUIRED_BLOCK_SIZE,
  SECURITY_RECORD_BLOCKS,
} from './flash-layout.ts';
import { type Anchors, decodeAnchors, encodeAnchors } from './record-anchors.ts';
import { type CopyState, RECORD_MAGIC, SealedRecordPair } from './sealed-record.ts';
import { SecurityLog, TRUNCATED_EVENT_TYPE } from './security-log.ts';
import {
  decodeSecurityState,
  encodeSecurityState,
  SECURITY_RECORD_KIND,
  type SecurityState,
} from './security-record.ts';

export interface SecureStoreDeps {
  readonly flash: Flash;
  readonly keys: KeyProvider;
  readonly counter: MonotonicCounter;
  /** Milliseconds since the epoch; injected so tests and the simulator control time. */
  readonly now: () => number;
}

/** What `inspect` and the ready line can say about each copy, without any secret. */
export interface CopyReport {
  readonly copy: 'A' | 'B';
  readonly state: CopyState['state'] | 'rolled-back';
  readonly seq?: number;
  readonly reason?: string;
}

export type StoreOpenResult =
  | {
      readonly mode: 'normal';
      readonly store: SecureStore;
      /** For the other keys derived from it (configuration, device identity, sessions, TLS). */
      readonly rootKey: Uint8Array;
      readonly firstBoot: boolean;
      /** What boot mended: a lagging copy, the counter. */
      readonly repaired: readonly string[];
      readonly copies: readonly CopyReport[];
    }
  | { readonly mode: 'safe'; readonly reason: string; readonly copies: readonly CopyReport[] };

export interface OpenOptions {
  /** Look only: no first-boot set-up, no repair, no event. For `inspect`. */
  readonly readOnly?: boolean;
  /** KDF iterations for the factory admin verifier (default: the verifier module's default). */
  readonly kdfIterations?: number;
}

export class SecureStore {
  private constructor(
    private readonly deps: SecureStoreDeps,
    private readonly pair: SealedRecordPair,
    readonly log: SecurityLog,
    private current: SecurityState,
    private seq: number,
    private anchored: Anchors,
  ) {}

  get state(): SecurityState {
    return this.current;
  }

  /** What the committed record vouches for outside itself (record-anchors.ts). */
  get anchors(): Anchors {
    return this.anchored;
  }

  /** The sequence number of the committed state. */
  get sequence(): number {
    return this.seq;
  }

  /**
   * Stores `next` power-fail-safely, then logs `event` if given. Throws RangeError before touching
   * flash if the record would not fit its block.
   */
  commit(next: SecurityState, event?: SecurityEvent): void {
    this.write(next, this.anchored, event);
  }

  /**
   * Commits the same security state with anchors changed (a configuration record or a bound file was
   * written): one counter then covers them too. The log anchor is always taken afresh.
   */
  commitAnchors(change: Partial<Pick<Anchors, 'config' | 'files'>>, event?: SecurityEvent): void {
    this.write(this.current, { ...this.anchored, ...change }, event);
  }

  /** Logs a tamper or damage finding (result `failed`) where refusals cannot push it out. */
  alert(type: string, detail: string): void {
    this.log.alert({ time: this.deps.now(), type, interface: 'system', result: 'failed', detail });
  }

  /**
   * A, counter, B. Every commit also anchors the event log as it stands (the newest id of each ring),
   * so erasing or replaying log blocks from before the commit is found at the next boot.
   */
  private write(next: SecurityState, anchors: Anchors, event?: SecurityEvent): void {
    const withLog: Anchors = { ...anchors, log: this.log.newestIds() };
    const payload = { ...(encodeSecurityState(next) as object), ...encodeAnchors(withLog) };
    const seq = this.seq + 1;
    this.pair.writeCopy(0, seq, payload);
    this.deps.counter.advance(seq);
    this.pair.writeCopy(1, seq, payload);
    this.current = next;
    this.seq = seq;
    this.anchored = withLog;
    this.log.anchoredNow();
    if (event) this.append(event);
  }

  /**
   * Logs an event that changes no state (a login, a denied request). Refusals pass the log's limiter:
   * beyond it they are counted into a summary event instead (security-log.ts).
   */
  record(event: SecurityEvent): void {
    this.append(event);
  }

  /** Writes the refusal summaries that are due, or (`now`) all that are pending. */
  flushLog(now = false): void {
    this.log.flush(this.deps.now(), now);
  }

  /**
   * Tells `listener` about every event once it is on flash (the syslog export), summaries and loss
   * warnings included. A listener that throws is ignored: nothing outside the store may make logging fail.
   */
  observe(listener: (event: SecurityEvent) => void): void {
    this.log.observe(listener);
  }

  private append(event: SecurityEvent): void {
    this.log.append(event);
  }

  /** Bytes the record for `state` takes on flash. */
  sealedSize(state: SecurityState): number {
    const anchors = encodeAnchors({ ...this.anchored, log: this.log.newestIds() });
    return this.pair.sealedSize({ ...(encodeSecurityState(state) as object), ...anchors });
  }

  /**
   * Opens the store. First boot (no root key and no counter yet) formats the partition and stores the
   * factory table; otherwise the newest valid copy not older than the counter is loaded, or the result
   * is safe mode with the reason.
   */
  static async open(deps: SecureStoreDeps, options: OpenOptions = {}): Promise<StoreOpenResult> {
    const { flash, keys, counter } = deps;
    if (flash.blockSize !== REQUIRED_BLOCK_SIZE || flash.blockCount < MIN_BLOCK_COUNT) {
      return safe(
        `flash partition is ${flash.blockCount}×${flash.blockSize} bytes; at least ${MIN_BLOCK_COUNT}×${REQUIRED_BLOCK_SIZE} needed`,
      );
    }
    let rootKey: Uint8Array | null;
    let counterValue: number | null;
    try {
      rootKey = keys.loadRootKey();
      counterValue = counter.read();
    } catch (error) {
      return safe((error as Error).message);
    }
    if (rootKey === null) {
      if (counterValue !== null && counterValue > 0) {
        return safe('the device root key is missing; the security record cannot be read');
      }
      // Key and counter both gone (deleted keys directory) while the partition still holds sealed
      // data: formatting here would bring back the factory admin password. Only a factory reset formats.
      if (holdsRecords(flash)) {
        return safe(
          `the device root key${counterValue === null ? ' and the anti-rollback counter are' : ' is'} missing but the flash holds sealed records`,
        );
      }
      if (options.readOnly) return safe('not initialised: no root key yet (first boot pending)');
      formatPartition(flash);
      // The counter before the key: an interrupted first boot then never leaves a root key without a
      // counter, so that state can be refused below as a lost or deleted counter.
      counter.advance(0);
      counterValue = 0;
      rootKey = keys.createRootKey();
    }

    const pair = new SealedRecordPair(
      flash,
      SECURITY_RECORD_BLOCKS,
      SECURITY_RECORD_KIND,
      deriveKey(rootKey, 'record/security'),
    );
    const log = new SecurityLog(flash, deriveKey(rootKey, 'event-log'), {
      changes: CHANGES_LOG,
      refusals: REFUSALS_LOG,
    });
    const copies = pair.read().map((copy) => decodeCopy(copy));
    const reports = copies.map((copy, i) => report(copy, i, counterValue));
    const valid = copies.filter((copy): copy is DecodedCopy => copy.state === 'valid');

    // With a root key there is always a counter (see above): without one, neither a replay nor wiped
    // copies could be told from a first boot, and defaults would bring back the factory admin password.
    if (counterValue === null) return safe('the anti-rollback counter is missing', reports);

    if (valid.length === 0) {
      if (counterValue > 0)
        return safe('no valid copy of the security record (both damaged or erased)', reports);
      if (options.readOnly) return safe('not initialised: first boot did not complete', reports);
      const defaults = await factoryState(options.kdfIterations);
      const store = new SecureStore(deps, pair, log, defaults, 0, FORMATTED_ANCHORS);
      store.commit(defaults, { time: deps.now(), type: 'first-boot', interface: 'system', result: 'ok' });
      return { mode: 'normal', store, rootKey, firstBoot: true, repaired: [], copies: reports };
    }

    const newest = valid.reduce((a, b) => (b.seq > a.seq ? b : a));
    if (newest.seq < counterValue) {
      return safe(
        `rollback refused: newest record has sequence ${newest.seq}, the counter is at ${counterValue}`,
        reports,
      );
    }

    const store = new SecureStore(deps, pair, log, newest.decoded, newest.seq, newest.anchors);
    const repaired: string[] = [];
    const logProblem = log.check(newest.anchors.log);
    if (logProblem) log.markBroken(deps.now(), logProblem);
    if (!options.readOnly) {
      if (newest.seq > counterValue) {
        counter.advance(newest.seq);
        repaired.push(`counter advanced to ${newest.seq}`);
      }
      copies.forEach((copy, i) => {
        if (copy.state === 'valid' && copy.seq === newest.seq) return;
        pair.writeCopy(i as 0 | 1, newest.seq, newest.payload);
        repaired.push(`copy ${i === 0 ? 'A' : 'B'} rewritten (${describeCopy(copy)})`);
      });
      if (logProblem) {
        store.alert(TRUNCATED_EVENT_TYPE, logProblem);
        // Anchored again as it now is, so the same loss is not found at every boot (it stays in the
        // log, and `integrity` reports it until an audit reader has seen it).
        store.commitAnchors({});
        repaired.push('event log anchored again after it was found truncated');
      } else if (newest.anchors.log === null) {
        store.commitAnchors({});
        repaired.push('event log anchored (the record predates log anchors)');
      }
    }
    return { mode: 'normal', store, rootKey, firstBoot: false, repaired, copies: reports };
  }
}

/**
 * Factory reset (physical presence only: the display at boot, or the CLI as root). Destroys the root
 * key first (everything sealed becomes unreadable at once), then the counter, then erases the
 * partition; the next open is a first boot with the factory table.
 */
export function factoryReset(flash: Flash, keys: KeyProvider, counter: MonotonicCounter): void {
  keys.destroyRootKey();
  counter.reset();
  for (let block = 0; block < flash.blockCount; block++) flash.erase(block);
  flash.sync();
}

/** The factory state: admin / CBM_1234 (must change), localgui, anonymous, default settings. */
export async function factoryState(kdfIterations?: number): Promise<SecurityState> {
  const verifier = await createVerifier(
    DEFAULT_ADMIN_PASSWORD,
    kdfIterations ? { iterations: kdfIterations } : {},
  );
  return { table: createDefaultTable(verifier), settings: DEFAULT_SECURITY_SETTINGS };
}

type DecodedCopy = {
  readonly state: 'valid';
  readonly seq: number;
  readonly payload: unknown;
  readonly decoded: SecurityState;
  readonly anchors: Anchors;
};
type LoadedCopy = Exclude<CopyState, { state: 'valid' }> | DecodedCopy;

function decodeCopy(copy: CopyState): LoadedCopy {
  if (copy.state !== 'valid') return copy;
  try {
    return { ...copy, decoded: decodeSecurityState(copy.payload), anchors: decodeAnchors(copy.payload) };
  } catch (error) {
    return { state: 'invalid', reason: `authenticated but malformed: ${(error as Error).message}` };
  }
}

function describeCopy(copy: LoadedCopy): string {
  if (copy.state === 'valid') return `was sequence ${copy.seq}`;
  return copy.state === 'invalid' ? copy.reason : 'was blank';
}

/** A formatted partition: no configuration record, no bound file yet; the log anchor is taken at commit. */
const FORMATTED_ANCHORS: Anchors = { config: { seq: 0, hash: new Uint8Array(0) }, log: null, files: {} };

/**
 * Whether the partition holds anything this firmware wrote: a record copy's magic at the start of a
 * record block or a log block header. A never-used partition (erased, or raw bytes) holds neither.
 */
function holdsRecords(flash: Flash): boolean {
  const starts = (block: number, magics: readonly Uint8Array[]) => {
    const head = flash.read(block, 0, 4);
    return magics.some((magic) => magic.every((byte, i) => head[i] === byte));
  };
  const records = [...SECURITY_RECORD_BLOCKS, ...CONFIG_RECORD_BLOCKS].some((block) =>
    starts(block, [RECORD_MAGIC]),
  );
  let logs = false;
  for (let i = 0; i < LOG_BLOCK_COUNT; i++) logs ||= starts(FIRST_LOG_BLOCK + i, LOG_MAGICS);
  return records || logs;
}

function formatPartition(flash: Flash): void {
  for (const block of [...SECURITY_RECORD_BLOCKS, ...CONFIG_RECORD_BLOCKS]) flash.erase(block);
  for (let i = 0; i < LOG_BLOCK_COUNT; i++) flash.erase(FIRST_LOG_BLOCK + i);
  flash.sync();
}

function report(copy: LoadedCopy, index: number, counterValue: number | null): CopyReport {
  const name = index === 0 ? 'A' : 'B';
  if (copy.state === 'valid') {
    const rolledBack = counterValue !== null && copy.seq < counterValue;
    return { copy: name, state: rolledBack ? 'rolled-back' : 'valid', seq: copy.seq };
  }
  if (copy.state === 'invalid') return { copy: name, state: 'invalid', reason: copy.reason };
  return { copy: name, state: 'blank' };
}

function safe(reason: string, copies: readonly CopyReport[] = []): StoreOpenResult {
  return { mode: 'safe', reason, copies };
}
