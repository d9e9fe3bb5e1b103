#!/usr/bin/env node
// `metergate`: `metergate run …` (or options only) boots the device; any other command is the
// commissioning CLI. Builds dist/ first when it is missing or older than the sources.
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
await import(join(root, 'dist', isDevice ? 'device.mjs' : 'cli.mjs'));
