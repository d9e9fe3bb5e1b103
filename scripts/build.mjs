#!/usr/bin/env node
import { createHash } from 'node:crypto';
// Builds everything the device runs into dist/, bundled by esbuild:
// - dist/device.mjs (the board's firmware: file flash, upstream meter), dist/sim-device.mjs (the same
//   device with the simulator's meter and power-cut flash: `npm start`, the tests) and dist/cli.mjs
//   (the `metergate` command line), dist/launcher.mjs (starts the installed version, installs updates,
//   falls back: firmware/update/launcher.ts);
// - dist/web/: the Preact website. Assets get content-hashed names and gzip + brotli siblings;
//   index.html names them (all but the on-demand ones: the key derivation's worker and the chunks pages
//   load with import()); manifest.json lists each asset's raw, gzip and brotli size, and which are
//   loaded on demand.
// `--if-stale` skips the build when dist is newer than every source file, so `npm start` stays fast.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { gzipAsync } from '@gfx/zopfli';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outputs = [
  'dist/device.mjs',
  'dist/sim-device.mjs',
  'dist/cli.mjs',
  'dist/launcher.mjs',
  'dist/web/index.html',
].map((file) => join(root, file));
const sources = ['firmware', 'sim', 'web', 'package.json', 'package-lock.json', 'scripts/build.mjs'].map(
  (p) => join(root, p),
);

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
  entryPoints: { device: 'firmware/main.ts', 'sim-device': 'sim/main.ts', cli: 'firmware/cli.ts' },
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

