/**
 * The meter source in the commissioning file: `metergate provision` stores `meter:` in the sealed
 * configuration record, and the device started without `--meter` reads its values from that source
 * (a pymodbus meter, Debian's, behind modbus-tcp). A `--meter` flag wins over the stored source. A bad
 * `meter:` is refused by provision naming the line, and creates nothing. `GET /api/v1/info` shows a
 * user's own profile by its name, never its file path.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { EASTRON_SDM630 } from '../../../firmware/meter/profiles/eastron-sdm630.ts';
import {
  NO_METER_FLAG,
  type RunningDevice,
  runCli,
  runDeviceToExit,
  startDevice,
} from '../../support/device-process.ts';
import { openTerminal } from '../../support/display-fixture.ts';
import { startPtyPair } from '../../support/modbus-rtu-fixture.ts';
import { startPymodbusMeter } from '../../support/pymodbus-meter.ts';

const POLL = 'interval=100ms&timeout=500ms&retries=0&stale-after=3';

interface MeasurementsBody {
  state: string;
  voltage: (number | null)[];
  total: { activePower: number | null };
}
interface InfoBody {
  meter: { source: string; profile: string | null; state: string };
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-provisioned-meter-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function stopAfter(t: TestContext, device: RunningDevice): Promise<RunningDevice> {
  t.after(() => device.stop());
  return device;
}

/** Polls REST as anonymous until the device shows fresh values with P = `power`; bounded. */
async function untilPower(device: RunningDevice, power: number): Promise<MeasurementsBody> {
  const anonymous = new DeviceClient(`http://127.0.0.1:${device.ready.http}`);
  const deadline = Date.now() + 15_000;
  let last: unknown;
  for (;;) {
    const body = (await anonymous.request<MeasurementsBody>('GET', '/api/v1/measurements')).body;
    last = body;
    if (body.state === 'fresh' && body.total.activePower === power) return body;
    if (Date.now() > deadline) assert.fail(`REST never showed P = ${power} W: ${JSON.stringify(last)}`);
    await sleep(50);
  }
}

async function info(device: RunningDevice): Promise<InfoBody> {
  const anonymous = new DeviceClient(`http://127.0.0.1:${device.ready.http}`);
  return (await anonymous.request<InfoBody>('GET', '/api/v1/info')).body;
}

