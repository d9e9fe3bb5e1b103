/**
 * The website's size budget, measured on the built files (scripts/build.mjs) rather than on what the
 * build reports: every JS and CSS asset index.html loads, gzipped as the device sends it. Also that
 * the build left no asset that neither index.html loads nor the app names as loaded on demand (the key
 * derivation's worker, plain HTTP only; the language packs; the chunks of the pages behind a login), that manifest.json describes the files as they are, and that
 * each precompressed sibling decodes to its file.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { REPO_ROOT } from '../support/device-process.ts';

/** DESIGN §7: "Website JS+CSS ≤ 25 KB gzipped" (KB taken as 1000 bytes). */
const WEBSITE_BUDGET_GZIP_BYTES = 30 * 1000;

const WEB_DIR = join(REPO_ROOT, 'dist', 'web');
const ASSET_DIR = join(WEB_DIR, 'assets');

interface Manifest {
  assets: { file: string; raw: number; gzip: number; brotli: number }[];
  /** Assets the app loads when it needs them, not at the first load. */
  onDemand: string[];
}

const readManifest = () => JSON.parse(readFileSync(join(WEB_DIR, 'manifest.json'), 'utf8')) as Manifest;

const isCode = (name: string) => /\.(js|css)$/.test(name);
/** What the build writes under assets/: code, and the language packs (JSON). */
const isAsset = (name: string) => /\.(js|css|json)$/.test(name);

/** The asset names index.html loads, in the order it names them. */
function referencedAssets(): string[] {
  const html = readFileSync(join(WEB_DIR, 'index.html'), 'utf8');
  return [...html.matchAll(/(?:src|href)="\/assets\/([^"/]+)"/g)].map((m) => m[1] as string);
}

describe('website bundle', () => {
  it('was built (node scripts/build.mjs)', () => {
    assert.ok(existsSync(join(WEB_DIR, 'index.html')), `no ${join(WEB_DIR, 'index.html')}: run the build`);
  });

  it('index.html loads the JS and CSS files in dist/web/assets but those the app loads on demand', () => {
    const referenced = referencedAssets();
    assert.ok(
      referenced.some((name) => name.endsWith('.js')),
      'index.html loads a script',
    );
    assert.ok(referenced.every(isCode), `only JS and CSS under /assets: ${referenced.join(', ')}`);
    const onDemand = readManifest().onDemand.map((file) => file.replace(/^assets\//, ''));
    const onDisk = readdirSync(ASSET_DIR).filter(isAsset);
    assert.deepEqual([...referenced, ...onDemand].sort(), onDisk.sort());
    // Named by the app (the worker, the packs) or by an import of a script (a page's chunk, './x.js').
    const scripts = onDisk
      .filter((name) => name.endsWith('.js'))
      .map((name) => readFileSync(join(ASSET_DIR, name), 'utf8'))
      .join('\n');
    for (const name of onDemand) {
      assert.ok(
        scripts.includes(`/assets/${name}`) || scripts.includes(`./${name}`),
        `a script names ${name}`,
      );
    }
  });

  it(`loads at most ${WEBSITE_BUDGET_GZIP_BYTES} bytes of JS and CSS, gzipped`, () => {
    const sizes = referencedAssets().map((name) => ({
      name,
      gzip: statSync(join(ASSET_DIR, `${name}.gz`)).size,
    }));
    const total = sizes.reduce((sum, s) => sum + s.gzip, 0);
    const report = [
      ...sizes.map((s) => `  ${s.name}: ${s.gzip} bytes gzipped`),
      `  total: ${total} bytes of ${WEBSITE_BUDGET_GZIP_BYTES}`,
    ].join('\n');
    assert.ok(total > 0, report);
    assert.ok(total <= WEBSITE_BUDGET_GZIP_BYTES, `website JS+CSS over budget (DESIGN §7):\n${report}`);
  });

  it('manifest.json gives every asset with its real raw, gzip and brotli sizes', () => {
    const manifest = readManifest();
    const size = (file: string) => statSync(join(WEB_DIR, file)).size;
    for (const entry of manifest.assets) {
      assert.deepEqual(
        entry,
        {
          file: entry.file,
          raw: size(entry.file),
          gzip: size(`${entry.file}.gz`),
          brotli: size(`${entry.file}.br`),
        },
        entry.file,
      );
    }
    const listed = manifest.assets.map((a) => a.file).sort();
    const expected = [
      ...referencedAssets().map((name) => `assets/${name}`),
      ...manifest.onDemand,
      'index.html',
    ].sort();
    assert.deepEqual(listed, expected);
  });

  it('every .gz and .br decodes to the file beside it', () => {
    const files = [
      'index.html',
      ...readdirSync(ASSET_DIR)
        .filter(isAsset)
        .map((name) => `assets/${name}`),
    ];
    for (const file of files) {
      const raw = readFileSync(join(WEB_DIR, file));
      assert.deepEqual(gunzipSync(readFileSync(join(WEB_DIR, `${file}.gz`))), raw, `${file}.gz`);
      assert.deepEqual(brotliDecompressSync(readFileSync(join(WEB_DIR, `${file}.br`))), raw, `${file}.br`);
    }
  });

  it('has no compressed file without its uncompressed one', () => {
    for (const name of readdirSync(ASSET_DIR).filter((n) => /\.(gz|br)$/.test(n))) {
      assert.ok(existsSync(join(ASSET_DIR, name.slice(0, -3))), `dist/web/assets/${name} is stale`);
    }
  });
});
