/**
 * Boot: builds the device from its options and starts it. Opens what the device keeps in the data dir
 * (flash image, key files, TLS files, serial number), hands it as parts to the one factory that builds
 * the object graph (device-factory.ts), then adds what the graph does not hold: the HTTP/HTTPS and
 * Modbus listeners, syslog export, the periodic log flush and the measurement history's sampling. The display driver is the process's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { DisplayScreen } from '../display/display-app.ts';
import { SafeModeDisplay } from '../display/safe-mode-display.ts';
import type { RouteDeclaration } from '../http/api-builder.ts';
import { startHttpListeners } from '../http/http-listeners.ts';
import { loadWebSite } from '../http/web-site.ts';
import { FileKeyProvider, FileMonotonicCounter } from '../keys/file-key-provider.ts';
import { OtpKeyProvider } from '../keys/otp-key-provider.ts';
import { loadProfile, ProfileError } from '../meter/meter-profile.ts';
import type { MeterSource } from '../meter/meter-source.ts';
import { describeMeterSpec, type MeterSpec, parseMeterSpec } from '../meter/meter-spec.ts';
import { type CommEvent, describeLine, ModbusSerialLink, UpstreamMeter } from '../meter/upstream-meter.ts';
import { ModbusController } from '../modbus/modbus-controller.ts';
import { FirmwareService } from '../services/firmware-service.ts';
import { SyslogExporter } from '../services/syslog-exporter.ts';
import { AnchoredFiles } from '../store/anchored-files.ts';
import { FileFlash } from '../store/file-flash.ts';
import { type Flash, FlashImageError } from '../store/flash.ts';
import type { SecureStore, StoreOpenResult } from '../store/secure-store.ts';
import { hostTarget } from '../update/bundle-format.ts';
import { FIRMWARE_VERSION } from '../version.ts';
import { dataDirPaths, deviceSerial, lockDataDir, TLS_FILES_PREFIX } from './data-dir.ts';
import { buildDevice, type DeviceGraph } from './device-factory.ts';
import { type DeviceOptions, NO_METER_MESSAGE } from './device-options.ts';

/** The JSON of the `metergate ready` line: every listener's bound port, null when off or blocked. */
export interface ReadyInfo {
  readonly mode: 'normal' | 'safe';
  readonly http: number | null;
  readonly https: number | null;
  readonly modbusTcp: number | null;
  readonly modbusTls: number | null;
  readonly safeReason?: string;
  /**
   * Normal mode: what is not as the committed state says (a damaged or rolled-back configuration, a
   * refused file, a truncated event log), one sentence each; empty when all is well.
   */
  readonly degraded?: readonly string[];
}

export interface Device {
  readonly ready: ReadyInfo;
  /** The store, in normal mode. */
  readonly store: SecureStore | null;
  /** What the local display shows (the driver that draws it is the process's). */
  readonly display: DisplayScreen;
  /** Releases every resource; the process may then exit. */
  stop(): Promise<void>;
  /** The REST routes as declared (with their permission) and as registered in the router, for tests. */
  readonly routes?: {
    readonly declared: readonly RouteDeclaration[];
    readonly registered: readonly string[];
  };
}

/**
 * The hardware the firmware does not carry itself: the simulator (sim/sim-adapters.ts) brings a
 * simulated meter and a flash that can lose power. The firmware build has neither.
 */
export interface DeviceAdapters {
  /**
   * Opens the flash partition image at `path` (made blank when missing). Default: the file-backed
   * flash of firmware/store/file-flash.ts. Throws FlashImageError for an image that cannot be used.
   */
  readonly openFlash?: (path: string, options: DeviceOptions) => Flash;
  /** The simulated meter for `--meter sim`. Without it the device refuses `--meter sim`. */
  readonly simMeter?: (now: number) => MeterSource;
}

/** What `--meter sim` answers in a build without the simulator (dist/device.mjs, the board's firmware). */
export const NO_SIM_MESSAGE =
  '--meter sim (--sim) is the simulator, which this firmware build does not contain: run the simulated ' +
  "device with `npm start` or `node dist/sim-device.mjs`, or choose the board's meter with --meter " +
  'modbus-rtu:PATH?… or --meter modbus-tcp://HOST:PORT?…';

