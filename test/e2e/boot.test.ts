/**
 * The device process end to end: first boot, restart keeping the table, clean SIGTERM, the ready
 * line, safe mode on a damaged or wrong-sized image, `--sim-powercut-after-bytes`, the data-dir lock
 * and bad flags; with `metergate inspect` and `factory-reset` run against the same data dir.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createVerifier, MIN_KDF_ITERATIONS } from '../../firmware/auth/password-verifier.ts';
import { NO_POWERCUT_MESSAGE, NO_SIM_MESSAGE } from '../../firmware/boot/boot-device.ts';
import { permissionsFromNames } from '../../firmware/core/permission-table.ts';
import { actorFor, addUser } from '../../firmware/core/user-table.ts';
import { FileKeyProvider, FileMonotonicCounter } from '../../firmware/keys/file-key-provider.ts';
import { SecureStore } from '../../firmware/store/secure-store.ts';
import { NorFlash } from '../../sim/nor-flash.ts';
import { FIRMWARE_ENTRY, runCli, runDeviceToExit, startDevice } from '../support/device-process.ts';

interface InspectReport {
  mode: string;
  sequence: number;
  slots: { slot: number; type: string; name: string | null; permissions: string[]; flags: string[] }[];
  eventLog: { events: number; damaged: number };
}

function inspect(dataDir: string): { status: number | null; report: InspectReport | null; stderr: string } {
  const result = runCli(['inspect', '--data-dir', dataDir, '--json']);
  const report =
    result.status === 0 || result.status === 3 ? (JSON.parse(result.stdout) as InspectReport) : null;
  return { status: result.status, report, stderr: result.stderr };
}

describe('device boot', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'metergate-e2e-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('first boot prints one ready line, creates key and image, and stops cleanly on SIGTERM', async () => {
    const dir = join(root, 'first');
    const device = await startDevice(['--data-dir', dir]);
    assert.equal(device.ready.mode, 'normal');
    assert.ok(
      Number.isInteger(device.ready.http) && Number.isInteger(device.ready.https),
      'HTTP and HTTPS bound',
    );
    assert.equal(device.ready.modbusTcp, null, 'Modbus TCP is blocked by default');
    assert.match(device.stderr(), /first boot/);
    assert.equal(statSync(join(dir, 'keys', 'root.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'keys')).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'flash.img')).size, 128 * 1024);
    assert.deepEqual(await device.stop(), { code: 0, signal: null });
    assert.equal(device.stdout().match(/metergate ready/g)?.length, 1);

    const { status, report } = inspect(dir);
    assert.equal(status, 0);
    assert.deepEqual(
      report?.slots.map((s) => [s.slot, s.type, s.name]),
      [
        [0, 'user', 'admin'],
        [1, 'standard', 'localgui'],
        [2, 'standard', 'anonymous'],
        [3, 'empty', null],
        [4, 'empty', null],
        [5, 'empty', null],
        [6, 'empty', null],
        [7, 'empty', null],
      ],
    );
    assert.deepEqual(report?.slots[0]?.flags, ['must-change-password']);
    assert.deepEqual(report?.slots[2]?.permissions, ['measurements.read', 'meters.read']);
  });

  it('a restart keeps the table that is on flash', async () => {
    const dir = join(root, 'restart');
    await (await startDevice(['--data-dir', dir])).stop();
    // Change the table as a later boot would find it: through the store, with the device stopped.
    const flash = NorFlash.open({ path: join(dir, 'flash.img') });
    const keys = join(dir, 'keys');
    const opened = await SecureStore.open({
      flash,
      keys: new FileKeyProvider(keys),
      counter: new FileMonotonicCounter(join(keys, 'rollback.counter')),
      now: Date.now,
    });
    assert.equal(opened.mode, 'normal');
    if (opened.mode !== 'normal') return;
    const state = opened.store.state;
    const verifier = await createVerifier('Meter-Reader 2026', { iterations: MIN_KDF_ITERATIONS });
    const admin = { ...actorFor(state.table, 0), mustChangePassword: false };
    const { table } = addUser(state.table, admin, {
      name: 'reader',
      verifier,
      permissions: permissionsFromNames(['measurements.read']),
    });
    opened.store.commit({ ...state, table });
    flash.close();

    for (let boot = 0; boot < 2; boot++) {
      const device = await startDevice(['--data-dir', dir]);
      assert.equal(device.ready.mode, 'normal');
      assert.doesNotMatch(device.stderr(), /first boot/);
      assert.equal((await device.stop()).code, 0);
      const { report } = inspect(dir);
      assert.deepEqual(report?.slots[3], {
        slot: 3,
        type: 'user',
        name: 'reader',
        permissions: ['measurements.read'],
        flags: [],
      });
    }
  });

  it('both copies damaged → safe mode on stderr and in the ready JSON; inspect exits 3; no defaults written', async () => {
    const dir = join(root, 'safe');
    await (await startDevice(['--data-dir', dir])).stop();
    const image = readFileSync(join(dir, 'flash.img'));
    image[100] = (image[100] as number) ^ 0x01;
    image[4096 + 100] = (image[4096 + 100] as number) ^ 0x80;
    writeFileSync(join(dir, 'flash.img'), image);

    const device = await startDevice(['--data-dir', dir]);
    assert.equal(device.ready.mode, 'safe');
    assert.match(device.ready.safeReason ?? '', /no valid copy/);
    assert.match(device.stderr(), /SAFE MODE/);
    assert.equal((await device.stop()).code, 0);
    assert.deepEqual(readFileSync(join(dir, 'flash.img')), image, 'safe mode must not write the image');
    const { status, report } = inspect(dir);
    assert.equal(status, 3);
    assert.equal(report?.mode, 'safe');
  });

  it('a wrong-sized image → safe mode with a clear reason, never a crash', async () => {
    const dir = join(root, 'wrong-size');
    await (await startDevice(['--data-dir', dir])).stop();
    writeFileSync(join(dir, 'flash.img'), Buffer.alloc(1000, 0x42));
    const device = await startDevice(['--data-dir', dir]);
    assert.equal(device.ready.mode, 'safe');
    assert.match(device.ready.safeReason ?? '', /1000 bytes/);
    await device.stop();
    const result = runCli(['inspect', '--data-dir', dir]);
    assert.equal(result.status, 3);
    assert.match(result.stderr, /1000 bytes/);
  });

  it('factory reset: needs --yes, refuses while the device runs, then restores the defaults', async () => {
    const dir = join(root, 'reset');
    await (await startDevice(['--data-dir', dir])).stop();
    const keyBefore = readFileSync(join(dir, 'keys', 'root.key'));

    const noYes = runCli(['factory-reset', '--data-dir', dir]);
    assert.equal(noYes.status, 2);
    assert.match(noYes.stderr, /--yes/);

    const device = await startDevice(['--data-dir', dir]);
    const busy = runCli(['factory-reset', '--data-dir', dir, '--yes']);
    assert.equal(busy.status, 1);
    assert.match(busy.stderr, new RegExp(`in use by process ${device.process.pid}`));
    await device.stop();

    const reset = runCli(['factory-reset', '--data-dir', dir, '--yes']);
    assert.equal(reset.status, 0, reset.stderr);
    const after = await startDevice(['--data-dir', dir]);
    assert.equal(after.ready.mode, 'normal');
    assert.match(after.stderr(), /first boot/);
    await after.stop();
    assert.notDeepEqual(readFileSync(join(dir, 'keys', 'root.key')), keyBefore, 'a new root key');
    // 1: the factory table; 2: the new self-signed certificate's files anchored (docs/flash-format.md).
    assert.equal(inspect(dir).report?.sequence, 2);
  });

  it('factory reset leaves a safe-mode device (the way out of safe mode)', async () => {
    const dir = join(root, 'safe-reset');
    await (await startDevice(['--data-dir', dir])).stop();
    writeFileSync(join(dir, 'flash.img'), Buffer.alloc(128 * 1024, 0x00));
    const safe = await startDevice(['--data-dir', dir]);
    assert.equal(safe.ready.mode, 'safe');
    await safe.stop();
    assert.equal(runCli(['factory-reset', '--data-dir', dir, '--yes']).status, 0);
    const device = await startDevice(['--data-dir', dir]);
    assert.equal(device.ready.mode, 'normal');
    await device.stop();
  });

  it('--sim-powercut-after-bytes kills the process mid-write; the next boot is normal', async () => {
    // First boot programs about 1150 bytes (two 456-byte copies, the log block header, two events).
    for (const bytes of [1, 40, 300, 460, 700, 1000]) {
      const dir = join(root, `powercut-${bytes}`);
      const cut = runDeviceToExit(['--data-dir', dir, '--sim-powercut-after-bytes', String(bytes)]);
      assert.equal(cut.signal, 'SIGKILL', `cut after ${bytes} bytes: ${cut.stderr}`);
      assert.doesNotMatch(cut.stdout, /metergate ready/);
      const device = await startDevice(['--data-dir', dir]);
      assert.equal(device.ready.mode, 'normal', `after a cut at ${bytes} bytes: ${device.stderr()}`);
      await device.stop();
      assert.equal(inspect(dir).report?.slots[0]?.name, 'admin');
    }
  });

  it('a second device on the same data dir is refused, naming the holder', async () => {
    const dir = join(root, 'lock');
    const device = await startDevice(['--data-dir', dir]);
    const second = runDeviceToExit(['--data-dir', dir]);
    assert.equal(second.status, 1);
    assert.match(second.stderr, new RegExp(`in use by process ${device.process.pid}`));
    await device.stop();
  });

  it('bad flags exit 2 naming the flag', () => {
    const port = runDeviceToExit(['--data-dir', join(root, 'x'), '--http-port', '70000']);
    assert.equal(port.status, 2);
    assert.match(port.stderr, /--http-port must be a port number/);
    const unknown = runDeviceToExit(['--frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /frobnicate/);
    const counter = runDeviceToExit(['--data-dir', join(root, 'x'), '--counter-file', `${root}/`]);
    assert.equal(counter.status, 2);
    assert.match(counter.stderr, /--counter-file must name a file/);
  });

  it('the board firmware (dist/device.mjs) carries no simulator: --sim and power cuts are refused, naming the simulated device', () => {
    const firmware = (args: readonly string[]) =>
      spawnSync(process.execPath, [FIRMWARE_ENTRY, '--http-port', '0', '--https-port', '0', ...args], {
        encoding: 'utf8',
        timeout: 15_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const dataDir = join(root, 'firmware-build');
    for (const args of [['--sim'], ['--meter', 'sim']]) {
      const refused = firmware([...args, '--data-dir', dataDir, '--display', 'none']);
      assert.equal(refused.status, 2, refused.stderr);
      assert.ok(refused.stderr.includes(NO_SIM_MESSAGE), refused.stderr);
      assert.ok(!existsSync(dataDir), 'the refusal touched the data dir');
    }
    const cut = firmware([
      ...['--meter', 'modbus-tcp://127.0.0.1:1?profile=eastron-sdm630', '--data-dir', dataDir],
      ...['--display', 'none', '--sim-powercut-after-bytes', '10'],
    ]);
    assert.equal(cut.status, 2, cut.stderr);
    assert.ok(cut.stderr.includes(NO_POWERCUT_MESSAGE), cut.stderr);
    assert.ok(!existsSync(dataDir), 'the refusal touched the data dir');
  });
});
