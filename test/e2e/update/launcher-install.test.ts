/**
 * The A/B install through the real launcher and the systemd unit's ExecStart chain, run without
 * systemd in a temp root (test/support/update-fixture.ts): an update to a newer signed bundle is
 * installed beside the running version, switched to, confirmed and committed; tampered, foreign-key,
 * downgrade, wrong-target, truncated and too-old bundles are refused with their code and nothing
 * changes; a new version that never becomes ready (or quits) is replaced by the previous one and the
 * failure is the last result.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readStatus } from '../../../firmware/update/firmware-slots.ts';
import { startRestFixture } from '../../support/rest-fixture.ts';
import {
  fakeBundle,
  type Layout,
  newLayout,
  placePending,
  STRANGER_KEY,
  startService,
  TARGET,
} from '../../support/update-fixture.ts';

const layouts: Layout[] = [];
after(() => {
  for (const layout of layouts) rmSync(layout.root, { recursive: true, force: true });
});

function layout(): Layout {
  const made = newLayout();
  layouts.push(made);
  return made;
}

/** Updates a layout to `version` through the chain: upload, restart, confirm, restart (commit). */
async function updateTo(l: Layout, version: string): Promise<void> {
  placePending(l, fakeBundle(version));
  const service = await startService(l);
  assert.equal(service.version, version);
  await service.waitForLog('confirmed');
  await service.stop();
}

/** Everything of the layout a refused bundle must leave alone. */
function snapshot(l: Layout) {
  const slots = readdirSync(join(l.firmware, 'slots')).sort();
  return {
    current: readlinkSync(join(l.firmware, 'current')),
    slots,
    files: slots.map((slot) => readdirSync(join(l.firmware, 'slots', slot), { recursive: true }).sort()),
    floor: readStatus(l.firmware, l.spool).floor,
  };
}

