/**
 * The login at the display of the real device process (`--display PATH` on a socat pty), as a passer-by
 * and as the operator: standing at the meter tells nobody which accounts exist. The user name is typed
 * with the same character picker as the password, an unknown name is refused exactly like a wrong
 * password, and the operator who knows the name logs in.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { startDevice } from '../../support/device-process.ts';
import { type DisplayTerminal, loginAt, openTerminal, pickerKeys } from '../../support/display-fixture.ts';
import { startPtyPair } from '../../support/modbus-rtu-fixture.ts';

const ADMIN_PASSWORD = 'Busbar-Relay-2209';
const NETWORK_USER = 'scada.eng';
const NETWORK_PASSWORD = 'Control-Room-8841';
const NAMES = ['admin', NETWORK_USER];

/** Every frame the display shows while the keys are pressed one by one. */
async function framesWhilePressing(terminal: DisplayTerminal, keys: ('up' | 'down')[]): Promise<string[]> {
  const frames = [terminal.text()];
  for (const key of keys) {
    const before = terminal.text();
    await terminal.press(key);
    // A key on a screen with one entry may change nothing: wait briefly for a change, then go on.
    const deadline = Date.now() + 300;
    while (terminal.text() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    frames.push(terminal.text());
  }
  return frames;
}

describe('login at the display of the device process', () => {
  const root = mkdtempSync(join(tmpdir(), 'metergate-display-login-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('a passer-by at the display sees no user name; the operator types the name and logs in', async (t) => {
    const line = await startPtyPair(t);
    const device = await startDevice(['--data-dir', join(root, 'names'), '--display', line.device]);
    t.after(() => device.stop());
    const admin = new DeviceClient(`http://127.0.0.1:${device.ready.http}`);
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
    await admin.login('admin', ADMIN_PASSWORD);
    const created = await admin.request<{ slot: number }>('POST', '/api/v1/users', {
      type: 'user',
      name: NETWORK_USER,
      password: await admin.seal(NETWORK_USER, NETWORK_PASSWORD),
      role: 'VIEWER',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const terminal = await openTerminal(t, line.client);
    await terminal.repaint();
    await terminal.waitFor(/^VOLTAGE/);
    await terminal.press('ok');
    await terminal.waitFor(/^MENU/);
    await terminal.choose('Security');
    await terminal.waitFor(/^SECURITY/);
    await terminal.choose('Log in');
    await terminal.waitFor(/^LOG IN: USER/);
    // The passer-by scrolls through whatever the login screen offers.
    const frames = await framesWhilePressing(terminal, [...Array(10).fill('down'), ...Array(10).fill('up')]);
    for (const frame of frames) {
      for (const name of NAMES) {
        assert.ok(!frame.includes(name), `the login screen shows the user name '${name}':\n${frame}`);
      }
    }

    // A name that does not exist is refused in the same words as a wrong password.
    await terminal.press('back');
    await terminal.waitFor(/^SECURITY/);
    await terminal.choose('Log in');
    await terminal.waitFor(/^LOG IN: USER/);
    await terminal.press(...pickerKeys('nobody'));
    await terminal.waitFor(/^PASSWORD/);
    await terminal.press(...pickerKeys(NETWORK_PASSWORD));
    const unknown = await terminal.waitFor(/^NOT DONE/);
    await terminal.press('ok');
    await terminal.waitFor(/^LOG IN: USER/);
    await terminal.press(...pickerKeys(NETWORK_USER));
    await terminal.waitFor(/^PASSWORD/);
    await terminal.press(...pickerKeys('Wrong-Password-1'));
    const wrong = await terminal.waitFor(/^NOT DONE/);
    assert.equal(unknown, wrong, 'an unknown name and a wrong password look the same');
    await terminal.press('ok');
    await terminal.waitFor(/^LOG IN: USER/);
    await terminal.press('back');
    await terminal.waitFor(/^SECURITY/);
    await terminal.press('back');
    await terminal.waitFor(/^MENU/);
    await terminal.press('back');
    await terminal.waitFor(/localgui\s+OK:menu/);

    await loginAt(terminal, NETWORK_USER, NETWORK_PASSWORD);
  });
});
