/**
 * Boot: builds the device's object graph from its options and starts it. The one place that wires
 * flash, keys, store, services and listeners together; modules get what they need passed in.
 */
import { existsSync, readFileSync } from 'node:fs';

import { deriveDeviceIdentity } from '../auth/device-identity.ts';
import { LoginChallenges } from '../auth/login-challenges.ts';
import { LoginThrottle as DisplayThrottle, LoginThrottle } from '../auth/login-throttle.ts';
import { SessionStore } from '../auth/session-store.ts';
import { StaleNonceLimit } from '../auth/stale-nonce-limit.ts';
import { actorFields } from '../core/user-table.ts';
import { DisplayApp, type DisplayScreen } from '../display/display-app.ts';
import { SafeModeDisplay } from '../display/safe-mode-display.ts';
import type { RouteDeclaration } from '../http/api-builder.ts';
import { createApiApp } from '../http/create-api-app.ts';
import { startHttpListeners } from '../http/http-listeners.ts';
import { loadWebSite } from '../http/web-site.ts';
import { FileKeyProvider, FileMonotonicCounter } from '../keys/file-key-provider.ts';
import { OtpKeyProvider } from '../keys/otp-key-provider.ts';
import { deriveKey } from '../keys/record-keys.ts';
import { loadProfile, ProfileError } from '../meter/meter-profile.ts';
import type { MeterSource } from '../meter/meter-source.ts';
import { describeMeterSpec, type MeterSpec, parseMeterSpec } from '../meter/meter-spec.ts';
import { type CommEvent, describeLine, ModbusSerialLink, UpstreamMeter } from '../meter/upstream-meter.ts';
import { ModbusController } from '../modbus/modbus-controller.ts';
import { type AddressFilter, createAddressFilter } from '../net/client-whitelist.ts';
import { createDeviceNames } from '../net/device-names.ts';
import { ClientRegistry } from '../services/client-registry.ts';
import { createDenialRecorder } from '../services/denial-recorder.ts';
import { LoginService } from '../services/login-service.ts';
import { MeteringService } from '../services/metering-service.ts';
import { SecurityService } from '../services/security-service.ts';
import { SyslogExporter } from '../services/syslog-exporter.ts';
import { AnchoredFiles } from '../store/anchored-files.ts';
import { ConfigStore } from '../store/config-store.ts';
import { FileFlash } from '../store/file-flash.ts';
import { type Flash, FlashImageError } from '../store/flash.ts';
import { SecureStore, type StoreOpenResult } from '../store/secure-store.ts';
import { TlsService } from '../tls/tls-service.ts';
import { DEVICE_MODEL, FIRMWARE_VERSION } from '../version.ts';
import { type DataDirPaths, dataDirPaths, deviceSerial, lockDataDir, TLS_FILES_PREFIX } from './data-dir.ts';
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
    const opened = await SecureStore.open({
      flash,
      keys:
        options.keyProvider === 'otp'
          ? new OtpKeyProvider({ keysDir: paths.keysDir, log: hooks.log })
          : new FileKeyProvider(paths.keysDir),
      counter: new FileMonotonicCounter(options.counterFile ?? paths.counterFile),
      now: hooks.now,
    });
    if (opened.mode === 'safe') return safeMode(opened, stop, hooks, options, bootedAt);
    if (opened.firstBoot)
      hooks.log('first boot: root key created, flash formatted, factory user table stored');
    for (const repair of opened.repaired) hooks.log(`flash repaired: ${repair}`);
    return await startServices(options, paths, flash, opened, cleanups, stop, hooks, bootedAt);
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startServices(
  options: DeviceOptions,
  paths: DataDirPaths,
  flash: Flash,
  opened: Extract<StoreOpenResult, { mode: 'normal' }>,
  cleanups: (() => void | Promise<void>)[],
  stop: () => Promise<void>,
  hooks: BootHooks,
  bootedAt: number,
): Promise<Device> {
  const { store, rootKey } = opened;
  const now = hooks.now;
  const configStore = ConfigStore.open(flash, rootKey, store);
  const files = new AnchoredFiles(paths.tlsDir, TLS_FILES_PREFIX, store);
  files.verify();
  const degraded = (): string[] => {
    const found: string[] = [];
    const config = configStore.health;
    if (config.state === 'damaged' || config.state === 'rolled-back') {
      found.push(
        `configuration ${config.state === 'damaged' ? 'damaged' : 'rolled back'}: ${config.detail}; running on the default configuration until one is stored`,
      );
    }
    for (const problem of files.refusals().values()) found.push(`${problem}; not used`);
    const log = store.log.integrity();
    if (log.state === 'broken') found.push(`event log: ${log.detail}`);
    return found;
  };
  for (const problem of degraded()) hooks.log(`DEGRADED: ${problem}`);

  let whitelist: { entries: readonly string[]; filter: AddressFilter } = { entries: [], filter: () => true };
  const allowed = () => {
    const entries = security.state.settings.whitelist;
    if (entries !== whitelist.entries) whitelist = { entries, filter: createAddressFilter(entries) };
    return whitelist.filter;
  };

  const security = new SecurityService(store, { now });
  const sessionKey = deriveKey(rootKey, 'session');
  const identity = deriveDeviceIdentity(rootKey);
  const sessions = new SessionStore();
  const login = new LoginService({
    security,
    challenges: new LoginChallenges(sessionKey),
    throttle: new LoginThrottle(() => security.state.settings.lockout),
    staleNonces: new StaleNonceLimit(),
    sessions,
    identity,
    decoyKey: sessionKey,
    now,
  });
  const meter = openMeterSource(
    chooseMeterSpec(options, configStore.config.meterSource, hooks),
    hooks,
    (event) => store.record({ time: now(), interface: 'system', ...event }),
  );
  cleanups.push(() => meter.close?.());
  const metering = new MeteringService(meter, configStore, security, now);
  const serialNumber = deviceSerial(paths);
  const registry = new ClientRegistry(security, now);
  const syslog = new SyslogExporter({
    settings: () => security.state.settings.syslog,
    hostname: serialNumber,
    log: hooks.log,
  });
  store.observe((event) => syslog.send(event));
  cleanups.push(() => syslog.close());
  // Refusal summaries are written when their window ends, even if no further event comes; and at stop.
  const logFlush = setInterval(() => store.flushLog(), 60_000);
  logFlush.unref();
  cleanups.push(() => {
    clearInterval(logFlush);
    store.flushLog(true);
  });
  const tls = new TlsService(paths.tlsDir, rootKey, now, files);
  const ensured = await tls.ensure();
  if (ensured.problem !== undefined) {
    // Never an exit, never silent: the device serves HTTPS with a new self-signed certificate.
    hooks.log(
      `HTTPS: the stored certificate cannot be used (${ensured.problem}); serving a new self-signed one`,
    );
    security.record({ type: 'tls.fallback', interface: 'system', result: 'failed', detail: ensured.problem });
  } else if (ensured.created) hooks.log('HTTPS: self-signed certificate created');

  let httpsPort: number | null = null;
  let modbus: ModbusController | null = null;
  const website = loadWebSite(options.webDir);
  if (!website) hooks.log(`no built website in ${options.webDir} (npm run build): serving the API only`);
  const { app, declarations } = createApiApp({
    website,
    security,
    login,
    sessions,
    metering,
    registry,
    eventLog: store.log,
    tls,
    names: createDeviceNames({
      boundHost: options.host,
      configured: () => security.state.settings.hostnames,
    }),
    device: {
      model: DEVICE_MODEL,
      serialNumber,
      firmwareVersion: FIRMWARE_VERSION,
      deviceKey: identity.publicKey,
      ports: () => ({ https: httpsPort, ...(modbus?.ports() ?? { modbusTcp: null, modbusTls: null }) }),
      degraded,
    },
    now,
  });
  const listeners = await startHttpListeners(app.fetch, {
    host: options.host,
    httpPort: options.httpPort,
    httpOpen: security.state.settings.http !== 'off',
    httpsPort: options.httpsPort,
    credentials: () => tls.current(),
    allowed,
  });
  const applyHttpMode = async () => {
    const open = security.state.settings.http !== 'off';
    if (open === (listeners.http !== null) || options.httpPort === null) return;
    try {
      await listeners.setHttpOpen(open);
      hooks.log(
        open
          ? `plain HTTP opened on port ${listeners.http}`
          : 'plain HTTP closed (security setting http: off)',
      );
    } catch (error) {
      hooks.log(`plain HTTP could not be opened again: ${(error as Error).message}`);
    }
  };
  cleanups.push(() => listeners.close());
  httpsPort = listeners.https;

  const recordModbusDenial = createDenialRecorder(security, now);
  const controller = new ModbusController({
    host: options.host,
    tcpPort: options.modbusPort,
    tlsPort: options.modbusTlsPort,
    rtuPath: options.rtu,
    security,
    metering,
    handlerDeps: {
      metering,
      serialNumber,
      firmwareVersion: FIRMWARE_VERSION,
      vendorName: 'metergate',
      productCode: DEVICE_MODEL,
      onWriteDenied: (actor, context, detail) =>
        recordModbusDenial({
          type: 'modbus.write',
          interface: context.interface,
          source: context.source,
          ...actorFields(actor),
          detail,
        }),
    },
    allowed,
    tlsCredentials: () => tls.current(),
    modbusCa: () => tls.modbusCa(),
    modbusCrl: () => tls.modbusCrl(),
    log: hooks.log,
  });
  modbus = controller;
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

  const display = new DisplayApp({
    security,
    metering,
    login,
    registry,
    // The display's own failure counter: failures on the network never lock the operator out here.
    throttle: new DisplayThrottle(() => security.state.settings.lockout),
    info: () => ({
      model: DEVICE_MODEL,
      serialNumber,
      firmwareVersion: FIRMWARE_VERSION,
      addresses: hooks.addresses?.() ?? [options.host],
      certificateFingerprint: tls.info().fingerprint256,
      degraded: degraded(),
    }),
    now,
    size: options.displaySize,
    bootedAt,
    factoryReset: factoryResetHook(hooks),
  });

  store.record({ time: now(), type: 'boot', interface: 'system', result: 'ok' });
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
      degraded: degraded(),
    },
    store,
    display,
    stop,
    routes: {
      declared: declarations,
      registered: app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`),
    },
  };
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
