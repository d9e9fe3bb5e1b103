/**
 * The configuration record (VT/CT ratio, word order, Modbus link parameters): the same sealed, mirrored
 * A/B copies as the security record, in blocks 2–3, under its own key, and rollback-protected by the
 * same counter: the security record anchors the configuration's sequence number and the hash of its
 * payload (record-anchors.ts), so every configuration change is also a security commit.
 *
 * A change writes copy A (seq n+1), commits the anchor (security record A, counter, B), then writes
 * copy B. Boot serves the copy the anchor names: a power cut before the anchor leaves copy B at n,
 * after it copy A at n+1; the other copy is repaired. No copy matching the anchor (both damaged or
 * erased, or older copies replayed) is a security event and a visible degraded state (`health`): the
 * meter then runs on the default ratios until a configuration is stored again, never silently.
 */
import { DEFAULT_DEVICE_CONFIG, type DeviceConfig, validateDeviceConfig } from '../core/device-config.ts';
import { deriveKey } from '../keys/record-keys.ts';
import type { Flash } from './flash.ts';
import { CONFIG_RECORD_BLOCKS } from './flash-layout.ts';
import { configHash, sameBytes } from './record-anchors.ts';
import { type CopyState, SealedRecordPair } from './sealed-record.ts';
import type { SecureStore } from './secure-store.ts';

export const CONFIG_RECORD_KIND = 2;

/** The event types of a configuration that is not the committed one. */
export const CONFIG_ROLLBACK_EVENT = 'config.rollback';
export const CONFIG_DAMAGED_EVENT = 'config.damaged';

export interface ConfigHealth {
  /**
   * `stored`: the committed record serves; `default`: none was ever stored; `damaged`: no copy is
   * readable (damaged or erased); `rolled-back`: only copies other than the committed one (older, or
   * another of the same sequence) are there; `unanchored`: a record from before anchors, not yet
   * anchored (read-only inspection of an old image).
   */
  readonly state: 'stored' | 'default' | 'damaged' | 'rolled-back' | 'unanchored';
  readonly detail: string | null;
}

export interface ConfigOpenOptions {
  /** Look only: no repair, no event, no anchoring. For `inspect`. */
  readonly readOnly?: boolean;
}

interface ReadCopy {
  readonly copy: CopyState;
  /** Set when the copy is valid and its payload a configuration. */
  readonly config: DeviceConfig | null;
  readonly hash: Uint8Array | null;
}

export class ConfigStore {
  private constructor(
    private readonly pair: SealedRecordPair,
    private readonly store: SecureStore,
    private current: DeviceConfig,
    /** Above every sequence number seen, so a new record never reuses one. */
    private highestSeq: number,
    private status: ConfigHealth,
  ) {}