describe('A/B install through the launcher', () => {
  it("the launcher's last result is a security event at the next boot of the device", async () => {
    const l = layout();
    await updateTo(l, '2.0.0');
    placePending(l, fakeBundle('3.0.0', { behaviour: 'never-ready' }));
    const fellBack = await startService(l, { readyTimeoutSeconds: 1 });
    await fellBack.stop();
    assert.equal(readStatus(l.firmware, l.spool).lastResult?.result, 'fallback');
    // The real device, started as the launcher starts it, over this layout.
    const fixture = await startRestFixture(['--firmware-dir', l.firmware, '--update-spool', l.spool]);
    try {
      const events = async () =>
        (
          await fixture.admin.request<{ events: { type: string; result: string; detail?: string }[] }>(
            'GET',
            '/api/v1/audit?limit=50',
          )
        ).body.events.filter((e) => e.type.startsWith('firmware.'));
      assert.deepEqual(
        (await events()).map(({ type, result, detail }) => ({ type, result, detail })),
        [{ type: 'firmware.fallback', result: 'failed', detail: '3.0.0 update.not-ready' }],
      );
      const status = await fixture.admin.request<{ lastResult: { result: string } }>(
        'GET',
        '/api/v1/firmware',
      );
      assert.equal(status.body.lastResult.result, 'fallback');
    } finally {
      await fixture.close();
    }
  });

  it('installs a newer signed bundle beside the running version, switches, confirms and commits it', async () => {
    const l = layout();
    const first = await startService(l);
    assert.equal(first.version, '1.0.0');
    await first.stop();

    placePending(l, fakeBundle('1.1.0'));
    const second = await startService(l);
    assert.equal(second.version, '1.1.0', 'the new version runs after the restart');
    assert.equal(readlinkSync(join(l.firmware, 'current')), 'slots/b', 'installed beside slot a');
    assert.equal(readlinkSync(join(l.firmware, 'previous')), 'slots/a');
    await second.waitForLog('version 1.1.0 is ready and passed its self-check: confirmed');
    await second.stop();

    const third = await startService(l);
    assert.equal(third.version, '1.1.0');
    assert.match(third.log, /version 1\.1\.0 committed/);
    await third.stop();
    const status = readStatus(l.firmware, l.spool);
    assert.equal(status.running?.version, '1.1.0');
    assert.equal(status.running?.signed, true);
    assert.equal(status.previous?.version, '1.0.0');
    assert.equal(status.floor, '1.1.0');
    assert.equal(status.trial, null);
    assert.equal(status.lastResult?.result, 'installed');
    assert.equal(status.pending, false);
  });

  it('refuses tampered, foreign-key, downgrade, wrong-target, truncated and too-old bundles, and changes nothing', async () => {
    const l = layout();
    await updateTo(l, '2.0.0');
    await (await startService(l)).stop();
    const before = snapshot(l);
    assert.equal(before.floor, '2.0.0');

    const good = Buffer.from(fakeBundle('2.1.0'));
    const tampered = Buffer.from(good);
    tampered[tampered.length - 10] = (tampered[tampered.length - 10] as number) ^ 0x01;
    const other = TARGET === 'linux-x64' ? 'linux-arm64' : 'linux-x64';
    const cases: [string, Uint8Array][] = [
      ['bundle.wrong-hash', tampered],
      ['bundle.unknown-key', fakeBundle('2.1.0', { key: STRANGER_KEY.secretKey })],
      ['bundle.downgrade', fakeBundle('1.9.9')],
      ['bundle.wrong-target', fakeBundle('2.1.0', { target: other })],
      ['bundle.truncated', good.subarray(0, good.length - 100)],
      ['bundle.too-old', fakeBundle('3.0.0', { minFromVersion: '2.0.1' })],
    ];
    for (const [code, bundle] of cases) {
      placePending(l, bundle);
      const service = await startService(l);
      assert.equal(service.version, '2.0.0', `${code}: the installed version still runs`);
      assert.match(service.log, new RegExp(`update refused: ${code}: `));
      await service.stop();
      const status = readStatus(l.firmware, l.spool);
      assert.equal(status.lastResult?.result, 'refused');
      assert.equal(status.lastResult?.code, code);
      assert.equal(status.pending, false, `${code}: the refused bundle is gone`);
      assert.deepEqual(snapshot(l), before, `${code}: nothing in the layout changed`);
    }
  });

  it('a restored old floor file does not allow a downgrade below the running version', async () => {
    const l = layout();
    await updateTo(l, '2.0.0');
    await (await startService(l)).stop();
    rmSync(join(l.firmware, 'state', 'floor'));
    placePending(l, fakeBundle('1.5.0'));
    const service = await startService(l);
    assert.equal(service.version, '2.0.0');
    assert.match(service.log, /update refused: bundle\.downgrade: version 1\.5\.0 is below 2\.0\.0/);
    await service.stop();
  });

  for (const behaviour of ['never-ready', 'exit-early'] as const) {
    it(`falls back to the previous version when the new one ${behaviour === 'never-ready' ? 'never becomes ready' : 'quits before it is ready'}`, async () => {
      const l = layout();
      await updateTo(l, '2.0.0');
      placePending(l, fakeBundle('3.0.0', { behaviour }));
      const service = await startService(l, { readyTimeoutSeconds: 2 });
      assert.equal(service.version, '2.0.0', 'the previous version runs again');
      assert.match(service.log, /version 3\.0\.0 starts on trial/);
      assert.match(service.log, /version 3\.0\.0 failed .*; back to the previous version/);
      await service.stop();
      const status = readStatus(l.firmware, l.spool);
      assert.equal(status.running?.version, '2.0.0');
      assert.equal(status.previous, null, 'the failed version is no fallback');
      assert.equal(status.floor, '2.0.0', 'the failed version did not raise the floor');
      assert.equal(status.lastResult?.result, 'fallback');
      assert.equal(status.lastResult?.code, 'update.not-ready');
      assert.equal(status.lastResult?.version, '3.0.0');
      // A fixed 3.0.0 can be installed afterwards.
      await updateTo(l, '3.0.0');
      assert.equal(readStatus(l.firmware, l.spool).running?.version, '3.0.0');
      assert.ok(!existsSync(join(l.spool, 'pending.mgb')));
    });
  }
});
