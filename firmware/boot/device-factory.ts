/**
 * The device's object graph, built from its parts: the secure store opened on the flash with the key
 * provider and counter, the configuration, the security, login, metering and registry services, the
 * Modbus gate, the REST application (a hono app: `app.fetch`, no listener), the local display's model
 * and the security event log. No sockets, no files, no timers: the parts bring the hardware (flash,
 * meter source, key provider, TLS file store) and the clock, and the boot (boot-device.ts) adds the
 * listeners, the display driver, syslog, the data dir and the once-a-second history sampling. Test fixtures and the bench build the
 * device with this same function, so what they test is what the device runs.
 */
import { deriveDeviceIdentity } from '../auth/device-identity.ts';
import { LoginChallenges } from '../auth/login-challenges.ts';
import { LoginThrottle } from '../auth/login-throttle.ts';
import { SessionStore } from '../auth/session-store.ts';
import { StaleNonceLimit } from '../auth/stale-nonce-limit.ts';
import { MeasurementHistory } from '../core/measurement-history.ts';
import { actorFields } from '../core/user-table.ts';
import { DisplayApp } from '../display/display-app.ts';
import type { ScreenSize } from '../display/screen-renderer.ts';
import type { RouteDeclaration } from '../http/api-builder.ts';
import { createApiApp } from '../http/create-api-app.ts';
import type { WebSite } from '../http/web-site.ts';
import type { KeyProvider, MonotonicCounter } from '../keys/key-provider.ts';
import { deriveKey } from '../keys/record-keys.ts';
import type { MeterSource } from '../meter/meter-source.ts';
import type { CommEvent } from '../meter/upstream-meter.ts';
import { handleModbusPdu, type ModbusAccess, type ModbusDeps } from '../modbus/modbus-gate.ts';
import { type AddressFilter, createAddressFilter } from '../net/client-whitelist.ts';
import { createDeviceNames } from '../net/device-names.ts';
import { type BoundPorts, ListenerPorts } from '../net/listener-ports.ts';
import { BackupService } from '../services/backup-service.ts';
import { ClientRegistry } from '../services/client-registry.ts';
import { createDenialRecorder } from '../services/denial-recorder.ts';
import type { FirmwareService } from '../services/firmware-service.ts';
import { LoginService } from '../services/login-service.ts';
import { MeteringService } from '../services/metering-service.ts';
import type { InterfaceName } from '../services/request-context.ts';
import { SecurityService } from '../services/security-service.ts';
import type { FileStore } from '../store/anchored-files.ts';
import { ConfigStore } from '../store/config-store.ts';
import type { SecurityEvent } from '../store/event-log.ts';
import type { Flash } from '../store/flash.ts';
import { SecureStore, type StoreOpenResult } from '../store/secure-store.ts';
import { TlsService } from '../tls/tls-service.ts';
import { DEVICE_MODEL, FIRMWARE_VERSION } from '../version.ts';

/** What the meter part is told when the configuration has been read. */
export interface MeterContext {
  /** The meter source `metergate provision` stored in the configuration, or null. */
  readonly storedSource: string | null;
  /** Records a comm-lost / comm-restored event in the security log. */
  readonly record: (event: CommEvent) => void;
}

/** The TLS files (certificate, sealed key, Modbus client CA and CRL) and the ones refused at boot. */
export interface DeviceFiles extends FileStore {
  /** The files refused at boot and why (store/anchored-files.ts `verify`). */
  refusals(): ReadonlyMap<string, string>;
}