  static open(
    flash: Flash,
    rootKey: Uint8Array,
    store: SecureStore,
    options: ConfigOpenOptions = {},
  ): ConfigStore {
    const pair = new SealedRecordPair(
      flash,
      CONFIG_RECORD_BLOCKS,
      CONFIG_RECORD_KIND,
      deriveKey(rootKey, 'record/config'),
    );
    const copies: ReadCopy[] = pair.read().map((copy) => {
      if (copy.state !== 'valid') return { copy, config: null, hash: null };
      const config = decode(copy.payload);
      return { copy, config, hash: config ? configHash(copy.payload) : null };
    });
    const seqs = copies.map(({ copy }) => (copy.state === 'valid' ? copy.seq : 0));
    const anchor = store.anchors.config;
    const highest = Math.max(anchor?.seq ?? 0, ...seqs);
    const readOnly = options.readOnly ?? false;

    if (anchor === null) {
      // A record from before anchors: the newest valid copy, as then; anchored now.
      const newest = copies
        .filter((c) => c.config !== null)
        .sort((a, b) => (b.copy as { seq: number }).seq - (a.copy as { seq: number }).seq)[0];
      const blank = copies.every(({ copy }) => copy.state === 'blank');
      if (!newest && !blank) {
        return new ConfigStore(pair, store, DEFAULT_DEVICE_CONFIG, highest, damaged(copies));
      }
      const seq = newest ? (newest.copy as { seq: number }).seq : 0;
      if (readOnly) {
        return new ConfigStore(pair, store, newest?.config ?? DEFAULT_DEVICE_CONFIG, highest, {
          state: 'unanchored',
          detail: 'the security record predates configuration anchors',
        });
      }
      store.commitAnchors({ config: { seq, hash: newest?.hash ?? new Uint8Array(0) } });
      const opened = new ConfigStore(
        pair,
        store,
        newest?.config ?? DEFAULT_DEVICE_CONFIG,
        highest,
        newest ? STORED : DEFAULT,
      );
      if (newest) opened.repair(copies, seq, newest.copy);
      return opened;
    }

    if (anchor.seq === 0) {
      // Nothing committed yet: a copy here is an uncommitted write (power cut before its anchor).
      const opened = new ConfigStore(pair, store, DEFAULT_DEVICE_CONFIG, highest, DEFAULT);
      if (!readOnly) {
        copies.forEach(({ copy }, i) => {
          if (copy.state !== 'blank') flash.erase(CONFIG_RECORD_BLOCKS[i as 0 | 1]);
        });
        flash.sync();
      }
      return opened;
    }

    const match = copies.find(
      (c) =>
        c.copy.state === 'valid' && c.copy.seq === anchor.seq && sameBytes(c.hash ?? undefined, anchor.hash),
    );
    if (match?.config) {
      const opened = new ConfigStore(pair, store, match.config, highest, STORED);
      if (!readOnly) opened.repair(copies, anchor.seq, match.copy);
      return opened;
    }
    const health = copies.some((c) => c.config !== null)
      ? {
          state: 'rolled-back' as const,
          detail:
            `no copy is the committed configuration (sequence ${anchor.seq}); found ` +
            copies.map(({ copy }) => describe(copy)).join(' and '),
        }
      : damaged(copies);
    if (!readOnly) {
      store.alert(
        health.state === 'rolled-back' ? CONFIG_ROLLBACK_EVENT : CONFIG_DAMAGED_EVENT,
        `${health.detail}; running on the default configuration until one is stored`,
      );
    }
    return new ConfigStore(pair, store, DEFAULT_DEVICE_CONFIG, highest, health);
  }

  get config(): DeviceConfig {
    return this.current;
  }

  get health(): ConfigHealth {
    return this.status;
  }

  /** Validates and stores: copy A, the anchor (a security commit), copy B. */
  commit(next: DeviceConfig): void {
    validateDeviceConfig(next);
    const seq = this.highestSeq + 1;
    this.pair.writeCopy(0, seq, next);
    this.store.commitAnchors({ config: { seq, hash: configHash(next) } });
    this.pair.writeCopy(1, seq, next);
    this.current = next;
    this.highestSeq = seq;
    this.status = STORED;
  }

  /** Rewrites every copy that is not the served one (torn, older, uncommitted). */
  private repair(copies: readonly ReadCopy[], seq: number, served: CopyState): void {
    if (served.state !== 'valid') return;
    copies.forEach(({ copy }, i) => {
      if (copy === served) return;
      if (copy.state === 'valid' && copy.seq === seq && sameCopy(copy, served)) return;
      this.pair.writeCopy(i as 0 | 1, seq, served.payload);
    });
  }
}

const STORED: ConfigHealth = { state: 'stored', detail: null };
const DEFAULT: ConfigHealth = { state: 'default', detail: null };

function damaged(copies: readonly ReadCopy[]): ConfigHealth {
  return {
    state: 'damaged',
    detail: `no readable copy of the configuration record: ${copies.map(({ copy }) => describe(copy)).join(' and ')}`,
  };
}

function describe(copy: CopyState): string {
  if (copy.state === 'valid') return `a copy of sequence ${copy.seq}`;
  if (copy.state === 'blank') return 'an erased copy';
  return `an invalid copy (${copy.reason})`;
}

function sameCopy(a: CopyState, b: CopyState): boolean {
  return (
    a.state === 'valid' && b.state === 'valid' && sameBytes(configHash(a.payload), configHash(b.payload))
  );
}

function decode(payload: unknown): DeviceConfig | null {
  if (typeof payload !== 'object' || payload === null) return null;
  const merged = { ...DEFAULT_DEVICE_CONFIG, ...(payload as Partial<DeviceConfig>) };
  try {
    return validateDeviceConfig({ ...merged, rtu: { ...DEFAULT_DEVICE_CONFIG.rtu, ...merged.rtu } });
  } catch {
    return null;
  }
}
