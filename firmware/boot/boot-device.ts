/**
 * Boot: builds the device's object graph from its options and starts it. The one place that wires
 * flash, keys, store and (as they arrive) listeners together; modules get what they need passed in.
 */

import { NorFlash } from '../../sim/nor-flash.ts';
import { FileKeyProvider, FileMonotonicCounter } from '../keys/file-key-provider.ts';
import { type Flash, FlashImageError } from '../store/flash.ts';
import { SecureStore, type StoreOpenResult } from '../store/secure-store.ts';
import { dataDirPaths, lockDataDir } from './data-dir.ts';
import type { DeviceOptions } from './device-options.ts';

/** The JSON of the `metergate ready` line: every listener's bound port, null when off or blocked. */
export interface ReadyInfo {
  readonly mode: 'normal' | 'safe';
  readonly http: number | null;
  readonly https: number | null;
  readonly modbusTcp: number | null;
  readonly modbusTls: number | null;
  readonly safeReason?: string;
}

export interface Device {
  readonly ready: ReadyInfo;
  /** The store, in normal mode. */
  readonly store: SecureStore | null;
  /** Releases every resource; the process may then exit. */
  stop(): Promise<void>;
}

export interface BootHooks {
  /** Operator-facing messages (stderr in the real process). */
  readonly log: (message: string) => void;
  readonly now: () => number;
}

export async function bootDevice(options: DeviceOptions, hooks: BootHooks): Promise<Device> {
  const paths = dataDirPaths(options.dataDir);
  const unlock = lockDataDir(paths);
  const cleanups: (() => void)[] = [unlock];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) cleanup();
  };

  let opened: StoreOpenResult;
  try {
    let flash: Flash;
    try {
      flash = NorFlash.open({
        path: paths.flashImage,
        create: true,
        powerCutAfterBytes: options.simPowercutAfterBytes ?? undefined,
        onPowerCut: 'kill',
      });
    } catch (error) {
      if (!(error instanceof FlashImageError)) throw error;
      opened = { mode: 'safe', reason: error.message, copies: [] };
      return finish(opened, stop, hooks);
    }
    cleanups.push(() => flash.close());
    opened = await SecureStore.open({
      flash,
      keys: new FileKeyProvider(paths.keysDir),
      counter: new FileMonotonicCounter(paths.keysDir),
      now: hooks.now,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return finish(opened, stop, hooks);
}

function finish(opened: StoreOpenResult, stop: () => Promise<void>, hooks: BootHooks): Device {
  const listeners = { http: null, https: null, modbusTcp: null, modbusTls: null };
  if (opened.mode === 'safe') {
    hooks.log(
      `SAFE MODE: ${opened.reason}. The device serves nothing until a factory reset at the device ` +
        '(display: hold Back+OK during boot; or `metergate factory-reset --yes` as root).',
    );
    return { ready: { mode: 'safe', ...listeners, safeReason: opened.reason }, store: null, stop };
  }
  const { store } = opened;
  if (opened.firstBoot) hooks.log('first boot: root key created, flash formatted, factory user table stored');
  for (const repair of opened.repaired) hooks.log(`flash repaired: ${repair}`);
  store.record({ time: hooks.now(), type: 'boot', interface: 'system', result: 'ok' });
  return { ready: { mode: 'normal', ...listeners }, store, stop };
}