/** The device's hardware and surroundings; everything the graph touches outside memory comes in here. */
export interface DeviceParts {
  readonly flash: Flash;
  readonly keys: KeyProvider;
  readonly counter: MonotonicCounter;
  readonly now: () => number;
  /** Operator-facing messages. */
  readonly log: (message: string) => void;
  /**
   * The meter source, asked for once the configuration is read (it may name the source); it may
   * throw to refuse the boot (boot-device.ts `MeterSourceError`). Closed by `close`.
   */
  readonly meter: (context: MeterContext) => MeterSource;
  /** The TLS file store, bound to the opened store (store/anchored-files.ts on the device). */
  readonly tlsFiles: (store: SecureStore) => DeviceFiles;
  /**
   * Who else reads the security event log (the boot: syslog export), told every event from the
   * moment the store is open. Default: nobody.
   */
  readonly observeLog?: (store: SecureStore) => (event: SecurityEvent) => void;
  readonly serialNumber: string;
  /** The listen address: one of the names the device answers to, and what the Info screen shows by default. */
  readonly host: string;
  /** The built website served at `/`; absent or null: the API alone. */
  readonly website?: WebSite | null;
  readonly display: {
    readonly size: ScreenSize;
    /** When this boot started (the display's factory-reset window). Default: `now()` at build. */
    readonly bootedAt?: number;
    /** The physical-presence factory reset. Default: refused. */
    readonly factoryReset?: () => Promise<void>;
    /** The addresses the Info screen shows. Default: `[host]`. */
    readonly addresses?: () => readonly string[];
  };
  /** KDF iterations of new verifiers (tests and the bench lower it). Default: the verifier module's. */
  readonly kdfIterations?: number;
  /** Signed firmware updates; absent: not started by the launcher. */
  readonly firmware?: FirmwareService | null;
  /** Ends the process so the launcher installs an accepted update; absent: no restart. */
  readonly restart?: () => void;
}

/** The device in normal mode: every service, the REST app and the display model, no listener. */
export interface DeviceGraph {
  readonly mode: 'normal';
  readonly store: SecureStore;
  readonly rootKey: Uint8Array;
  readonly configStore: ConfigStore;
  readonly security: SecurityService;
  readonly sessions: SessionStore;
  readonly login: LoginService;
  readonly metering: MeteringService;
  readonly meter: MeterSource;
  readonly registry: ClientRegistry;
  readonly tls: TlsService;
  readonly display: DisplayApp;
  /** The REST application; `app.fetch` answers a Request. */
  readonly app: ReturnType<typeof createApiApp>['app'];
  readonly declarations: readonly RouteDeclaration[];
  /** The Modbus gate: its dependencies (register map, identification, denial log) and the handler. */
  readonly modbus: {
    readonly deps: ModbusDeps;
    handle(pdu: Uint8Array, access: ModbusAccess): Uint8Array;
    /** An access acting as the configured slot of `which`, looked up at every request. */
    slotAccess(
      which: 'modbusPrincipal' | 'rtuPrincipal',
      iface: InterfaceName,
      source: string | undefined,
    ): ModbusAccess;
  };
  /** The client whitelist as the security settings hold it now. */
  readonly allowed: () => AddressFilter;
  /** The ports the listeners announce (REST `info` reads them). */
  readonly ports: ListenerPorts;
  /** What is not as the committed state says, one sentence each; empty when all is well. */
  degraded(): string[];
  /** Writes pending log summaries and closes the meter source. The parts are the caller's to close. */
  close(): Promise<void>;
}

export type BuiltDevice = DeviceGraph | Extract<StoreOpenResult, { mode: 'safe' }>;

/**
 * Opens the store on `parts.flash` and builds the graph; in safe mode (no usable security record)
 * returns the store's safe-mode result and builds nothing. Throws what `parts.meter` throws.
 */
