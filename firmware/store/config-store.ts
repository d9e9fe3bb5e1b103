/**
 * The configuration record (VT/CT ratio, word order, Modbus link parameters): the same sealed, mirrored
 * A/B copies as the security record, in blocks 2–3, under its own key. It has no anti-rollback
 * counter: replaying an old configuration gains an attacker no access. No valid copy → defaults, and
 * boot says so: losing measurement settings is visible but never opens the device.
 */
import { DEFAULT_DEVICE_CONFIG, type DeviceConfig, validateDeviceConfig } from '../core/device-config.ts';
import type { Flash } from './flash.ts';
import { CONFIG_RECORD_BLOCKS } from './flash-layout.ts';
import { deriveKey } from './record-keys.ts';
import { SealedRecordPair } from './sealed-record.ts';

export const CONFIG_RECORD_KIND = 2;

export class ConfigStore {
  private constructor(
    private readonly pair: SealedRecordPair,
    private current: DeviceConfig,
    private seq: number,
    /** Why defaults were used at open, or null when a stored record was loaded. */
    readonly defaultedBecause: string | null,
  ) {}

  static open(flash: Flash, rootKey: Uint8Array): ConfigStore {
    const pair = new SealedRecordPair(
      flash,
      CONFIG_RECORD_BLOCKS,
      CONFIG_RECORD_KIND,
      deriveKey(rootKey, 'record/config'),
    );
    const copies = pair.read();
    const loaded = copies
      .flatMap((copy) => (copy.state === 'valid' ? [{ seq: copy.seq, config: decode(copy.payload) }] : []))
      .filter((copy): copy is { seq: number; config: DeviceConfig } => copy.config !== null)
      .sort((a, b) => b.seq - a.seq)[0];
    if (!loaded) {
      const blank = copies.every((copy) => copy.state === 'blank');
      return new ConfigStore(pair, DEFAULT_DEVICE_CONFIG, 0, blank ? null : 'no valid configuration record');
    }
    return new ConfigStore(pair, loaded.config, loaded.seq, null);
  }

  get config(): DeviceConfig {
    return this.current;
  }

  /** Validates and stores: copy A, then copy B. */
  commit(next: DeviceConfig): void {
    validateDeviceConfig(next);
    const seq = this.seq + 1;
    this.pair.writeCopy(0, seq, next);
    this.pair.writeCopy(1, seq, next);
    this.current = next;
    this.seq = seq;
  }
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
