/**
 * The local display through a real serial line: a socat pty pair, the device's serialport driver on
 * one end, a VT100-like terminal on the other (keys in, ANSI parsed into a screen model). The device
 * as its factory builds it on a fresh data dir; the clock is injected, so the 2 min and 5 min
 * timeouts are moved, not waited.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { proofMessage } from '../../../firmware/auth/auth-messages.ts';
import { deriveSeed, MIN_KDF_ITERATIONS, signWithSeed } from '../../../firmware/auth/password-verifier.ts';
import { permissionsFromNames } from '../../../firmware/core/permission-table.ts';
import { LOCALGUI_SLOT } from '../../../firmware/core/slots.ts';
import {
  BOOT_WINDOW_MS,
  ENTRY_TIMEOUT_MS,
  MENU_TIMEOUT_MS,
  STORE_PROMPT_TIMEOUT_MS,
} from '../../../firmware/display/display-app.ts';
import { buildSimDevice } from '../../../sim/build-sim-device.ts';
import {
  type DisplayDevice,
  loginAt,
  pickerKeys,
  startDisplayDevice,
  TEST_SERIAL_NUMBER,
} from '../../support/display-fixture.ts';
import { fuzzSeed, seededRandom } from '../../support/seeded-random.ts';

const NEW_ADMIN_PASSWORD = 'Tariff-Clock-48';
const SYSTEM = { interface: 'system' } as const;

/** Logs in as admin at the display (factory password, then the forced new one). */
function loginAsAdmin(device: DisplayDevice): Promise<void> {
  return loginAt(device.terminal, 'admin', 'CBM_1234', NEW_ADMIN_PASSWORD);
}

