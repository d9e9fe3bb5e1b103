/**
 * The device process: parse the command line, boot, print the ready line, run until SIGTERM/SIGINT.
 * Operator messages go to stderr; stdout carries only `metergate ready <json>`.
 */
import { fileURLToPath } from 'node:url';
import { bootDevice } from './boot/boot-device.ts';
import { DataDirBusyError } from './boot/data-dir.ts';
import { DEVICE_USAGE, parseDeviceOptions, UsageError } from './boot/device-options.ts';

const log = (message: string) => process.stderr.write(`metergate: ${message}\n`);

async function main(argv: readonly string[]): Promise<void> {
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

  let device: Awaited<ReturnType<typeof bootDevice>>;
  try {
    device = await bootDevice(options, { log, now: Date.now });
  } catch (error) {
    if (error instanceof DataDirBusyError) {
      log(error.message);
      process.exit(1);
    }
    throw error;
  }

  // Keeps the process alive while no listener does (safe mode, or every interface blocked).
  const heartbeat = setInterval(() => {}, 60_000);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(heartbeat);
    log(`${signal}: stopping`);
    device.stop().then(
      () => process.exit(0),
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

main(process.argv.slice(2)).catch((error: unknown) => {
  log(`fatal: ${(error as Error).stack ?? String(error)}`);
  process.exit(70);
});