/** What `--sim-powercut-after-bytes` answers in a build without the simulator. */
export const NO_POWERCUT_MESSAGE =
  '--sim-powercut-after-bytes is a simulator option, which this firmware build does not contain: run ' +
  'the simulated device (`node dist/sim-device.mjs`)';

export interface BootHooks extends DeviceAdapters {
  /** Operator-facing messages (stderr in the real process). */
  readonly log: (message: string) => void;
  readonly now: () => number;
  /**
   * The physical-presence factory reset the display offers after boot: the process stops this device,
   * erases the data dir and boots again. Without it the display refuses the reset.
   */
  readonly factoryReset?: () => Promise<void>;
  /** The addresses the Info screen shows (the board's interfaces). Default: the listen address. */
  readonly addresses?: () => readonly string[];
  /** Ends the process so that the launcher installs an accepted update (exit 75). Absent: no restart. */
  readonly restart?: () => void;
}

function factoryResetHook(hooks: BootHooks): () => Promise<void> {
  return (
    hooks.factoryReset ?? (() => Promise.reject(new Error('factory reset is not available in this process')))
  );
}

export async function bootDevice(options: DeviceOptions, hooks: BootHooks): Promise<Device> {
  const bootedAt = hooks.now();
  const refusal = bootRefusal(options, hooks);
  if (refusal !== null) throw new MeterSourceError(refusal);
  const paths = dataDirPaths(options.dataDir);
  const unlock = lockDataDir(paths);
  const cleanups: (() => void | Promise<void>)[] = [unlock];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };

  try {
    let flash: Flash;
    try {
      flash = hooks.openFlash
        ? hooks.openFlash(paths.flashImage, options)
        : FileFlash.open({ path: paths.flashImage, create: true });
    } catch (error) {
      if (!(error instanceof FlashImageError)) throw error;
      return safeMode({ mode: 'safe', reason: error.message, copies: [] }, stop, hooks, options, bootedAt);
    }
    cleanups.push(() => flash.close());
    const serialNumber = deviceSerial(paths);
    const website = loadWebSite(options.webDir);
    if (!website) hooks.log(`no built website in ${options.webDir} (npm run build): serving the API only`);
    const built = await buildDevice({
      firmware: new FirmwareService({
        firmwareDir: options.firmwareDir ?? null,
        spoolDir: options.updateSpool ?? join(options.dataDir, 'update'),
        target: hostTarget(),
        builtVersion: FIRMWARE_VERSION,
      }),
      ...(hooks.restart ? { restart: hooks.restart } : {}),
      flash,
      keys:
        options.keyProvider === 'otp'
          ? new OtpKeyProvider({ keysDir: paths.keysDir, log: hooks.log })
          : new FileKeyProvider(paths.keysDir),
      counter: new FileMonotonicCounter(options.counterFile ?? paths.counterFile),
      now: hooks.now,
      log: hooks.log,
      meter: ({ storedSource, record }) =>
        openMeterSource(chooseMeterSpec(options, storedSource, hooks), hooks, record),
      tlsFiles: (store) => {
        const files = new AnchoredFiles(paths.tlsDir, TLS_FILES_PREFIX, store);
        files.verify();
        return files;
      },
      observeLog: (store) => {
        const syslog = new SyslogExporter({
          settings: () => store.state.settings.syslog,
          hostname: serialNumber,
          log: hooks.log,
        });
        cleanups.push(() => syslog.close());
        return (event) => syslog.send(event);
      },
      serialNumber,
      host: options.host,
      website,
      display: {
        size: options.displaySize,
        bootedAt,
        factoryReset: hooks.factoryReset,
        addresses: hooks.addresses,
      },
    });
    if (built.mode === 'safe') return safeMode(built, stop, hooks, options, bootedAt);
    cleanups.push(() => built.close());
    return await startListeners(options, built, cleanups, stop, hooks);
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What the boot adds to the graph: the listeners, the periodic log flush, and the log lines. */
async function startListeners(
  options: DeviceOptions,
  graph: DeviceGraph,
  cleanups: (() => void | Promise<void>)[],
  stop: () => Promise<void>,
  hooks: BootHooks,
): Promise<Device> {
  const { store, security, metering, tls, app, declarations } = graph;
  // Refusal summaries are written when their window ends, even if no further event comes (and at stop).
  const logFlush = setInterval(() => store.flushLog(), 60_000);
  logFlush.unref();
  cleanups.push(() => clearInterval(logFlush));
  cleanups.push(sampleEverySecond(() => metering.recordHistory(), hooks.now));

  const listeners = await startHttpListeners(app.fetch, {
    host: options.host,
    httpPort: options.httpPort,
    httpOpen: security.state.settings.http !== 'off',
    httpsPort: options.httpsPort,
    credentials: () => tls.current(),
    allowed: graph.allowed,
  });
  cleanups.push(() => listeners.close());
  graph.ports.announce({ http: listeners.http, https: listeners.https });
  const applyHttpMode = async () => {
    const open = security.state.settings.http !== 'off';
    if (open === (listeners.http !== null) || options.httpPort === null) return;
    try {
      await listeners.setHttpOpen(open);
      graph.ports.announce({ http: listeners.http });
      hooks.log(
        open
          ? `plain HTTP opened on port ${listeners.http}`
          : 'plain HTTP closed (security setting http: off)',
      );
    } catch (error) {
      hooks.log(`plain HTTP could not be opened again: ${(error as Error).message}`);
    }
  };

  const controller = new ModbusController({
    host: options.host,
    tcpPort: options.modbusPort,
    tlsPort: options.modbusTlsPort,
    rtuPath: options.rtu,
    security,
    metering,
    handlerDeps: graph.modbus.deps,
    allowed: graph.allowed,
    tlsCredentials: () => tls.current(),
    modbusCa: () => tls.modbusCa(),
    modbusCrl: () => tls.modbusCrl(),
    log: hooks.log,
    announcePorts: (ports) => graph.ports.announce(ports),
  });
  cleanups.push(() => controller.close());
  await controller.apply();
  security.changed.subscribe(async () => {
    listeners.enforceWhitelist();
    controller.enforceWhitelist();
    controller.enforceRevocation();
    // Awaited by the change: when the REST answer says Modbus is on (or HTTP off), it is so.
    await Promise.all([controller.apply(), applyHttpMode()]);
  });
  metering.configChanged.subscribe(() => void controller.apply());
  tls.changed.subscribe((change) => {
    if (change === 'certificate') listeners.reloadTls();
    // A new certificate, client CA or CRL: open Modbus/TLS connections end and shake hands again.
    void controller.restartTls();
  });

  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  if (listeners.http !== null) hooks.log(`website and REST: http://${host}:${listeners.http}/`);
  if (listeners.https !== null) {
    hooks.log(
      `website and REST: https://${host}:${listeners.https}/ (certificate ${tls.info().fingerprint256})`,
    );
  }
  return {
    ready: {
      mode: 'normal',
      http: listeners.http,
      https: listeners.https,
      ...controller.ports(),
      degraded: graph.degraded(),
    },
    store,
    display: graph.display,
    stop,
    routes: {
      declared: declarations,
      registered: app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`),
    },
  };
}

/**
 * Calls `sample` once a second, in the middle of each second: the history keys samples by their
 * second, and a timer that fired near the boundary would land twice in one second and skip the next.
 * A second the event loop misses stays a gap in the history. Returns the stop.
 */
function sampleEverySecond(sample: () => void, now: () => number): () => void {
  let timer: NodeJS.Timeout | undefined;
  const next = () => {
    timer = setTimeout(
      () => {
        sample();
        next();
      },
      1500 - (now() % 1000),
    );
    timer.unref();
  };
  // 1500 - (now % 1000) is the middle of the next second, at least half a second away.
  next();
  return () => clearTimeout(timer);
}

/**
 * Why these options and adapters cannot boot, before anything is written (no lock file, no format),
 * or null. Without a meter source on the command line only a provisioned flash can name one: a data
 * dir without a flash image, or with an erased one (after a factory reset), is refused.
 */
export function bootRefusal(options: DeviceOptions, adapters: DeviceAdapters): string | null {
  const flag = flagMeterSpec(options);
  if (flag?.kind === 'sim' && !adapters.simMeter) return NO_SIM_MESSAGE;
  if (options.simPowercutAfterBytes !== null && !adapters.openFlash) return NO_POWERCUT_MESSAGE;
  if (flag === null && !flashHoldsData(dataDirPaths(options.dataDir).flashImage)) return NO_METER_MESSAGE;
  return null;
}

/** The flash image exists and is not blank (all 0xFF): it may hold a stored configuration. Reads only. */
function flashHoldsData(path: string): boolean {
  return existsSync(path) && readFileSync(path).some((byte) => byte !== 0xff);
}

/** A device that cannot know its meter source (or lacks the adapter it names) does not start (exit 2). */
export class MeterSourceError extends Error {
  override readonly name = 'MeterSourceError';
}

/** The meter source the options chose; in-process fixtures that set only `sim` get the simulator. */
function flagMeterSpec(options: DeviceOptions): MeterSpec | null {
  return options.meter ?? (options.sim ? { kind: 'sim' as const } : null);
}

/**
 * `--meter` wins over the source `metergate provision` stored in the configuration; with neither,
 * the device refuses to start. The log says which one is used.
 */
function chooseMeterSpec(options: DeviceOptions, stored: string | null, hooks: BootHooks): MeterSpec {
  const flag = flagMeterSpec(options);
  if (flag !== null) {
    if (stored !== null) hooks.log('meter source: from --meter (the stored meter source is not used)');
    return flag;
  }
  if (stored === null) {
    throw new MeterSourceError(
      `${NO_METER_MESSAGE}; the configuration stores no meter source (metergate provision, 'meter:')`,
    );
  }
  hooks.log('meter source: from the stored configuration (no --meter given)');
  try {
    const spec = parseMeterSpec(stored);
    if (spec.kind === 'sim' && !hooks.simMeter) throw new Error(NO_SIM_MESSAGE);
    if (spec.kind !== 'sim') loadProfile(spec.profile);
    return spec;
  } catch (error) {
    const detail = error instanceof ProfileError ? `profile: ${error.message}` : (error as Error).message;
    throw new MeterSourceError(
      `the stored meter source '${stored}' is not usable: ${detail}; start with --meter SOURCE to override it`,
    );
  }
}

/** The simulator, or an upstream meter polled over Modbus (started here, stopped by `close`). */
function openMeterSource(
  spec: MeterSpec,
  hooks: BootHooks,
  onEvent: (event: CommEvent) => void,
): MeterSource {
  if (spec.kind === 'sim') {
    if (!hooks.simMeter) throw new Error(NO_SIM_MESSAGE);
    return hooks.simMeter(hooks.now());
  }
  const line =
    spec.kind === 'modbus-tcp'
      ? { kind: spec.kind, host: spec.host, port: spec.port }
      : {
          kind: spec.kind,
          path: spec.path,
          baudRate: spec.baudRate,
          parity: spec.parity,
          stopBits: spec.stopBits,
          dataBits: spec.dataBits,
        };
  const profile = loadProfile(spec.profile);
  const meter = new UpstreamMeter({
    kind: spec.kind,
    // Shown to anonymous visitors (GET /api/v1/info): the profile's name, never a file path.
    profileName: profile.name,
    profile,
    poll: spec,
    link: new ModbusSerialLink(line, spec.unit, spec.timeoutMs),
    lineName: describeLine(line),
    now: hooks.now,
    onEvent,
    log: hooks.log,
  });
  meter.start();
  hooks.log(`meter: ${describeMeterSpec(spec)}, polled every ${spec.intervalMs} ms`);
  return meter;
}

function safeMode(
  opened: Extract<StoreOpenResult, { mode: 'safe' }>,
  stop: () => Promise<void>,
  hooks: BootHooks,
  options: DeviceOptions,
  bootedAt: number,
): Device {
  hooks.log(
    `SAFE MODE: ${opened.reason}. The device serves nothing until a factory reset at the device ` +
      '(display: Back and OK together in the first 10 s after boot; or `metergate factory-reset --yes` as root).',
  );
  return {
    ready: {
      mode: 'safe',
      http: null,
      https: null,
      modbusTcp: null,
      modbusTls: null,
      safeReason: opened.reason,
    },
    store: null,
    display: new SafeModeDisplay({
      reason: opened.reason,
      size: options.displaySize,
      now: hooks.now,
      bootedAt,
      factoryReset: factoryResetHook(hooks),
    }),
    stop,
  };
}
