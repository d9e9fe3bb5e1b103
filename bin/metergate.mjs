#!/usr/bin/env node
// `metergate` in a source checkout: `metergate run …` (or options only) boots the simulated device
// (dist/sim-device.mjs: the firmware plus the simulator's meter and flash, so `--sim` works); any other
// command is the commissioning CLI. Builds dist/ first when it is missing or older than the sources.
// A board runs dist/device.mjs, the firmware without the simulator (scripts/install-pi.sh).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--if-stale'], {
  stdio: 'inherit',
});
if (built.status !== 0) process.exit(built.status ?? 1);

const [first] = process.argv.slice(2);
const isDevice = first === 'run' || (first?.startsWith('--') && first !== '--help');
await import(join(root, 'dist', isDevice ? 'sim-device.mjs' : 'cli.mjs'));
