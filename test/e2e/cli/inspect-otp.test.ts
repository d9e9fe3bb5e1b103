/**
 * A device run with `--key-provider otp` (its root key derived from the Raspberry Pi's OTP key; here a
 * fake `rpi-otp-private-key` on PATH) and `metergate inspect` on its data dir: with
 * `--key-provider otp` it reads the store, without it there is no root key file and it reports the
 * safe mode the device itself would enter with the file provider.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, startDevice } from '../../support/device-process.ts';

test('inspect --key-provider otp reads the store of a device run on the OTP key', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'metergate-inspect-otp-'));
  const path = process.env.PATH;
  t.after(() => {
    process.env.PATH = path;
    rmSync(root, { recursive: true, force: true });
  });
  const bin = join(root, 'bin');
  mkdirSync(bin);
  const tool = join(bin, 'rpi-otp-private-key');
  writeFileSync(tool, `#!/bin/sh\necho ${'3c'.repeat(32)}\n`);
  chmodSync(tool, 0o755);
  // The device and the CLI inherit this PATH: the fake reader first.
  process.env.PATH = `${bin}:${path}`;
  const dataDir = join(root, 'data');
  const device = await startDevice(['--data-dir', dataDir, '--key-provider', 'otp']);
  await device.stop();
  assert.ok(existsSync(join(dataDir, 'keys', 'otp.salt')), 'the OTP provider keeps its salt');
  assert.ok(!existsSync(join(dataDir, 'keys', 'root.key')), 'and no root key file');

  const withOtp = runCli(['inspect', '--data-dir', dataDir, '--json', '--key-provider', 'otp']);
  assert.equal(withOtp.status, 0, withOtp.stderr);
  const report = JSON.parse(withOtp.stdout) as { mode: string; slots: { name: string | null }[] };
  assert.equal(report.mode, 'normal');
  assert.equal(report.slots[0]?.name, 'admin');

  const withFile = runCli(['inspect', '--data-dir', dataDir, '--json']);
  assert.equal(withFile.status, 3, 'no root key file: the file provider sees a store it cannot open');
  const bad = runCli(['inspect', '--data-dir', dataDir, '--key-provider', 'tpm']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--key-provider must be 'file' or 'otp'/);
});
