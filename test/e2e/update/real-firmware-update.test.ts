/**
 * The whole update path with the real firmware: the board's build (dist/device.mjs, from this checkout)
 * runs from slot a under the unit's chain (test/support/update-fixture.ts); `npm run bundle` packs this
 * build with its production node_modules as version 0.2.0; the launcher installs it into slot b, the
 * real device starts from there, answers its self-check over HTTPS, is confirmed and committed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readStatus } from '../../../firmware/update/firmware-slots.ts';
import { writeKeyPair } from '../../../firmware/update/signing-key.ts';
import { REPO_ROOT } from '../../support/device-process.ts';
import {
  type Layout,
  newLayout,
  placePending,
  startService,
  VENDOR_KEY,
} from '../../support/update-fixture.ts';

/** The board's firmware needs a meter: an unreachable one (values stay stale) is enough to boot. */
const METER = ['--meter', 'modbus-tcp://127.0.0.1:1?profile=eastron-sdm630'];

describe('update of the real firmware through the launcher', () => {
  let layout: Layout;
  after(() => rmSync(layout.root, { recursive: true, force: true }));

  it('installs a bundle of this build as 0.2.0 beside the checkout install, and commits it', async () => {
    // What install-pi.sh installs from a checkout: this build in slot a (linked, not copied).
    layout = newLayout([]);
    const slotA = join(layout.firmware, 'slots', 'a');
    mkdirSync(slotA, { recursive: true });
    symlinkSync(join(REPO_ROOT, 'dist'), join(slotA, 'dist'));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(slotA, 'node_modules'));
    copyFileSync(join(REPO_ROOT, 'package.json'), join(slotA, 'package.json'));
    const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;

    const first = await startService(layout, { readyTimeoutSeconds: 60, opts: METER });
    await first.stop();
    assert.equal(readStatus(layout.firmware, layout.spool).running?.version, version);

    const keyFile = join(layout.root, 'vendor.key');
    writeKeyPair(keyFile, VENDOR_KEY, 'test vendor');
    const out = join(layout.root, 'update.mgb');
    const built = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'scripts/bundle.ts', '--key', keyFile, '--version', '0.2.0', '--out', out],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(built.status, 0, built.stderr);
    placePending(layout, readFileSync(out));

    const updated = await startService(layout, { readyTimeoutSeconds: 60, opts: METER });
    await updated.waitForLog('version 0.2.0 is ready and passed its self-check: confirmed');
    await updated.stop();
    assert.match(updated.log, /installed 0\.2\.0 into slot b/);
    const again = await startService(layout, { readyTimeoutSeconds: 60, opts: METER });
    await again.stop();
    assert.match(again.log, /version 0\.2\.0 committed/);
    const status = readStatus(layout.firmware, layout.spool);
    assert.deepEqual(status.running, { slot: 'b', version: '0.2.0', signed: true });
    assert.equal(status.previous?.version, version);
    assert.equal(status.floor, '0.2.0');
  });
});
