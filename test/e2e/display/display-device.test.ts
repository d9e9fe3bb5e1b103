/**
 * The display of the real device process (`--display PATH` on a socat pty): the physical-presence
 * factory reset with Back+OK in the first 10 s after boot (and not after), and noise on the display
 * line that must neither crash the device nor stop its other interfaces.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientError, DeviceClient } from '../../../firmware/client/device-client.ts';
import { BOOT_WINDOW_MS } from '../../../firmware/display/display-app.ts';
import { startDevice } from '../../support/device-process.ts';
import { openTerminal } from '../../support/display-fixture.ts';
import { startPtyPair } from '../../support/modbus-rtu-fixture.ts';
import { rssMb } from '../../support/process-memory.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const NEW_PASSWORD = 'Busbar-Relay-2209';

async function refusedLogin(client: DeviceClient, username: string, password: string): Promise<number> {
  try {
    await client.login(username, password);
  } catch (error) {
    if (error instanceof ClientError) return error.status;
    throw error;
  }
  return 200;
}

describe('display of the device process', () => {
  const root = mkdtempSync(join(tmpdir(), 'metergate-display-e2e-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('Back+OK after the 10 s window do nothing; at the next boot they erase the device, which boots as new', async (t) => {
    const dataDir = join(root, 'reset');
    // A pty pair per boot: socat ends when the device closes its side.
    const firstLine = await startPtyPair(t);
    const first = await startDevice(['--data-dir', dataDir, '--display', firstLine.device]);
    const readyAt = Date.now();
    t.after(() => first.stop());
    const firstTerminal = await openTerminal(t, firstLine.client);
    await firstTerminal.repaint();
    await firstTerminal.waitFor(/^VOLTAGE/);
    const http = `http://127.0.0.1:${first.ready.http}`;
    const admin = new DeviceClient(http);
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', NEW_PASSWORD);
    const oldCertificate = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');

    await sleep(Math.max(0, readyAt + BOOT_WINDOW_MS + 500 - Date.now()));
    await firstTerminal.send('\x1b[D\r');
    const late = await firstTerminal.waitFor(/^MENU/);
    assert.doesNotMatch(late, /FACTORY/);
    await sleep(300);
    assert.doesNotMatch(firstTerminal.text(), /FACTORY/);
    assert.equal((await new DeviceClient(http).login('admin', NEW_PASSWORD)).mustChangePassword, false);
    assert.equal((await first.stop()).code, 0);

    const secondLine = await startPtyPair(t);
    const second = await startDevice(['--data-dir', dataDir, '--display', secondLine.device]);
    t.after(() => second.stop());
    const terminal = await openTerminal(t, secondLine.client);
    await terminal.repaint();
    await terminal.waitFor(/^VOLTAGE/);
    await terminal.send('\x1b[D\r');
    await terminal.waitFor(/^FACTORY RESET[\s\S]*OK:erase/);
    await terminal.press('ok');
    // The device erases its data dir and boots again in the same process, on the same ports.
    await terminal.waitFor(/^VOLTAGE[\s\S]*localgui/, 15_000);
    assert.match(second.stderr(), /factory reset done/);
    const url = `http://127.0.0.1:${second.ready.http}`;
    assert.equal(await refusedLogin(new DeviceClient(url), 'admin', NEW_PASSWORD), 401);
    const fresh = await new DeviceClient(url).login('admin', 'CBM_1234');
    assert.equal(fresh.mustChangePassword, true, 'the factory password must be changed again');
    assert.notEqual(
      readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8'),
      oldCertificate,
      'a new certificate',
    );
    const { status, body } = await new DeviceClient(url).request<{ serialNumber: string }>(
      'GET',
      '/api/v1/info',
    );
    assert.equal(status, 200);
    assert.ok(body.serialNumber);
  });

  it('in safe mode the display says so and its factory reset brings the device back to a normal boot', async (t) => {
    const dataDir = join(root, 'safe');
    const setup = await startDevice(['--data-dir', dataDir]);
    await setup.stop();
    // Without its anti-rollback counter the store cannot be trusted: safe mode.
    rmSync(join(dataDir, 'keys', 'rollback.counter'));
    const line = await startPtyPair(t);
    const device = await startDevice(['--data-dir', dataDir, '--display', line.device]);
    t.after(() => device.stop());
    assert.equal(device.ready.mode, 'safe');
    const terminal = await openTerminal(t, line.client);
    await terminal.repaint();
    await terminal.waitFor(/^SAFE MODE[\s\S]*Back\+OK/);
    await terminal.send('\x1b[D\r');
    await terminal.waitFor(/^FACTORY RESET/);
    await terminal.press('ok');
    await terminal.waitFor(/^VOLTAGE[\s\S]*localgui/, 15_000);
    // The new boot printed its URLs (port 0: new ports, as safe mode had bound none); the last one is it.
    const urls = [...device.stderr().matchAll(/website and REST: http:\/\/127\.0\.0\.1:(\d+)\//g)];
    assert.ok(urls.length > 0 && /factory reset done/.test(device.stderr()), device.stderr());
    const url = `http://127.0.0.1:${urls.at(-1)?.[1]}`;
    const me = await new DeviceClient(url).login('admin', 'CBM_1234');
    assert.equal(me.mustChangePassword, true);
  });

  it('noise on the display line neither crashes the device nor stops its REST interface or the display', async (t) => {
    const seed = Number(process.env.DISPLAY_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
    t.diagnostic(`seed ${seed} (rerun with DISPLAY_FUZZ_SEED=${seed})`);
    const random = seededRandom(seed);
    const line = await startPtyPair(t);
    const device = await startDevice(['--data-dir', join(root, 'noise'), '--display', line.device]);
    t.after(() => device.stop());
    const terminal = await openTerminal(t, line.client);
    await terminal.repaint();
    await terminal.waitFor(/^VOLTAGE/);
    // Past the factory-reset window, so noise cannot even ask for a reset.
    await sleep(BOOT_WINDOW_MS + 200);
    const rssBefore = rssMb(device.process.pid as number);
    for (let i = 0; i < 32; i++) await terminal.send(random.bytes(2048));
    const client = new DeviceClient(`http://127.0.0.1:${device.ready.http}`);
    const info = await client.request('GET', '/api/v1/info');
    assert.equal(info.status, 200);
    assert.equal(device.process.exitCode, null, 'the device is still running');
    // Back from wherever the noise led: the display still answers keys.
    for (let i = 0; i < 140; i++) await terminal.press('back');
    await terminal.waitFor(/localgui\s+OK:menu/);
    await terminal.press('ok');
    await terminal.waitFor(/^MENU/);
    assert.doesNotMatch(device.stderr(), /display: /, 'the display reported no error');
    const growthMb = rssMb(device.process.pid as number) - rssBefore;
    assert.ok(growthMb < 50, `the device's RSS grew by ${growthMb.toFixed(1)} MB with the noise`);
  });
});
