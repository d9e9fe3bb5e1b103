#!/usr/bin/env node
// Builds a signed update bundle (docs/updates.md), or makes the signing key pair:
//   npm run bundle -- keygen --out FILE [--comment TEXT]   FILE (secret, 0600) and FILE.pub (the
//                                                           trusted-keys line install-pi.sh takes)
//   npm run bundle -- --key FILE [--target T] [--out F]    dist/ + package.json + package-lock.json +
//                                                           the production node_modules
//   ... [--payload DIR] [--version V] [--min-from V] [--node-modules DIR]
// --payload DIR bundles that directory instead (tests); --node-modules DIR takes the production
// dependencies from DIR (an `npm ci --omit=dev --os=linux --cpu=arm64` for another target's native
// add-ons) instead of this checkout's.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import nacl from 'tweetnacl';
import { encodeBundle, hostTarget, TARGETS, type Target } from '../firmware/update/bundle-format.ts';
import { parseVersion } from '../firmware/update/firmware-version.ts';
import { type ArchiveFile, packArchive, readTree } from '../firmware/update/payload-archive.ts';
import { readSecretKey, writeKeyPair } from '../firmware/update/signing-key.ts';

const root = resolve(import.meta.dirname, '..');
// npm run starts scripts in the package root; paths on the command line are the caller's.
const here = (path: string) => resolve(process.env.INIT_CWD ?? process.cwd(), path);

function fail(message: string): never {
  process.stderr.write(`bundle: ${message}\n`);
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    key: { type: 'string' },
    target: { type: 'string' },
    out: { type: 'string' },
    payload: { type: 'string' },
    version: { type: 'string' },
    'min-from': { type: 'string' },
    'node-modules': { type: 'string' },
    comment: { type: 'string' },
  },
});

if (positionals[0] === 'keygen') {
  if (!values.out) fail('keygen needs --out FILE (the secret key; FILE.pub gets the public key)');
  const out = here(values.out);
  if (existsSync(out)) fail(`${out} exists: a signing key is never overwritten`);
  writeKeyPair(out, nacl.sign.keyPair(), values.comment ?? 'metergate update key');
  process.stdout.write(`secret key ${out} (keep it offline), public key ${out}.pub\n`);
  process.exit(0);
}
if (positionals.length > 0) fail(`unknown command '${positionals[0]}' (keygen, or options only)`);
if (!values.key) fail('--key FILE is required (make one with: npm run bundle -- keygen --out FILE)');

const target = (values.target ?? hostTarget()) as Target | null;
if (!target || !(TARGETS as readonly string[]).includes(target)) {
  fail(`--target must be one of ${TARGETS.join(', ')}${values.target ? `, got '${values.target}'` : ''}`);
}

function productionModules(): ArchiveFile[] {
  if (values['node-modules']) return readTree(here(values['node-modules']), 'node_modules');
  const listed = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: root,
    encoding: 'utf8',
  });
  const dirs = listed.stdout
    .split('\n')
    .filter((line) => line.startsWith(join(root, 'node_modules')))
    .map((dir) => relative(root, dir));
  if (dirs.length === 0) fail(`npm ls found no production dependencies: ${listed.stderr.trim()}`);
  // A package's own files, without the nested node_modules another listed package covers.
  const files = new Map<string, ArchiveFile>();
  for (const dir of dirs) {
    for (const file of readTree(join(root, dir), dir.split('\\').join('/'))) files.set(file.path, file);
  }
  return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
}

let files: ArchiveFile[];
let packageJson: string;
if (values.payload) {
  files = readTree(here(values.payload));
  packageJson = join(here(values.payload), 'package.json');
} else {
  for (const needed of ['dist/device.mjs', 'dist/cli.mjs', 'dist/web/index.html']) {
    if (!existsSync(join(root, needed))) fail(`${needed} is missing: npm run build first`);
  }
  if (target !== hostTarget() && !values['node-modules']) {
    process.stderr.write(
      `bundle: warning: node_modules of ${hostTarget()} in a ${target} bundle: native add-ons fall back to JavaScript or fail; pass --node-modules DIR\n`,
    );
  }
  files = [
    ...readTree(join(root, 'dist'), 'dist'),
    ...['package.json', 'package-lock.json'].map((path) => ({
      path,
      executable: false,
      data: readFileSync(join(root, path)),
    })),
    ...productionModules(),
  ];
  packageJson = join(root, 'package.json');
}

const version =
  values.version ?? (existsSync(packageJson) ? JSON.parse(readFileSync(packageJson, 'utf8')).version : '');
if (!parseVersion(version))
  fail(`version '${version}' is not a semantic version (--version, or package.json)`);
const minFromVersion = values['min-from'] ?? '0.0.0';
if (!parseVersion(minFromVersion)) fail(`--min-from '${minFromVersion}' is not a semantic version`);

const bundle = encodeBundle(
  { version, target, minFromVersion, payload: packArchive(files) },
  readSecretKey(here(values.key)),
);
const out = values.out ? here(values.out) : join(root, `metergate-${version}-${target}.mgb`);
writeFileSync(out, bundle);
process.stdout.write(
  `${out}: metergate ${version} for ${target}, ${files.length} files, ${bundle.length} bytes\n`,
);
