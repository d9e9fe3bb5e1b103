/**
 * `metergate inspect` right after a factory reset: the data dir is in factory state, which is no
 * fault (the next boot makes a new device), so it says so and exits 0 instead of "SAFE", exit 3.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { factoryResetCommand } from '../../../firmware/cli/factory-reset-command.ts';
import { startDevice } from '../../support/device-process.ts';
import { cli } from './cli-process.ts';

test('inspect after a factory reset: factory state, boots as a new device, exit 0', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'metergate-inspect-factory-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'device');
  await (await startDevice(['--data-dir', dir])).stop();
  const quiet = { out: () => {}, err: () => {} };
  // As root on the device (the command's own rule; the test passes root's euid in).
  assert.equal(await factoryResetCommand(['--data-dir', dir, '--yes'], quiet, { euid: () => 0 }), 0);

  const text = await cli(['inspect', '--data-dir', dir]);
  assert.equal(text.code, 0, text.stdout + text.stderr);
  assert.match(text.stdout, /factory state: boots as a new device/);
  assert.doesNotMatch(text.stdout, /SAFE/);
  const json = await cli(['inspect', '--data-dir', dir, '--json']);
  assert.equal(json.code, 0);
  assert.equal(JSON.parse(json.stdout).mode, 'factory');

  // And the device does boot as a new one on it.
  await (await startDevice(['--data-dir', dir])).stop();
  const booted = await cli(['inspect', '--data-dir', dir]);
  assert.equal(booted.code, 0);
  assert.match(booted.stdout, /must-change-password/);
});
