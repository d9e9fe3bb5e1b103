/**
 * The built-in profiles ship inside the bundle: meter-profile.ts bundled by esbuild with the options
 * scripts/build.mjs gives dist/device.mjs (ESM, node platform, packages external) loads every built-in
 * profile and parses a user's file (the lazily required yaml package resolves from the bundle's place).
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('meter profiles in a bundle', () => {
  it('loadProfile works from an esbuild bundle as dist/device.mjs is built', async (t) => {
    const dir = join(root, 'test-output', `profile-bundle-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const outfile = join(dir, 'meter-profile.mjs');
    await build({
      absWorkingDir: root,
      entryPoints: ['firmware/meter/meter-profile.ts'],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      packages: 'external',
      logLevel: 'warning',
    });
    const bundled = (await import(
      pathToFileURL(outfile).href
    )) as typeof import('../../../firmware/meter/meter-profile.ts');
    for (const name of bundled.BUILT_IN_PROFILES) {
      assert.equal(bundled.loadProfile(name).name, name);
    }
    assert.equal(bundled.loadProfile('eastron-sdm630').points.length, 27);
    const file = join(dir, 'own.yaml');
    writeFileSync(
      file,
      'name: own\ntitle: own\nsource: test\npoints:\n  - { quantity: f, address: 0, functionCode: 3, encoding: uint16, unit: Hertz }\n',
    );
    assert.throws(() => bundled.loadProfile(file), {
      message: new RegExp(`^${file}:5: points\\[0\\]\\.unit: `),
    });
  });
});
