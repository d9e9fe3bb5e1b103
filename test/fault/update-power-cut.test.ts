/**
 * Power cut during an update: the launcher's prepare step (the unit's ExecStartPre) is SIGKILLed right
 * after each of its steps in turn, as the power-cut tests cut the flash after each byte. After each
 * kill the unit's chain starts again (test/support/update-fixture.ts) and a version must come up: the
 * old or the new one, never neither; and the layout settles (a second start runs the same version
 * with nothing left on trial, or the new one committed).
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { INSTALL_STEPS, readStatus } from '../../firmware/update/firmware-slots.ts';
import { writeArchive } from '../../firmware/update/payload-archive.ts';
import {
  fakeBundle,
  fakeFirmware,
  type Layout,
  newLayout,
  placePending,
  runPrepare,
  startService,
} from '../support/update-fixture.ts';

const layouts: Layout[] = [];
after(() => {
  for (const layout of layouts) rmSync(layout.root, { recursive: true, force: true });
});

/** A device that was updated once: 2.0.0 (signed) runs from slot b, 1.0.0 in slot a is previous. */
function updatedOnce(): Layout {
  const l = newLayout();
  layouts.push(l);
  const b = join(l.firmware, 'slots', 'b');
  writeArchive(fakeFirmware('2.0.0'), b);
  writeFileSync(join(b, 'bundle.json'), JSON.stringify({ manifest: { version: '2.0.0' } }));
  rmSync(join(l.firmware, 'current'));
  symlinkSync('slots/b', join(l.firmware, 'current'));
  symlinkSync('slots/a', join(l.firmware, 'previous'));
  mkdirSync(join(l.firmware, 'state'));
  writeFileSync(join(l.firmware, 'state', 'floor'), '2.0.0\n');
  return l;
}

async function versionAfterRestart(l: Layout): Promise<string> {
  const service = await startService(l, { readyTimeoutSeconds: 2 });
  await service.stop();
  return service.version;
}

describe('power cut (SIGKILL) at each step of an update', () => {
  const installSteps = INSTALL_STEPS.slice(0, INSTALL_STEPS.indexOf('armed') + 1);
  for (const step of installSteps) {
    it(`killed after '${step}' of installing 3.0.0: a version runs, and the install finishes or is undone`, async () => {
      const l = updatedOnce();
      placePending(l, fakeBundle('3.0.0'));
      const killed = runPrepare(l, step);
      assert.equal(killed.signal, 'SIGKILL', `prepare reached '${step}': ${killed.stderr}`);
      const service = await startService(l, { readyTimeoutSeconds: 2 });
      // Killed once it was armed, the start it was armed for counts as the failed trial: fallback.
      const expected = step === 'armed' ? '2.0.0' : '3.0.0';
      assert.equal(service.version, expected, service.log);
      if (expected === '3.0.0') await service.waitForLog('confirmed');
      await service.stop();
      assert.equal(await versionAfterRestart(l), expected, 'the same version after another restart');
      const status = readStatus(l.firmware, l.spool);
      assert.equal(status.trial, null, 'nothing left on trial');
      assert.equal(status.pending, false);
      assert.equal(status.floor, expected);
      assert.equal(status.lastResult?.result, expected === '3.0.0' ? 'installed' : 'fallback');
    });
  }

  for (const step of ['fallback-marked', 'fallback-switched'] as const) {
    it(`killed after '${step}' of falling back from a 3.0.0 that never became ready: 2.0.0 runs`, async () => {
      const l = updatedOnce();
      placePending(l, fakeBundle('3.0.0', { behaviour: 'never-ready' }));
      // The trial start (installs, arms): 3.0.0 never becomes ready; the launcher gives up.
      await assert.rejects(
        startService(l, { readyTimeoutSeconds: 1, restarts: 0 }),
        /no version became ready/,
      );
      const killed = runPrepare(l, step);
      assert.equal(killed.signal, 'SIGKILL', `prepare reached '${step}': ${killed.stderr}`);
      assert.equal(await versionAfterRestart(l), '2.0.0');
      assert.equal(await versionAfterRestart(l), '2.0.0');
      const status = readStatus(l.firmware, l.spool);
      assert.equal(status.trial, null);
      assert.equal(status.lastResult?.result, 'fallback');
      assert.equal(status.floor, '2.0.0');
    });
  }

  it("killed after 'committed' of a 3.0.0 that was confirmed: 3.0.0 runs, committed once", async () => {
    const l = updatedOnce();
    placePending(l, fakeBundle('3.0.0'));
    const trial = await startService(l);
    assert.equal(trial.version, '3.0.0');
    await trial.waitForLog('confirmed');
    await trial.stop();
    const killed = runPrepare(l, 'committed');
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(await versionAfterRestart(l), '3.0.0');
    const status = readStatus(l.firmware, l.spool);
    assert.equal(status.floor, '3.0.0');
    assert.equal(status.trial, null);
    assert.equal(status.lastResult?.result, 'installed');
  });
});