export async function buildDevice(parts: DeviceParts): Promise<BuiltDevice> {
  const { now, log } = parts;
  const bootedAt = parts.display.bootedAt ?? now();
  const opened = await SecureStore.open(
    { flash: parts.flash, keys: parts.keys, counter: parts.counter, now },
    { kdfIterations: parts.kdfIterations },
  );
  if (opened.mode === 'safe') return opened;
  if (opened.firstBoot) log('first boot: root key created, flash formatted, factory user table stored');
  for (const repair of opened.repaired) log(`flash repaired: ${repair}`);

  const { store, rootKey } = opened;
  if (parts.observeLog) store.observe(parts.observeLog(store));
  const configStore = ConfigStore.open(parts.flash, rootKey, store);
  const files = parts.tlsFiles(store);
  const degraded = (): string[] => {
    const found: string[] = [];
    const config = configStore.health;
    if (config.state === 'damaged' || config.state === 'rolled-back') {
      found.push(
        `configuration ${config.state === 'damaged' ? 'damaged' : 'rolled back'}: ${config.detail}; running on the default configuration until one is stored`,
      );
    }
    for (const problem of files.refusals().values()) found.push(`${problem}; not used`);
    const integrity = store.log.integrity();
    if (integrity.state === 'broken') found.push(`event log: ${integrity.detail}`);
    return found;
  };
  for (const problem of degraded()) log(`DEGRADED: ${problem}`);

  const security = new SecurityService(store, { now, kdfIterations: parts.kdfIterations });
  const allowed = whitelistFilter(() => security.state.settings.whitelist);
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
  const meter = parts.meter({
    storedSource: configStore.config.meterSource,
    record: (event) => store.record({ time: now(), interface: 'system', ...event }),
  });
  try {
    // The trends' history lives in RAM only (~96 KiB, core/measurement-history.ts); the boot feeds it.
    const metering = new MeteringService(meter, configStore, security, now, new MeasurementHistory());
    const registry = new ClientRegistry(security, now);
    const tls = new TlsService(files, rootKey, now);
    const ensured = await tls.ensure();
    if (ensured.problem !== undefined) {
      // Never an exit, never silent: the device serves HTTPS with a new self-signed certificate.
      log(`HTTPS: the stored certificate cannot be used (${ensured.problem}); serving a new self-signed one`);
      security.record({
        type: 'tls.fallback',
        interface: 'system',
        result: 'failed',
        detail: ensured.problem,
      });
    } else if (ensured.created) log('HTTPS: self-signed certificate created');

    const updateResult = parts.firmware?.takeLastResult();
    if (updateResult) {
      log(`firmware: ${updateResult.type} ${updateResult.detail}`);
      security.record({ ...updateResult, interface: 'system' });
    }

    const ports = new ListenerPorts();
    const backup = new BackupService({
      security,
      tls,
      endSessions: () => sessions.endAll(),
      device: { model: DEVICE_MODEL, serialNumber: parts.serialNumber, firmwareVersion: FIRMWARE_VERSION },
      now,
    });
    const { app, declarations } = createApiApp({
      website: parts.website ?? null,
      firmware: parts.firmware ?? null,
      ...(parts.restart ? { restart: parts.restart } : {}),
      security,
      login,
      sessions,
      metering,
      registry,
      eventLog: store.log,
      tls,
      backup,
      names: createDeviceNames({
        boundHost: parts.host,
        configured: () => security.state.settings.hostnames,
      }),
      device: {
        model: DEVICE_MODEL,
        serialNumber: parts.serialNumber,
        firmwareVersion: FIRMWARE_VERSION,
        deviceKey: identity.publicKey,
        ports: (): BoundPorts => ports.current(),
        degraded,
        startedAt: bootedAt,
        configuration: () => configStore.health.state,
      },
      now,
    });

    const recordModbusDenial = createDenialRecorder(security, now);
    const modbusDeps: ModbusDeps = {
      metering,
      serialNumber: parts.serialNumber,
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
    };

    const display = new DisplayApp({
      security,
      metering,
      login,
      registry,
      // The display's own failure counter: failures on the network never lock the operator out here.
      throttle: new LoginThrottle(() => security.state.settings.lockout),
      info: () => ({
        model: DEVICE_MODEL,
        serialNumber: parts.serialNumber,
        firmwareVersion: FIRMWARE_VERSION,
        addresses: parts.display.addresses?.() ?? [parts.host],
        certificateFingerprint: tls.info().fingerprint256,
        degraded: degraded(),
      }),
      now,
      size: parts.display.size,
      bootedAt,
      factoryReset:
        parts.display.factoryReset ??
        (() => Promise.reject(new Error('factory reset is not available in this process'))),
    });

    store.record({ time: now(), type: 'boot', interface: 'system', result: 'ok' });
    return {
      mode: 'normal',
      store,
      rootKey,
      configStore,
      security,
      sessions,
      login,
      metering,
      meter,
      registry,
      tls,
      display,
      app,
      declarations,
      modbus: {
        deps: modbusDeps,
        handle: (pdu, access) => handleModbusPdu(pdu, access, modbusDeps),
        slotAccess: (which, iface, source) => ({
          context: { interface: iface, source },
          actor: () => security.principalActor(which),
        }),
      },
      allowed,
      ports,
      degraded,
      close: async () => {
        store.flushLog(true);
        await meter.close?.();
      },
    };
  } catch (error) {
    await meter.close?.();
    throw error;
  }
}

/** The address filter of the current whitelist, made anew only when the entries change. */
function whitelistFilter(entries: () => readonly string[]): () => AddressFilter {
  let made: { readonly entries: readonly string[]; readonly filter: AddressFilter } | null = null;
  return () => {
    const current = entries();
    if (made?.entries !== current) made = { entries: current, filter: createAddressFilter(current) };
    return made.filter;
  };
}
