/**
 * Security at the local display, through the pty and the real serialport driver: the whitelist
 * cleared by physical presence, changing one's own password (and the rules that refuse a new one),
 * local-only users, a session that ends when the account changes elsewhere, a Modbus enable stored
 * from the display, and what localgui's Security menu offers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { permissionsFromNames } from '../../../firmware/core/permission-table.ts';
import { ADMIN_SLOT } from '../../../firmware/core/slots.ts';
import { loginAt, pickerKeys, startDisplayDevice } from '../../support/display-fixture.ts';

const SYSTEM = { interface: 'system' } as const;
const ADMIN_PASSWORD = 'Feeder-Panel-61';

describe('security at the local display', () => {
  it('localgui is offered only Log in under Security', async (t) => {
    const { terminal } = await startDisplayDevice(t);
    await terminal.press('ok');
    await terminal.waitFor(/^MENU/);
    await terminal.choose('Security');
    const menu = await terminal.waitFor(/^SECURITY/);
    assert.deepEqual(
      menu
        .split('\n')
        .slice(1, -1)
        .map((line) => line.slice(1).trim())
        .filter(Boolean),
      ['Log in'],
    );
  });

  it('a terminal keyboard on the line types the name and the password directly: one key per character', async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await terminal.press('ok');
    await terminal.waitFor(/^MENU/);
    await terminal.choose('Security');
    await terminal.choose('Log in');
    await terminal.waitFor(/^LOG IN: USER/);
    await terminal.send('admix\x7fn');
    await terminal.waitFor(/^>admin$/m);
    await terminal.send('\r');
    await terminal.waitFor(/^PASSWORD/);
    await terminal.send('CBM_1234\r');
    await terminal.waitFor(/^NEW PASSWORD/);
    await terminal.send(`${ADMIN_PASSWORD}\r`);
    await terminal.waitFor(/^REPEAT PASSWORD/);
    await terminal.send(`${ADMIN_PASSWORD}\r`);
    await terminal.waitFor('Password changed');
    assert.equal(device.app.loggedIn, 'admin');
  });

  it('Clear whitelist lets every address connect again and is logged as a display action', async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await loginAt(terminal, 'admin', 'CBM_1234', ADMIN_PASSWORD);
    await device.security.updateSettings(
      device.security.actorFor(ADMIN_SLOT),
      { ...device.security.state.settings, whitelist: ['192.0.2.0/24'] },
      SYSTEM,
    );
    await terminal.choose('Security');
    await terminal.waitFor(/^SECURITY/);
    await terminal.choose('Clear whitelist');
    await terminal.waitFor(/^CLEAR WHITELIST[\s\S]*OK:yes/);
    assert.deepEqual(device.security.state.settings.whitelist, ['192.0.2.0/24']);
    await terminal.press('ok');
    await terminal.waitFor(/Whitelist cleared/);
    assert.deepEqual(device.security.state.settings.whitelist, []);
    const event = device.store.log.readAll().findLast((e) => e.type === 'settings.change');
    assert.equal(event?.interface, 'display');
    assert.equal(event?.result, 'ok');
  });

  it('change own password: the current one is checked, a weak new one is refused naming the rule before it is repeated, a good one works', async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await loginAt(terminal, 'admin', 'CBM_1234', ADMIN_PASSWORD);
    await terminal.choose('Security');
    await terminal.choose('Change password');
    await terminal.waitFor(/^CURRENT PASSWORD/);
    await terminal.press(...pickerKeys('not-the-password'));
    await terminal.waitFor('Wrong password');
    await terminal.press('ok');
    await terminal.choose('Change password');
    await terminal.press(...pickerKeys(ADMIN_PASSWORD));
    await terminal.waitFor(/^NEW PASSWORD/);
    await terminal.press(...pickerKeys('short'));
    await terminal.waitFor(/Password must be at\s+least 8 characters/);
    assert.doesNotMatch(terminal.text(), /REPEAT/);
    await terminal.press('ok');
    await terminal.waitFor(/^NEW PASSWORD/);
    // The rules are the core's: the configured minimum length and the likeness to the user name too.
    await terminal.press(...pickerKeys('admin-admin'));
    await terminal.waitFor(/Password must not be\s+the same as or\s+similar to the\s+username/);
    await terminal.press('ok');
    await terminal.waitFor(/^NEW PASSWORD/);
    await terminal.press(...pickerKeys('Meter-Cabinet-93'));
    await terminal.press(...pickerKeys('Meter-Cabinet-39'));
    await terminal.waitFor(/The two passwords\s+differ/);
    await terminal.press('ok');
    await terminal.press(...pickerKeys('Meter-Cabinet-93'));
    await terminal.waitFor(/^REPEAT PASSWORD/);
    await terminal.press(...pickerKeys('Meter-Cabinet-93'));
    await terminal.waitFor('Password changed');
    assert.equal(device.app.loggedIn, 'admin', 'changing the own password keeps the display session');
    await terminal.press('ok');
    await terminal.choose('Security');
    await terminal.choose('Log out');
    await terminal.press('ok');
    await loginAt(terminal, 'admin', 'Meter-Cabinet-93');
  });

  it('a local-only user logs in at the display; its session ends when its rights change elsewhere', async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await loginAt(terminal, 'admin', 'CBM_1234', ADMIN_PASSWORD);
    const admin = device.security.actorFor(ADMIN_SLOT);
    const slot = await device.security.addUser(
      admin,
      {
        name: 'fitter',
        password: 'Switchgear-Room-5',
        permissions: permissionsFromNames(['measurements.read', 'meters.read', 'minmax.reset']),
        localOnly: true,
      },
      SYSTEM,
    );
    await terminal.choose('Security');
    await terminal.choose('Log out');
    await terminal.press('ok');
    await loginAt(terminal, 'fitter', 'Switchgear-Room-5');
    const menu = terminal.text();
    assert.match(menu, /Reset/);
    assert.doesNotMatch(menu, /Settings/);
    await terminal.choose('Reset');
    const reset = await terminal.waitFor(/^RESET/);
    assert.match(reset, /Min\/max values/);
    assert.doesNotMatch(reset, /Energy meters/);
    await device.security.updateEntry(
      admin,
      slot,
      { permissions: permissionsFromNames(['meters.read']) },
      SYSTEM,
    );
    await terminal.waitFor(/Logged out: the\s+account was changed/);
    assert.equal(device.app.loggedIn, null);
  });

  it('a password set by someone else must be changed at the display login before anything else', async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await loginAt(terminal, 'admin', 'CBM_1234', ADMIN_PASSWORD);
    const admin = device.security.actorFor(ADMIN_SLOT);
    const slot = await device.security.addUser(
      admin,
      { name: 'fitter', password: 'Switchgear-Room-5', permissions: permissionsFromNames(['meters.read']) },
      SYSTEM,
    );
    await device.security.updateEntry(admin, slot, { password: 'Handed-Over-77' }, SYSTEM);
    assert.equal(device.security.actorFor(slot).mustChangePassword, true);
    await terminal.choose('Security');
    await terminal.choose('Log out');
    await terminal.press('ok');
    // loginAt with a new password waits for the forced NEW PASSWORD screen right after the login.
    await loginAt(terminal, 'fitter', 'Handed-Over-77', 'Own-Choice-4711');
    assert.equal(device.security.actorFor(slot).mustChangePassword, false);
  });

  it('Modbus TCP switched on at the display is stored in the security settings', async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await loginAt(terminal, 'admin', 'CBM_1234', ADMIN_PASSWORD);
    await terminal.choose('Settings');
    await terminal.choose('Modbus TCP');
    await terminal.waitFor(/^MODBUS TCP[\s\S]*< off >/);
    await terminal.press('down');
    await terminal.waitFor('< on >');
    await terminal.press('ok');
    await terminal.waitFor(/>Modbus TCP\s+on\*/);
    await terminal.press('back');
    await terminal.waitFor('Store changes?');
    assert.equal(device.security.state.settings.communication.modbusTcp, false);
    await terminal.press('ok');
    await terminal.waitFor('Changes stored');
    assert.equal(device.security.state.settings.communication.modbusTcp, true);
  });

  it('Plain HTTP switched off at the display is stored in the security settings', async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await loginAt(terminal, 'admin', 'CBM_1234', ADMIN_PASSWORD);
    await terminal.choose('Settings');
    await terminal.choose('Plain HTTP');
    await terminal.waitFor(/^PLAIN HTTP[\s\S]*< on >/);
    await terminal.press('down');
    await terminal.waitFor('< redirect >');
    await terminal.press('down');
    await terminal.waitFor('< off >');
    await terminal.press('ok');
    await terminal.waitFor(/>Plain HTTP\s+off\*/);
    await terminal.press('back');
    await terminal.waitFor('Store changes?');
    assert.equal(device.security.state.settings.http, 'on');
    await terminal.press('ok');
    await terminal.waitFor('Changes stored');
    assert.equal(device.security.state.settings.http, 'off');
  });

  it('Store changes? answered with Back discards the pending values', async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await loginAt(terminal, 'admin', 'CBM_1234', ADMIN_PASSWORD);
    await terminal.choose('Settings');
    await terminal.choose('Word order');
    await terminal.press('down', 'ok');
    await terminal.waitFor(/>Word order\s+CDAB\*/);
    await terminal.press('back');
    await terminal.waitFor('Store changes?');
    await terminal.press('back');
    await terminal.waitFor('Changes discarded');
    assert.equal(device.metering.config.wordOrder, 'ABCD');
  });

  it('Open registration opens the client registry for 5 minutes', async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await loginAt(terminal, 'admin', 'CBM_1234', ADMIN_PASSWORD);
    const admin = () => device.security.actorFor(ADMIN_SLOT);
    assert.equal(device.registry.status(admin(), { interface: 'display' }).open, false);
    await terminal.choose('Security');
    await terminal.choose('Open registration');
    await terminal.waitFor(/Client registration\s+open for 5 minutes/);
    const status = device.registry.status(admin(), { interface: 'display' });
    assert.equal(status.open, true);
    assert.equal(status.closesAt, device.now() + 5 * 60_000);
    const event = device.store.log.readAll().findLast((e) => e.type === 'registry.open');
    assert.equal(event?.interface, 'display');
  });

  it('Clear whitelist and Modbus TCP on/off work whatever other stored setting is invalid (physical presence)', async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await loginAt(terminal, 'admin', 'CBM_1234', ADMIN_PASSWORD);
    // A record stored by an older firmware (or under a looser rule): settings today's rules refuse.
    const { state } = device.store;
    device.store.commit({
      ...state,
      settings: {
        ...state.settings,
        passwordMinLength: 6,
        lockout: { ...state.settings.lockout, lockSeconds: 0 },
        hostnames: ['not a host name'],
        whitelist: ['192.0.2.0/24', 'not-an-address'],
        communication: { ...state.settings.communication, modbusPrincipal: 99 },
      },
    });
    await terminal.choose('Security');
    await terminal.choose('Clear whitelist');
    await terminal.waitFor(/^CLEAR WHITELIST[\s\S]*OK:yes/);
    await terminal.press('ok');
    await terminal.waitFor(/Whitelist cleared/);
    assert.deepEqual(device.security.state.settings.whitelist, []);
    await terminal.press('ok');
    await terminal.waitFor(/^SECURITY/);
    await terminal.press('back');
    await terminal.choose('Settings');
    await terminal.choose('Modbus TCP');
    await terminal.press('down', 'ok');
    await terminal.waitFor(/>Modbus TCP\s+on\*/);
    await terminal.press('back');
    await terminal.waitFor('Store changes?');
    await terminal.press('ok');
    await terminal.waitFor('Changes stored');
    assert.equal(device.security.state.settings.communication.modbusTcp, true);
    // The invalid settings nobody touched stay as they were: recovery changed only what it changes.
    assert.equal(device.security.state.settings.passwordMinLength, 6);
  });
});