// The launcher runs from /opt/metergate, outside the firmware slots and their node_modules: its one
// dependency (tweetnacl) is bundled in.
await build({
  absWorkingDir: root,
  entryPoints: { launcher: 'firmware/launcher-main.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // tweetnacl is CommonJS and requires 'crypto': an ES module has no require of its own.
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

// tweetnacl's package entry is its unrolled "fast" build; the compact one has the same API at a
// third of the size, and the website signs and seals a handful of messages, not a stream.
const compactTweetnacl = {
  name: 'compact-tweetnacl',
  setup(b) {
    b.onResolve({ filter: /^tweetnacl$/ }, () => ({ path: join(root, 'node_modules/tweetnacl/nacl.js') }));
  },
};

// The password proof's Web Worker (web/src/crypto/pbkdf2-worker.ts), used only without WebCrypto: an
// asset of its own, loaded on demand, whose hashed name the app learns through PBKDF2_WORKER_URL.
const worker = await build({
  absWorkingDir: root,
  entryPoints: { 'pbkdf2-worker': 'web/src/crypto/pbkdf2-worker.ts' },
  outdir: 'dist/web/assets',
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  platform: 'browser',
  // A classic worker: module workers came to Firefox only in version 114.
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  external: ['crypto'],
  plugins: [compactTweetnacl],
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
});
const workerName = basename(worker.outputFiles[0].path);

/** FNV-1a over the UTF-16 code units, in base 36: web/src/i18n.ts's textKey, which the packs are keyed by. */
function textKey(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(36);
}

const webOptions = {
  absWorkingDir: root,
  entryPoints: { app: 'web/src/main.tsx' },
  outdir: 'dist/web/assets',
  entryNames: '[name]-[hash]',
  // The pages behind a login are chunks of their own, fetched when first opened (`lazy` in
  // web/src/ui.tsx); what the first visit needs stays in the app and the chunks it imports statically.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  metafile: true,
  bundle: true,
  minify: true,
  platform: 'browser',
  format: 'esm',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  // tweetnacl falls back to Node's crypto module outside a browser; never reached in one.
  external: ['crypto'],
  plugins: [compactTweetnacl],
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
};

// The language packs (web/i18n/<code>.json: English -> translation; web/src/i18n.ts). Each text
// travels with the code that shows it: the texts of the first load are the language's core pack,
// those only a lazily loaded part shows (a page behind a login, the trend card) are that part's pack,
// fetched with its chunk. Minified, keyed by a short hash of the English (textKey, as web/src/i18n.ts
// computes it: that halves a pack), content-hashed; the app learns their names through I18N_PACKS.
// Which source files make the first load and each lazy part comes from a first pass of the build.
const define = (packUrls) => ({
  PBKDF2_WORKER_URL: JSON.stringify(`/assets/${workerName}`),
  I18N_PACKS: JSON.stringify(packUrls),
});
const firstPass = await build({ ...webOptions, define: define({}) });

/** The outputs a first visit loads: the app, what it imports statically, its CSS. */
function firstLoad(outputs, entryKey) {
  const seen = new Set();
  const visit = (key) => {
    if (seen.has(key)) return;
    seen.add(key);
    if (outputs[key].cssBundle) seen.add(outputs[key].cssBundle);
    for (const imported of outputs[key].imports)
      if (imported.kind === 'import-statement') visit(imported.path);
  };
  visit(entryKey);
  return seen;
}

/** The source files an output and the chunks it imports statically hold. */
function sourcesOf(outputs, key, into = new Set(), seen = new Set()) {
  if (seen.has(key)) return into;
  seen.add(key);
  for (const input of Object.keys(outputs[key].inputs)) into.add(input);
  for (const imported of outputs[key].imports)
    if (imported.kind === 'import-statement') sourcesOf(outputs, imported.path, into, seen);
  return into;
}

const TEXT_CALL = /\b(?:t|mark)\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;
const textsOf = (files) =>
  new Set(
    [...files]
      .filter((file) => /^web\/src\/.*\.tsx?$/.test(file))
      .flatMap((file) =>
        [...readFileSync(join(root, file), 'utf8').matchAll(TEXT_CALL)].map((m) =>
          m[2].replace(/\\(.)/g, '$1'),
        ),
      ),
  );

const passOutputs = firstPass.metafile.outputs;
const passEntry = Object.keys(passOutputs).find((key) => passOutputs[key].entryPoint === 'web/src/main.tsx');
const passFirst = firstLoad(passOutputs, passEntry);
const coreTexts = textsOf([...passFirst].flatMap((key) => Object.keys(passOutputs[key].inputs)));
/** '' (the core) and each lazily loaded part, by its module's name (lazy's second argument). */
const groups = new Map([['', coreTexts]]);
for (const [key, output] of Object.entries(passOutputs)) {
  if (passFirst.has(key) || !output.entryPoint) continue;
  const name = basename(output.entryPoint).replace(/\.tsx?$/, '');
  const texts = [...textsOf(sourcesOf(passOutputs, key))].filter((text) => !coreTexts.has(text));
  if (texts.length > 0) groups.set(name, new Set(texts));
}

const packs = readdirSync(join(root, 'web/i18n'))
  .filter((name) => name.endsWith('.json'))
  .flatMap((name) => {
    const code = name.slice(0, -'.json'.length);
    const source = JSON.parse(readFileSync(join(root, 'web/i18n', name), 'utf8'));
    const keys = new Map();
    for (const english of Object.keys(source)) {
      const key = textKey(english);
      if (keys.has(key)) throw new Error(`web/i18n/${name}: two texts share the key ${key}; reword one`);
      keys.set(key, english);
    }
    return [...groups].map(([group, texts]) => {
      const keyed = {};
      for (const english of texts)
        if (source[english] !== undefined) keyed[textKey(english)] = source[english];
      const content = Buffer.from(JSON.stringify(keyed));
      const hash = createHash('sha256').update(content).digest('hex').slice(0, 10);
      return { code, group, file: `i18n-${code}-${group || 'core'}-${hash}.json`, content };
    });
  });
const packUrls = {};
for (const pack of packs) {
  packUrls[pack.code] ??= {};
  packUrls[pack.code][pack.group] = `/assets/${pack.file}`;
}

const web = await build({ ...webOptions, define: define(packUrls) });

const webDir = join(root, 'dist/web');
rmSync(webDir, { recursive: true, force: true });
mkdirSync(join(webDir, 'assets'), { recursive: true });
const manifest = [];
// Zopfli writes ordinary gzip (any browser inflates it) about 5 % smaller than zlib's best level.
const write = async (path, content) => {
  writeFileSync(path, content);
  const gzip = await gzipAsync(content, { numiterations: 15 });
  const brotli = brotliCompressSync(content, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: content.length },
  });
  writeFileSync(`${path}.gz`, gzip);
  writeFileSync(`${path}.br`, brotli);
  return { raw: content.length, gzip: gzip.length, brotli: brotli.length };
};
// What the first visit loads: the app, the chunks it imports statically (named in index.html as
// modulepreload, so they are fetched at once and counted in the budget) and its CSS. The rest are the
// lazily loaded pages' chunks.
const webOutputs = web.metafile.outputs;
const entry = Object.keys(webOutputs).find((key) => webOutputs[key].entryPoint === 'web/src/main.tsx');
const initialOutputs = firstLoad(webOutputs, entry);
const lazyChunks = [];
const tags = [];
for (const file of web.outputFiles) {
  const name = basename(file.path);
  const key = Object.keys(webOutputs).find((k) => basename(k) === name);
  manifest.push({ file: `assets/${name}`, ...(await write(file.path, file.contents)) });
  if (!initialOutputs.has(key)) lazyChunks.push(`assets/${name}`);
  else if (name.endsWith('.css')) tags.push(`<link rel="stylesheet" href="/assets/${name}">`);
  else if (key === entry) tags.push(`<script type="module" src="/assets/${name}"></script>`);
  else tags.push(`<link rel="modulepreload" href="/assets/${name}">`);
}
for (const file of worker.outputFiles) {
  manifest.push({ file: `assets/${basename(file.path)}`, ...(await write(file.path, file.contents)) });
}
for (const pack of packs) {
  manifest.push({
    file: `assets/${pack.file}`,
    ...(await write(join(webDir, 'assets', pack.file), pack.content)),
  });
}
const html = readFileSync(join(root, 'web/index.html'), 'utf8').replace(
  '<!-- assets -->',
  tags.join('\n    '),
);
manifest.push({ file: 'index.html', ...(await write(join(webDir, 'index.html'), Buffer.from(html))) });
const onDemand = [`assets/${workerName}`, ...packs.map((p) => `assets/${p.file}`), ...lazyChunks];
writeFileSync(join(webDir, 'manifest.json'), `${JSON.stringify({ assets: manifest, onDemand }, null, 2)}\n`);

const initial = manifest.filter((a) => a.file.startsWith('assets/') && !onDemand.includes(a.file));
const total = initial.reduce((sum, a) => sum + a.gzip, 0);
process.stderr.write(
  `metergate: built dist/device.mjs, dist/sim-device.mjs, dist/cli.mjs, dist/launcher.mjs and dist/web (JS + CSS ${(total / 1024).toFixed(1)} KiB gzipped)\n`,
);
