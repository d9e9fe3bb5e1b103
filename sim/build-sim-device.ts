/**
 * The simulated device's object graph in one process, for test fixtures and the bench: the firmware's
 * own factory (firmware/boot/device-factory.ts) given the simulator's parts on a data dir laid out as
 * the device's (NOR flash image, file key provider and counter, TLS files bound to the counter) and a
 * simulated meter. No listener: each fixture adds the one it tests, as the boot adds them all.
 */
import { dataDirPaths, TLS_FILES_PREFIX } from '../firmware/boot/data-dir.ts';
import { buildDevice, type DeviceGraph, type DeviceParts } from '../firmware/boot/device-factory.ts';
import { DEFAULT_SCREEN_SIZE } from '../firmware/display/screen-renderer.ts';
import { FileKeyProvider, FileMonotonicCounter } from '../firmware/keys/file-key-provider.ts';
import type { MeterSource } from '../firmware/meter/meter-source.ts';
import { AnchoredFiles } from '../firmware/store/anchored-files.ts';
import { NorFlash } from './nor-flash.ts';
import { SimMeter } from './sim-meter.ts';

export interface SimDeviceOptions {
  /** The data dir (made when missing): `flash.img`, `keys/`, `tls/`, as the device keeps them. */
  readonly dataDir: string;
  /** Default: Date.now. */
  readonly now?: () => number;
  /** Default: a new SimMeter started at `now()`. */
  readonly meter?: MeterSource;
  /** Default: MG00000000. */
  readonly serialNumber?: string;
  /** Default: 127.0.0.1. */
  readonly host?: string;
  /** Default: the default screen size, factory reset refused. */
  readonly display?: DeviceParts['display'];
  /** Default: dropped. */
  readonly log?: (message: string) => void;
  readonly kdfIterations?: number;
}

export interface SimDevice {
  readonly graph: DeviceGraph;
  readonly flash: NorFlash;
  /** Closes the graph and the flash (a power-off); safe to call twice. */
  close(): Promise<void>;
}

/** Builds the device on `dataDir`; fails (closing the flash) when the store opens in safe mode. */
export async function buildSimDevice(options: SimDeviceOptions): Promise<SimDevice> {
  const paths = dataDirPaths(options.dataDir);
  const now = options.now ?? Date.now;
  const flash = NorFlash.open({ path: paths.flashImage, create: true });
  const built = await buildDevice({
    flash,
    keys: new FileKeyProvider(paths.keysDir),
    counter: new FileMonotonicCounter(paths.counterFile),
    now,
    log: options.log ?? (() => {}),
    meter: () => options.meter ?? new SimMeter(now()),
    tlsFiles: (store) => {
      const files = new AnchoredFiles(paths.tlsDir, TLS_FILES_PREFIX, store);
      files.verify();
      return files;
    },
    serialNumber: options.serialNumber ?? 'MG00000000',
    host: options.host ?? '127.0.0.1',
    display: options.display ?? { size: DEFAULT_SCREEN_SIZE },
    kdfIterations: options.kdfIterations,
  }).catch((error: unknown) => {
    flash.close();
    throw error;
  });
  if (built.mode === 'safe') {
    flash.close();
    throw new Error(`the simulated device booted in safe mode: ${built.reason}`);
  }
  const graph = built;
  let closed = false;
  return {
    graph,
    flash,
    async close() {
      if (closed) return;
      closed = true;
      await graph.close();
      flash.close();
    },
  };
}