describe('local display over a pty pair (serialport driver, ANSI screen)', () => {
  it('shows the measurement images and cycles them with up/down', async (t) => {
    const { terminal } = await startDisplayDevice(t);
    let text = await terminal.waitFor(/^VOLTAGE\s+1\/5/);
    assert.match(text, /U1\s+\d+\.\d+ V/);
    assert.match(text, /U3\s+\d+\.\d+ V/);
    assert.match(text, /localgui\s+OK:menu/);
    await terminal.press('down');
    text = await terminal.waitFor(/^CURRENT\s+2\/5/);
    assert.match(text, /I2\s+\d+\.\d+ A/);
    await terminal.press('down');
    text = await terminal.waitFor(/^POWER P\/Q\/S\s+3\/5/);
    assert.match(text, /P\s+-?\d+\.\d+ kW/);
    await terminal.press('down');
    text = await terminal.waitFor(/^PF AND FREQUENCY\s+4\/5/);
    assert.match(text, /f\s+\d{2}\.\d{3} Hz/);
    await terminal.press('down');
    text = await terminal.waitFor(/^ENERGY METERS\s+5\/5/);
    assert.match(text, /Imp\s+[\d.]+ k?Wh/);
    await terminal.press('down');
    await terminal.waitFor(/^VOLTAGE\s+1\/5/);
    await terminal.press('up');
    await terminal.waitFor(/^ENERGY METERS\s+5\/5/);
  });

  it('redraws only what changed: a key that moves the menu cursor sends a few bytes, not a frame', async (t) => {
    const { terminal } = await startDisplayDevice(t);
    await terminal.press('ok');
    await terminal.waitFor(/^MENU[\s\S]*>Measurements/);
    const before = terminal.screen.bytes;
    await terminal.press('down');
    await terminal.waitFor(/>Energy meters/);
    // Two rows change by one cell each ('>' moves): well under one full 20 × 8 frame (160 cells).
    assert.ok(terminal.screen.bytes - before < 40, `sent ${terminal.screen.bytes - before} bytes`);
  });

  it('menu as localgui: no reset, settings read-only; Back returns to the last image', async (t) => {
    const { terminal } = await startDisplayDevice(t);
    await terminal.press('down');
    await terminal.waitFor(/^CURRENT/);
    await terminal.press('ok');
    const menu = await terminal.waitFor(/^MENU/);
    assert.deepEqual(
      menu
        .split('\n')
        .slice(1, 6)
        .map((line) => line.slice(1).trim()),
      ['Measurements', 'Energy meters', 'Settings', 'Security', 'Info'],
    );
    assert.doesNotMatch(menu, /Reset/);
    await terminal.press('down', 'down', 'ok');
    const settings = await terminal.waitFor(/^SETTINGS[\s\S]*>VT ratio\s+1/);
    assert.match(settings, /Modbus TCP\s+off/);
    assert.match(settings, /read only/);
    await terminal.press('ok');
    await terminal.waitFor(/Read only: changing\s+it needs\s+config\.write/);
    await terminal.press('ok', 'back', 'back');
    await terminal.waitFor(/^CURRENT\s+2\/5/);
  });

  it('info shows the serial number, address and the certificate fingerprint in whole byte pairs', async (t) => {
    const { terminal, graph } = await startDisplayDevice(t);
    await terminal.press('ok', 'up', 'ok');
    const info = await terminal.waitFor(/^INFO/);
    assert.match(info, new RegExp(`Serial\\s+${TEST_SERIAL_NUMBER}`));
    assert.match(info, /127\.0\.0\.1/);
    await terminal.press('down', 'down', 'down', 'down', 'down');
    // Six byte pairs fill a 20-column line: `AB:CD:EF:01:23:45`.
    await terminal.waitFor(new RegExp(`^${graph.tls.info().fingerprint256.slice(0, 17)}`, 'm'));
  });

  it('info shows a degraded state first, wrapped to the display', async (t) => {
    const { terminal } = await startDisplayDevice(t, {
      // A file in tls/ that the committed state does not vouch for: refused at boot, the device degraded.
      prepare: async (dataDir) => {
        const first = await buildSimDevice({ dataDir, kdfIterations: MIN_KDF_ITERATIONS });
        await first.close();
        writeFileSync(join(dataDir, 'tls', 'stray.pem'), 'put here by hand');
      },
    });
    await terminal.press('ok', 'up', 'ok');
    const info = await terminal.waitFor(/^INFO/);
    assert.match(info, /DEGRADED:\s+tls\/stray\.pem is\s+not part of the\s+committed state/);
  });

  it('login with the factory password forces a new one; the admin then sees Reset; logout returns to localgui', async (t) => {
    const device = await startDisplayDevice(t);
    await loginAsAdmin(device);
    const menu = device.terminal.text();
    assert.match(menu, /Reset/);
    assert.equal(device.app.loggedIn, 'admin');
    const events = device.store.log.readAll().filter((e) => e.interface === 'display');
    assert.ok(events.some((e) => e.type === 'login' && e.result === 'ok' && e.slot === 0));
    assert.ok(events.some((e) => e.type === 'password.change' && e.result === 'ok'));
    // Security → Log out.
    await device.terminal.press('down', 'down', 'down', 'down', 'ok');
    await device.terminal.waitFor(/^SECURITY[\s\S]*>Log out/);
    await device.terminal.press('ok');
    await device.terminal.waitFor('Logged out');
    await device.terminal.press('ok');
    await device.terminal.waitFor(/localgui\s+OK:menu/);
    assert.equal(device.app.loggedIn, null);
  });

  it("wrong passwords are refused in words and slowed down by the display's own counter, not the network's", async (t) => {
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await terminal.press('ok', 'down', 'down', 'down', 'ok', 'ok');
    for (let attempt = 1; attempt <= 3; attempt++) {
      await terminal.waitFor(/^LOG IN: USER/);
      await terminal.press(...pickerKeys('admin'));
      await terminal.waitFor(/^PASSWORD/);
      await terminal.press(...pickerKeys(`wrong-${attempt}`));
      await terminal.waitFor(/Wrong name or\s+password/);
      await terminal.press('ok');
    }
    const failed = device.store.log.readAll().filter((e) => e.type === 'login' && e.result === 'failed');
    assert.equal(failed.length, 3);
    assert.ok(failed.every((e) => e.interface === 'display'));
    // The factory policy delays after 3 failures: the right password must wait too.
    await terminal.waitFor(/^LOG IN: USER/);
    await terminal.press(...pickerKeys('admin'));
    await terminal.waitFor(/^PASSWORD/);
    await terminal.press(...pickerKeys('CBM_1234'));
    await terminal.waitFor(/Too many failures:\s+wait 1 s/);
    // The network's counter saw none of it: a login there is not delayed.
    const network = { interface: 'https', source: '127.0.0.1' } as const;
    const challenge = device.login.challenge('admin', network);
    const seed = await deriveSeed('CBM_1234', challenge.salt, challenge.iterations);
    const signature = signWithSeed(seed, proofMessage('login', 'admin', challenge.nonce));
    const { session } = device.login.login('admin', challenge.nonce, signature, network);
    assert.equal(session.slot, 0);
    // Once the delay has passed, the display lets the operator in.
    device.advance(1000);
    await terminal.press('ok', ...pickerKeys('admin'));
    await terminal.waitFor(/^PASSWORD/);
    await terminal.press(...pickerKeys('CBM_1234'));
    await terminal.waitFor(/^NEW PASSWORD/);
  });

  it('reset of the energy meters asks first, then resets them as the logged-in user', async (t) => {
    const device = await startDisplayDevice(t);
    await loginAsAdmin(device);
    const { terminal } = device;
    await terminal.press('down', 'down', 'ok');
    await terminal.waitFor(/^RESET[\s\S]*>Energy meters/);
    await terminal.press('ok');
    await terminal.waitFor(/^RESET METERS[\s\S]*Reset all energy[\s\S]*OK:yes/);
    assert.equal(device.metering.meters(device.security.actorFor(0), { interface: 'display' }).resetAt, null);
    await terminal.press('ok');
    await terminal.waitFor('Energy meters reset');
    assert.notEqual(
      device.metering.meters(device.security.actorFor(0), { interface: 'display' }).resetAt,
      null,
    );
    const event = device.store.log.readAll().find((e) => e.type === 'meters.reset');
    assert.equal(event?.interface, 'display');
    assert.equal(event?.slot, 0);
  });

  it('settings: an edited value is pending until "Store changes?" is answered with OK', async (t) => {
    const device = await startDisplayDevice(t);
    await loginAsAdmin(device);
    const { terminal } = device;
    await terminal.press('down', 'down', 'down', 'ok');
    await terminal.waitFor(/^SETTINGS[\s\S]*>VT ratio\s+1$/m);
    await terminal.press('ok');
    await terminal.waitFor(/^VT RATIO[\s\S]*00001/);
    // 00001 → 00100: third digit up once, last digit down once.
    await terminal.press('ok', 'ok', 'up', 'ok', 'ok', 'down', 'ok');
    await terminal.waitFor(/>VT ratio\s+100\*/);
    assert.equal(device.metering.config.vtRatio, 1, 'nothing is stored before the answer');
    await terminal.press('back');
    await terminal.waitFor(/Store changes\?[\s\S]*VT ratio\s+100/);
    await terminal.press('ok');
    await terminal.waitFor('Changes stored');
    assert.equal(device.metering.config.vtRatio, 100);
    await terminal.press('ok');
    await terminal.waitFor(/^MENU/);
  });

  it('a value out of range is refused at the entry, naming the range', async (t) => {
    const device = await startDisplayDevice(t);
    await loginAsAdmin(device);
    const { terminal } = device;
    // Settings → Unit id (4th): 001 → 901.
    await terminal.press('down', 'down', 'down', 'ok', 'down', 'down', 'down', 'ok');
    await terminal.waitFor(/^UNIT ID[\s\S]*001/);
    await terminal.press('down', 'ok', 'ok', 'ok');
    await terminal.waitFor('must be 1 to 247');
    assert.equal(device.metering.config.unitId, 1);
  });

  it('menu timeout: 2 min without a key returns to the last image and logs the user out', async (t) => {
    const device = await startDisplayDevice(t);
    await loginAsAdmin(device);
    device.advance(MENU_TIMEOUT_MS - 1000);
    await device.terminal.waitFor(/^MENU\s+admin/);
    device.advance(1000);
    await device.terminal.waitFor(/^VOLTAGE[\s\S]*localgui\s+OK:menu/);
    assert.equal(device.app.loggedIn, null);
    const logout = device.store.log
      .readAll()
      .filter((e) => e.type === 'logout')
      .at(-1);
    assert.equal(logout?.detail, 'timeout');
  });

  it('entry timeout: 5 min idle drops the entry; earlier changes are offered, then stored after 2 min', async (t) => {
    const device = await startDisplayDevice(t);
    await loginAsAdmin(device);
    const { terminal } = device;
    // Settings → CT ratio: 00001 → 00002 (pending), then open VT ratio and leave it.
    await terminal.press('down', 'down', 'down', 'ok', 'down', 'ok');
    await terminal.waitFor(/^CT RATIO/);
    await terminal.press('ok', 'ok', 'ok', 'ok', 'up', 'ok');
    await terminal.waitFor(/>CT ratio\s+2\*/);
    await terminal.press('up', 'ok', 'up');
    await terminal.waitFor(/^VT RATIO[\s\S]*10001/);
    device.advance(MENU_TIMEOUT_MS);
    await terminal.waitFor(/^VT RATIO/);
    device.advance(ENTRY_TIMEOUT_MS - MENU_TIMEOUT_MS);
    const prompt = await terminal.waitFor(/Store changes\?/);
    assert.match(prompt, /CT ratio\s+2/);
    assert.doesNotMatch(prompt, /VT ratio/, 'the dropped entry is not among the changes');
    device.advance(STORE_PROMPT_TIMEOUT_MS - 1000);
    await terminal.waitFor(/Store changes\?/);
    assert.equal(device.metering.config.ctRatio, 1);
    device.advance(1000);
    await terminal.waitFor('Changes stored');
    assert.equal(device.metering.config.ctRatio, 2);
    assert.equal(device.metering.config.vtRatio, 1);
    assert.equal(device.app.loggedIn, null, 'the timeout also ended the session');
  });

  it('entry timeout without earlier changes returns to the image', async (t) => {
    const device = await startDisplayDevice(t);
    await loginAsAdmin(device);
    await device.terminal.press('down', 'down', 'down', 'ok', 'ok');
    await device.terminal.waitFor(/^VT RATIO/);
    device.advance(ENTRY_TIMEOUT_MS);
    await device.terminal.waitFor(/^VOLTAGE[\s\S]*localgui/);
  });

  it('what localgui may do follows its permissions at once, set over any interface', async (t) => {
    const device = await startDisplayDevice(t);
    await loginAsAdmin(device);
    await device.terminal.press('down', 'down', 'down', 'down', 'ok', 'ok');
    await device.terminal.waitFor('Logged out');
    await device.terminal.press('ok');
    await device.security.updateEntry(
      device.security.actorFor(0),
      LOCALGUI_SLOT,
      { permissions: permissionsFromNames(['meters.read', 'minmax.reset']) },
      SYSTEM,
    );
    await device.terminal.waitFor(/^ENERGY METERS\s+1\/1/);
    await device.terminal.press('ok');
    const menu = await device.terminal.waitFor(/^MENU/);
    assert.match(menu, /Reset/);
    assert.doesNotMatch(menu, /Measurements|Settings/);
  });

  it('Back+OK together in the first 10 s after boot ask before a factory reset; Esc keeps everything', async (t) => {
    const device = await startDisplayDevice(t, { bootedAgoMs: 2000 });
    const { terminal } = device;
    await terminal.waitFor(/^VOLTAGE/);
    // Quick navigation (menu open and closed) is not the combination.
    await terminal.press('ok', 'back', 'down');
    await terminal.waitFor(/^CURRENT/);
    await terminal.press('back', 'ok');
    await terminal.waitFor(/^FACTORY RESET[\s\S]*Erase all users,[\s\S]*OK:erase/);
    await terminal.press('back');
    await terminal.waitFor(/^CURRENT/);
    assert.equal(device.factoryResets(), 0);
    await terminal.press('back', 'ok');
    await terminal.waitFor(/^FACTORY RESET/);
    await terminal.press('ok');
    await terminal.waitFor('Factory reset done');
    assert.equal(device.factoryResets(), 1);
  });

  it('the same keys after the 10 s window only navigate', async (t) => {
    const device = await startDisplayDevice(t, { bootedAgoMs: 0 });
    const { terminal } = device;
    await terminal.waitFor(/^VOLTAGE/);
    device.advance(BOOT_WINDOW_MS + 1);
    await terminal.press('back', 'ok');
    const text = await terminal.waitFor(/^MENU/);
    assert.doesNotMatch(text, /FACTORY/);
    await terminal.press('back', 'back', 'ok');
    await terminal.waitFor(/^MENU[\s\S]*>Measurements/);
    assert.equal(device.factoryResets(), 0);
  });

  it('garbage on the line never crashes the display or leaves it stuck', async (t) => {
    const seed = fuzzSeed('DISPLAY_FUZZ_SEED');
    t.diagnostic(`seed ${seed} (rerun with DISPLAY_FUZZ_SEED=${seed})`);
    const random = seededRandom(seed);
    const device = await startDisplayDevice(t);
    const { terminal } = device;
    await terminal.waitFor(/^VOLTAGE/);
    const pieces = [
      '\x1b',
      '\x1b[',
      '\x1bO',
      '\x1b[1;',
      '\r',
      '\n',
      '\x7f',
      '\x1b[A',
      '\x1b[B',
      '\x1b[C',
      '\x1b[D',
    ];
    for (let round = 0; round < 64; round++) {
      const chunk = Buffer.concat([
        Buffer.from(random.bytes(random.int(1024))),
        Buffer.from(random.pick(pieces), 'latin1'),
      ]);
      await terminal.send(chunk);
    }
    // Whatever the noise opened, the menu timeout brings the display back to an image, and keys work.
    await new Promise((resolve) => setTimeout(resolve, 200));
    device.advance(ENTRY_TIMEOUT_MS + STORE_PROMPT_TIMEOUT_MS);
    device.advance(MENU_TIMEOUT_MS);
    await terminal.press('back');
    await terminal.waitFor(/localgui\s+OK:menu/);
    await terminal.press('ok');
    await terminal.waitFor(/^MENU[\s\S]*Measurements/);
    assert.deepEqual(device.logs, [], 'the driver reported no error');
    assert.equal(device.metering.config.vtRatio, 1, 'localgui could change nothing');
  });
});
