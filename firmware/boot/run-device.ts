/**
 * The device process: parse the command line, choose the adapters, boot, print the ready line, run
 * until SIGTERM/SIGINT. Operator messages go to stderr; stdout carries only `metergate ready <json>`.
 * Two entries run it: firmware/main.ts (the board's firmware, dist/device.mjs) and sim/main.ts (the
 * simulated device, dist/sim-device.mjs, which adds the simulator's meter and flash).
 */
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DisplayDriver, type DisplayPort } from '../display/display-driver.ts';
import { openSerialDisplayPort, openTtyDisplayPort, TTY_ORIGIN } from '../display/display-ports.ts';
import { loadProfile, ProfileError } from '../meter/meter-profile.ts';
import {
  type BootHooks,
  bootDevice,
  bootRefusal,
  type Device,
  type DeviceAdapters,
  MeterSourceError,
} from './boot-device.ts';
import { DataDirBusyError, dataDirPaths } from './data-dir.ts';
import { DEVICE_USAGE, type DeviceOptions, parseDeviceOptions, UsageError } from './device-options.ts';
import { factoryResetDataDir } from './factory-reset-data-dir.ts';

const log = (message: string) => process.stderr.write(`metergate: ${message}\n`);

/** The exit after an accepted update: systemd restarts the unit, and the launcher installs it. */
export const UPDATE_RESTART_EXIT = 75;

/** Runs the device with `adapters` (none: the firmware build; sim/sim-adapters.ts: the simulator). */
export function runDevice(argv: readonly string[], adapters: DeviceAdapters): void {
  main(argv, adapters).catch((error: unknown) => {
    log(`fatal: ${(error as Error).stack ?? String(error)}`);
    process.exit(70);
  });
}

async function main(argv: readonly string[], adapters: DeviceAdapters): Promise<void> {
  let options: ReturnType<typeof parseDeviceOptions>;
  try {
    options = parseDeviceOptions(argv, {
      isTTY: Boolean(process.stdin.isTTY && process.stdout.isTTY),
      // This file is bundled to dist/device.mjs; the website is built to dist/web beside it.
      webDir: fileURLToPath(new URL('./web/', import.meta.url)),
    });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    log(`${error.message}\n${DEVICE_USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(`${DEVICE_USAGE}\n`);
    return;
  }
  // Before anything touches flash or opens the display: the same refusals bootDevice makes.
  const refusal = bootRefusal(options, adapters);
  if (refusal !== null) {
    log(refusal);
    process.exit(2);
  }
  if (options.meter && options.meter.kind !== 'sim') {
    try {
      loadProfile(options.meter.profile);
    } catch (error) {
      // A profile file that cannot be read is as much a usage error as one that does not validate.
      const detail = error instanceof ProfileError ? error.message : (error as Error).message;
      log(`--meter: profile '${options.meter.profile}': ${detail}`);
      process.exit(2);
    }
  }

  const display = await openDisplay(options);
  let stopping = false;
  let shutdown: (signal: string, code?: number) => void = () => {};
  let device: Device;
  let bootOptions = options;
  const hooks: BootHooks = {
    ...adapters,
    log,
    now: Date.now,
    addresses: () => listenAddresses(options.host),
    // An accepted update is installed by the launcher before the next start: only under it.
    ...(options.firmwareDir ? { restart: () => shutdown('update accepted', UPDATE_RESTART_EXIT) } : {}),
    // The display's physical-presence reset: this device stops, its data dir is erased, and a new
    // device boots on the same ports in the same process.
    factoryReset: async () => {
      log('factory reset at the display: erasing the data dir');
      await device.stop();
      const paths = dataDirPaths(options.dataDir);
      factoryResetDataDir(paths, options.counterFile ?? paths.counterFile);
      try {
        device = await bootDevice(bootOptions, hooks);
      } catch (error) {
        // The meter source came from the erased configuration: the new device has none, and stops.
        if (!(error instanceof MeterSourceError)) throw error;
        log(`factory reset done; the stored meter source was erased with it: ${error.message}`);
        process.exit(2);
      }
      display?.show(device.display);
      log('factory reset done: booted as a new device (admin / CBM_1234, to be changed at first login)');
    },
  };
  try {
    device = await bootDevice(options, hooks);
  } catch (error) {
    if (error instanceof DataDirBusyError) {
      log(error.message);
      process.exit(1);
    }
    if (error instanceof MeterSourceError) {
      log(error.message);
      process.exit(2);
    }
    throw error;
  }
  // Port 0 picked free ports; a reboot after a factory reset binds the same ones again.
  bootOptions = {
    ...options,
    httpPort: device.ready.http ?? options.httpPort,
    httpsPort: device.ready.https ?? options.httpsPort,
  };
  display?.show(device.display);

  // Keeps the process alive while no listener does (safe mode, or every interface blocked).
  const heartbeat = setInterval(() => {}, 60_000);
  shutdown = (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    clearInterval(heartbeat);
    log(`${signal}: stopping`);
    Promise.all([device.stop(), display?.close()]).then(
      () => process.exit(code),
      (error: unknown) => {
        log(`error while stopping: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  process.stdout.write(`metergate ready ${JSON.stringify(device.ready)}\n`);
  log(
    `data in ${options.dataDir}; ${device.ready.mode === 'safe' ? 'SAFE MODE' : 'running'} (Ctrl-C to stop)`,
  );
}

/** The display line of `--display`, or null for `none`. Exits with a usage error naming the flag. */
async function openDisplay(options: DeviceOptions): Promise<DisplayDriver | null> {
  if (options.display === 'none') return null;
  let port: DisplayPort;
  if (options.display === 'tty') {
    if (!(process.stdin.isTTY && process.stdout.isTTY)) {
      log(`--display tty needs a terminal on stdin and stdout\n${DEVICE_USAGE}`);
      process.exit(2);
    }
    port = openTtyDisplayPort(options.displaySize, () => process.kill(process.pid, 'SIGINT'));
  } else {
    try {
      port = await openSerialDisplayPort(options.display, log);
    } catch (error) {
      log(`--display ${options.display}: cannot open it: ${(error as Error).message}`);
      process.exit(2);
    }
  }
  return new DisplayDriver(port, {
    size: options.displaySize,
    origin: options.display === 'tty' ? TTY_ORIGIN : undefined,
    now: Date.now,
    log,
  });
}

/** What the Info screen lists: the listen address, or every external address when listening on all. */
function listenAddresses(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [host];
  return Object.values(networkInterfaces())
    .flatMap((addresses) => addresses ?? [])
    .filter((address) => !address.internal)
    .map((address) => address.address);
}
