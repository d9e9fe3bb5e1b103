/**
 * `metergate run [options]`: boots the device from the build beside this CLI: the simulated device
 * (sim-device.mjs, `--sim`) in a source checkout, the board's firmware (device.mjs) where only that
 * was installed (scripts/install-pi.sh). The device takes over the process: its ready line, its exit
 * code, its signals; `metergate run --help` is the device's own usage.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CliError } from './cli-error.ts';

/** The device entries looked for beside the CLI, first found wins. */
export const DEVICE_ENTRIES = ['sim-device.mjs', 'device.mjs'] as const;

export async function runCommand(): Promise<number> {
  const here = dirname(fileURLToPath(import.meta.url));
  const entry = DEVICE_ENTRIES.map((name) => join(here, name)).find((path) => existsSync(path));
  if (!entry) {
    throw new CliError(
      `no device build beside this CLI in ${here} (${DEVICE_ENTRIES.join(' or ')}): build it with 'node scripts/build.mjs'`,
    );
  }
  // The device reads process.argv itself and accepts the leading `run` (device-options.ts).
  await import(pathToFileURL(entry).href);
  // The device owns the process from here: never resolve, so its exit code stands.
  return new Promise<number>(() => {});
}
