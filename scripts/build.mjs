#!/usr/bin/env node
// Builds the firmware into dist/: dist/device.mjs (the device process) and dist/cli.mjs (the
// `metergate` command line), bundled by esbuild. `--if-stale` skips the build when dist is newer
// than every source file, so `npm start` stays fast.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outputs = ['dist/device.mjs', 'dist/cli.mjs'].map((file) => join(root, file));
const sources = ['firmware', 'sim', 'web', 'package.json', 'package-lock.json'].map((p) => join(root, p));

function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), stat.mtimeMs);
}

if (process.argv.includes('--if-stale')) {
  const built = Math.min(...outputs.map((file) => newest(file)));
  if (built > 0 && built >= Math.max(...sources.map(newest))) process.exit(0);
}

await build({
  absWorkingDir: root,
  entryPoints: { device: 'firmware/main.ts', cli: 'firmware/cli.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
process.stderr.write('metergate: built dist/device.mjs and dist/cli.mjs\n');