describe('the meter source from the commissioning file', () => {
  it('a provisioned device started without --meter reads the stored modbus-tcp meter; --meter wins over it', async (t) => {
    const meter = await startPymodbusMeter(t, { layout: 'sdm630' });
    await meter.set('u1', 231.5);
    await meter.set('pTotal', 2400);
    const dir = tempDir(t);
    const file = join(dir, 'commissioning.yaml');
    writeFileSync(
      file,
      `version: 1\nmeter: "modbus-tcp://127.0.0.1:${meter.port}?unit=1&profile=eastron-sdm630&${POLL}"\n`,
    );
    const dataDir = join(dir, 'device');
    const provision = runCli(['provision', '--data-dir', dataDir, '--file', file]);
    assert.equal(provision.status, 0, provision.stderr);

    const device = await stopAfter(t, await startDevice(['--data-dir', dataDir, NO_METER_FLAG]));
    const shown = await untilPower(device, 2400);
    assert.equal(shown.voltage[0], 231.5);
    assert.match(device.stderr(), /meter source: from the stored configuration/);
    const view = await info(device);
    assert.equal(view.meter.source, 'modbus-tcp');
    assert.equal(view.meter.profile, 'eastron-sdm630');
    await device.stop();

    // A --meter flag wins: a user's own profile file, shown on /info by its name, not its path.
    const profile = join(dir, 'my-sdm630.yaml');
    writeFileSync(profile, EASTRON_SDM630.replace('name: eastron-sdm630', 'name: my-sdm630'));
    await meter.set('pTotal', 1800);
    const flagged = await stopAfter(
      t,
      await startDevice([
        '--data-dir',
        dataDir,
        '--meter',
        `modbus-tcp://127.0.0.1:${meter.port}?profile=${profile}&${POLL}`,
      ]),
    );
    await untilPower(flagged, 1800);
    assert.match(flagged.stderr(), /meter source: from --meter/);
    const flaggedInfo = await info(flagged);
    assert.equal(flaggedInfo.meter.profile, 'my-sdm630');
    assert.ok(!JSON.stringify(flaggedInfo).includes(dir), 'no file path on /info');
  });

  it('provision refuses a bad meter: naming the line and the problem, and creates nothing', (t) => {
    const dir = tempDir(t);
    const cases = [
      { meter: 'modbus-tcp://127.0.0.1:502?unit=1&profile=eastron-sdm630&intervall=1s', says: /intervall/ },
      { meter: 'modbus-rtu:/dev/ttyUSB0?baud=96000&profile=eastron-sdm630', says: /baud/ },
      { meter: 'modbus-tcp://127.0.0.1:502?profile=no-such-meter', says: /no-such-meter/ },
    ];
    for (const [i, { meter, says }] of cases.entries()) {
      const file = join(dir, `bad-${i}.yaml`);
      writeFileSync(file, `version: 1\npasswordMinLength: 10\nmeter: "${meter}"\n`);
      const dataDir = join(dir, `device-${i}`);
      const run = runCli(['provision', '--data-dir', dataDir, '--file', file]);
      assert.equal(run.status, 2, run.stderr);
      assert.ok(run.stderr.includes(`${file}:3: meter: `), run.stderr);
      assert.match(run.stderr, says);
      assert.equal(existsSync(dataDir), false, 'nothing was created');
    }
  });

  it('without --meter and without a stored source the device refuses, and a blank data dir stays unwritten', (t) => {
    const dir = tempDir(t);
    // A provisioned device without `meter:` in its file: refused, naming both ways to choose.
    const file = join(dir, 'commissioning.yaml');
    writeFileSync(file, 'version: 1\n');
    const dataDir = join(dir, 'device');
    assert.equal(runCli(['provision', '--data-dir', dataDir, '--file', file]).status, 0);
    const refused = runDeviceToExit(['--data-dir', dataDir, NO_METER_FLAG]);
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /no meter source chosen/);
    assert.match(refused.stderr, /stores no meter source/);
    assert.equal(refused.stdout, '', 'no ready line');

    const blank = join(dir, 'blank');
    const run = runDeviceToExit(['--data-dir', blank, NO_METER_FLAG]);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /no meter source chosen/);
    assert.equal(existsSync(join(blank, 'flash.img')), false, 'no flash image was written');
    assert.ok(!existsSync(blank) || readdirSync(blank).length === 0, 'nothing was written');
  });

  it('a factory reset at the display erases the stored source: the device then stops with the refusal, it does not hang without a meter', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'commissioning.yaml');
    writeFileSync(file, 'version: 1\nmeter: sim\n');
    const dataDir = join(dir, 'device');
    assert.equal(runCli(['provision', '--data-dir', dataDir, '--file', file]).status, 0);
    const line = await startPtyPair(t);
    const device = await stopAfter(
      t,
      await startDevice(['--data-dir', dataDir, NO_METER_FLAG, '--display', line.device]),
    );
    const exited = new Promise<number | null>((resolve) =>
      device.process.once('exit', (code) => resolve(code)),
    );
    const terminal = await openTerminal(t, line.client);
    await terminal.repaint();
    await terminal.waitFor(/^VOLTAGE/);
    await terminal.send('\x1b[D\r');
    await terminal.waitFor(/^FACTORY RESET[\s\S]*OK:erase/);
    await terminal.press('ok');
    const code = await Promise.race([exited, sleep(20_000).then(() => 'still running')]);
    assert.equal(code, 2, `exit status; stderr:\n${device.stderr()}`);
    assert.match(device.stderr(), /no meter source chosen/);
    // The reset leaves an erased image (all 0xFF) and no root key; the refusal wrote nothing after it.
    const erased = () => readFileSync(join(dataDir, 'flash.img')).every((byte) => byte === 0xff);
    assert.ok(erased(), 'the erased flash was not formatted again');
    assert.equal(existsSync(join(dataDir, 'keys', 'root.key')), false, 'no new root key');
    // Started again without --meter, the erased data dir is refused the same way, unwritten.
    const again = runDeviceToExit(['--data-dir', dataDir, NO_METER_FLAG]);
    assert.equal(again.status, 2, again.stderr);
    assert.match(again.stderr, /no meter source chosen/);
    assert.ok(erased(), 'still erased');
  });
});
