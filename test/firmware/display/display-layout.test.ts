/**
 * Every screen of the display laid out for its size: the app (real services on a fresh data dir, an
 * injected clock) is walked through every screen at 20×4 and at the default size: the measurement
 * images (values and no data), every menu at every cursor position as localgui and as the admin, the
 * value entries, the name and password entries at every picker position, confirmations, Store changes?,
 * info, the messages of every flow, a 32-character user name, the factory reset and the safe mode.
 * Each frame fails the test when text is cut: a line wider than the display (the renderer would cut
 * it) or a frame taller than the display (its last rows lost). The app wraps text only with wrapText,
 * whose lines each message text is checked for: every break at a space, or after a `:`, `.` or `-` it
 * marks in a word longer than the line (names in title and footer are abbreviated with `~`); and the
 * info screen, once scrolled through, shows every value whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { deriveDeviceIdentity } from '../../../firmware/auth/device-identity.ts';
import { LoginChallenges } from '../../../firmware/auth/login-challenges.ts';
import { LoginThrottle } from '../../../firmware/auth/login-throttle.ts';
import { MIN_KDF_ITERATIONS } from '../../../firmware/auth/password-verifier.ts';
import { SessionStore } from '../../../firmware/auth/session-store.ts';
import { StaleNonceLimit } from '../../../firmware/auth/stale-nonce-limit.ts';
import { CoreError } from '../../../firmware/core/core-error.ts';
import { checkPassword } from '../../../firmware/core/password-rules.ts';
import { permissionsFromNames } from '../../../firmware/core/permission-table.ts';
import { ADMIN_SLOT } from '../../../firmware/core/slots.ts';
import { PICKER_DONE, PICKER_GROUPS, pickerKeys } from '../../../firmware/display/char-picker.ts';
import {
  BOOT_WINDOW_MS,
  DisplayApp,
  type DisplayInfo,
  describeError,
  MENU_TIMEOUT_MS,
} from '../../../firmware/display/display-app.ts';
import { wrapText } from '../../../firmware/display/display-text.ts';
import type { DisplayKey } from '../../../firmware/display/key-decoder.ts';
import { SafeModeDisplay } from '../../../firmware/display/safe-mode-display.ts';
import { DEFAULT_SCREEN_SIZE, type ScreenSize } from '../../../firmware/display/screen-renderer.ts';
import { deriveKey } from '../../../firmware/keys/record-keys.ts';
import type { MeterStatus } from '../../../firmware/meter/meter-source.ts';
import { ClientRegistry } from '../../../firmware/services/client-registry.ts';
import { AuthError, LoginService } from '../../../firmware/services/login-service.ts';
import { MeteringService } from '../../../firmware/services/metering-service.ts';
import { SecurityService } from '../../../firmware/services/security-service.ts';
import { ConfigStore } from '../../../firmware/store/config-store.ts';
import { DEVICE_MODEL } from '../../../firmware/version.ts';
import { SimMeter } from '../../../sim/sim-meter.ts';
import { bootNormal, tempDataDir } from '../../support/store-fixture.ts';

type TestContext = { after(fn: () => void | Promise<void>): void };

const SIZES: readonly ScreenSize[] = [{ cols: 20, rows: 4 }, DEFAULT_SCREEN_SIZE];
const SYSTEM = { interface: 'system' } as const;
const ADMIN_PASSWORD = 'Tariff-Clock-48';
/** The longest user name the rules allow (32). */
const LONG_NAME = 'maintenance.contractor.northwest';
const LONG_PASSWORD = 'Substation-Key-7731';

/** The hardest info to lay out: a long model, an IPv6 address, a degraded state, the fingerprint. */
const INFO: DisplayInfo = {
  model: DEVICE_MODEL,
  serialNumber: 'MG-2026-000123',
  firmwareVersion: '0.1.0-rc.2',
  addresses: ['192.168.100.200', 'fd12:3456:789a:1:a00:27ff:fe4e:66a1', '2001:db8::1'],
  certificateFingerprint: Array.from({ length: 32 }, (_, i) =>
    (i * 7).toString(16).padStart(2, '0').toUpperCase(),
  ).join(':'),
  degraded: ['the event log could not be read: sealed record 12 is damaged'],
};

/**
 * What is wrong with `frame` on a `size` display, or null: too many or too wide lines (the renderer
 * would drop or cut them), characters a text display does not show.
 */
function cutIn(frame: readonly string[], size: ScreenSize): string | null {
  if (frame.length !== size.rows) return `${frame.length} rows on a ${size.rows}-row display`;
  for (const [i, line] of frame.entries()) {
    if (line.length > size.cols) return `row ${i + 1} is ${line.length} characters wide: '${line}'`;
    if (/[^\x20-\x7e]/.test(line)) return `row ${i + 1} has a character the display cannot show`;
  }
  return null;
}

/**
 * Where `lines` (text wrapped to `cols`) cut a word of `text`, or null: each line must be the text's
 * next characters, and end where the text has a space, or in a mark of a word longer than the line
 * (after `:` or `.`, or a `-` added at the full width).
 */
function cutWord(text: string, lines: readonly string[], cols: number): string | null {
  let at = 0;
  const rest = () => text.slice(at).replace(/^\s+/, '');
  for (const [i, line] of lines.entries()) {
    if (line === '') continue;
    const source = rest();
    at = text.length - source.length;
    const added = line.length === cols && line.endsWith('-') && !source.startsWith(line);
    const content = added ? line.slice(0, -1) : line;
    if (!source.startsWith(content)) return `line ${i + 1} '${line}' is not the text's next words`;
    at += content.length;
    const next = text.charAt(at);
    if (next !== '' && !/\s/.test(next) && !added && !/[:.]$/.test(content)) {
      return `line ${i + 1} '${line}' ends inside the word '${content.split(' ').at(-1)}${next}...'`;
    }
  }
  return rest() === '' ? null : `'${rest()}' is not shown`;
}

function assertLaidOut(frame: readonly string[], size: ScreenSize, where: string): void {
  const problem = cutIn(frame, size);
  assert.equal(problem, null, `${where} at ${size.cols}x${size.rows}: ${problem}\n${frame.join('\n')}`);
}

/** Drives the app with its keys and checks every frame it shows. */
class Probe {
  readonly titles = new Set<string>();
  private frames = 0;

  constructor(
    readonly app: DisplayApp,
    readonly size: ScreenSize,
  ) {}

  look(where: string): string[] {
    const frame = this.app.render();
    assertLaidOut(frame, this.size, where);
    this.titles.add((frame[0] ?? '').replace(/\s+[\^v]+$|\s+\d+(\.\d+)?\/\d+$/, '').trim());
    this.frames++;
    return frame;
  }

  get checked(): number {
    return this.frames;
  }

  /** Presses each key, checking the frame after each; then waits out any work the keys started. */
  async press(where: string, ...keys: DisplayKey[]): Promise<string[]> {
    for (const key of keys) {
      this.app.key(key);
      this.look(`${where} (after ${key})`);
    }
    await this.settle(where);
    return this.look(where);
  }

  /** Waits while the app shows its busy screen (a KDF, a store). */
  async settle(where: string): Promise<void> {
    for (let i = 0; i < 3000 && this.app.render()[0] === '' && this.app.render().at(-1) === ''; i++) {
      this.look(`${where} (busy)`);
      await sleep(5);
    }
  }

  text(): string {
    return this.app.render().join('\n');
  }

  /** Moves the cursor to the item `label` and opens it. */
  async choose(label: string): Promise<string[]> {
    for (let step = 0; step < 20; step++) {
      if (this.app.render().some((line) => line.startsWith(`>${label}`)))
        return this.press(`open ${label}`, 'ok');
      await this.press(`to ${label}`, 'down');
    }
    assert.fail(`no menu item '${label}':\n${this.text()}`);
  }

  /** Every cursor position of the menu shown, once round. */
  async sweepMenu(where: string): Promise<void> {
    const first = this.app.render().join('\n');
    for (let step = 0; step < 20; step++) {
      await this.press(`${where}: cursor`, 'down');
      if (this.app.render().join('\n') === first) return;
    }
    assert.fail(`${where}: the cursor did not come round`);
  }

  /** Scrolls a screen down to its end and back, checking each position. */
  async scrollThrough(where: string): Promise<void> {
    let before = '';
    for (let step = 0; step < 40 && this.text() !== before; step++) {
      before = this.text();
      await this.press(`${where}: scroll`, 'down');
    }
    assert.doesNotMatch(this.app.render()[0] ?? '', /v$/, `${where}: scrolled to the end`);
    for (let step = 0; step < 40; step++) await this.press(`${where}: scroll back`, 'up');
  }

  /** Every group of the picker and every character in each group. */
  async sweepPicker(where: string): Promise<void> {
    for (let group = 0; group <= PICKER_DONE; group++) {
      if (group < PICKER_DONE) {
        await this.press(`${where}: group ${group}`, 'ok');
        const chars = PICKER_GROUPS[group]?.chars.length ?? 0;
        for (let i = 0; i < chars; i++) await this.press(`${where}: group ${group} char ${i}`, 'down');
        await this.press(`${where}: back to groups`, 'back');
      }
      await this.press(`${where}: next group`, 'down');
    }
  }

  async type(where: string, text: string): Promise<string[]> {
    return this.press(where, ...pickerKeys(text));
  }
}

interface Rig {
  readonly probe: Probe;
  readonly app: DisplayApp;
  readonly security: SecurityService;
  setStatus(status: MeterStatus | null): void;
  advance(ms: number): void;
}

/** The device's services on a fresh data dir, the display app on them, nothing on a line. */
async function rig(t: TestContext, size: ScreenSize, bootedAgoMs = BOOT_WINDOW_MS + 1): Promise<Rig> {
  const data = tempDataDir(t);
  const booted = await bootNormal(data);
  const { store, rootKey } = booted.normal;
  let time = Date.now();
  const now = () => time;
  let forced: MeterStatus | null = null;
  // The simulator with a status the test sets: how the display shows an upstream meter that is silent.
  class SwitchableMeter extends SimMeter {
    override status(at: number): MeterStatus {
      return forced ?? super.status(at);
    }
  }
  const security = new SecurityService(store, { now, kdfIterations: MIN_KDF_ITERATIONS });
  const metering = new MeteringService(
    new SwitchableMeter(now()),
    ConfigStore.open(booted.flash, rootKey, store),
    security,
    now,
  );
  const sessionKey = deriveKey(rootKey, 'session');
  const login = new LoginService({
    security,
    challenges: new LoginChallenges(sessionKey),
    throttle: new LoginThrottle(() => security.state.settings.lockout),
    staleNonces: new StaleNonceLimit(),
    sessions: new SessionStore(),
    identity: deriveDeviceIdentity(rootKey),
    decoyKey: sessionKey,
    now,
  });
  const app = new DisplayApp({
    security,
    metering,
    login,
    registry: new ClientRegistry(security, now),
    throttle: new LoginThrottle(() => security.state.settings.lockout),
    info: () => INFO,
    now,
    size,
    bootedAt: now() - bootedAgoMs,
    factoryReset: async () => {},
  });
  return {
    probe: new Probe(app, size),
    app,
    security,
    setStatus: (status) => {
      forced = status;
    },
    advance: (ms) => {
      time += ms;
      app.tick();
    },
  };
}

/** From the measurement image: Security › Log in, the name and the password. */
async function logIn(probe: Probe, name: string, password: string): Promise<string[]> {
  await probe.press('image to menu', 'ok');
  await probe.choose('Security');
  await probe.choose('Log in');
  await probe.type('user name', name);
  return probe.type('password', password);
}

for (const size of SIZES) {
  const at = `${size.cols}x${size.rows}`;
  describe(`display layout at ${at}`, () => {
    it('measurement images, with values and without, as localgui', async (t) => {
      const { probe, setStatus } = await rig(t, size);
      probe.look('first image');
      for (const status of [
        null,
        { state: 'stale', staleSince: Date.UTC(2026, 0, 1, 12), readAt: Date.UTC(2026, 0, 1, 11, 59) },
        { state: 'stale', staleSince: null, readAt: Date.UTC(2026, 0, 1, 11, 59) },
        { state: 'never-read', staleSince: null, readAt: null },
      ] as const) {
        setStatus(status);
        const start = probe.look('image')[0];
        let pages = 0;
        do {
          await probe.press(`images (${status?.state ?? 'fresh'})`, 'down');
          pages++;
        } while (probe.app.render()[0] !== start && pages < 40);
        assert.ok(pages < 40, 'the images come round');
        assert.ok(pages >= 5, `${pages} pages for 5 images`);
      }
      for (const title of ['VOLTAGE', 'CURRENT', 'POWER', 'ENERGY']) {
        assert.ok(
          [...probe.titles].some((seen) => seen.startsWith(title)),
          `${title} was shown`,
        );
      }
    });

    it('every menu as localgui, its read-only settings and info', async (t) => {
      const { probe } = await rig(t, size);
      await probe.press('image to menu', 'ok');
      await probe.sweepMenu('localgui main menu');
      await probe.choose('Settings');
      await probe.sweepMenu('localgui settings');
      await probe.choose('VT ratio');
      assert.match(probe.text(), /Read only/);
      await probe.scrollThrough('read-only message');
      await probe.press('back to main', 'ok', 'back');
      await probe.choose('Security');
      await probe.sweepMenu('localgui security');
      await probe.press('back', 'back');
      await probe.choose('Info');
      await probe.scrollThrough('info');
      const lines: string[] = [];
      await probe.press('info', 'back');
      await probe.choose('Info');
      for (let i = 0; i < 40; i++) {
        lines.push(...probe.app.render().slice(1, -1));
        await probe.press('info', 'down');
      }
      const text = lines.join('\n');
      for (const part of [DEVICE_MODEL, 'MG-2026-000123', '2001:db8::1']) {
        assert.ok(text.includes(part), `info shows ${part}:\n${text}`);
      }
    });

    it('login, forced new password with its refusals, every admin menu, entry, confirmation and message', async (t) => {
      const { probe, security } = await rig(t, size);
      await probe.press('image to menu', 'ok');
      await probe.choose('Security');
      await probe.choose('Log in');
      await probe.sweepPicker('user name');
      await probe.type('user name', 'admin');
      await probe.sweepPicker('password');
      await probe.type('password', 'CBM_1234');
      assert.match(probe.text(), /^NEW PASSWORD/);
      await probe.type('new password', 'short');
      assert.match(probe.text(), /at\s+least 8/);
      await probe.press('rule message', 'ok');
      await probe.type('new password', ADMIN_PASSWORD);
      await probe.type('repeat', `${ADMIN_PASSWORD}x`);
      assert.match(probe.text(), /differ/);
      await probe.press('differ message', 'ok');
      await probe.type('new password', ADMIN_PASSWORD);
      await probe.type('repeat', ADMIN_PASSWORD);
      assert.match(probe.text(), /Password changed/);
      await probe.press('changed', 'ok');
      await probe.sweepMenu('admin main menu');

      await probe.choose('Reset');
      await probe.sweepMenu('reset menu');
      await probe.choose('Energy meters');
      await probe.scrollThrough('reset meters confirm');
      await probe.press('reset', 'ok');
      assert.match(probe.text(), /reset/);
      await probe.press('reset done', 'ok');
      await probe.choose('Min/max values');
      await probe.press('reset minmax', 'ok');
      await probe.press('minmax reset', 'ok', 'back');

      await probe.choose('Settings');
      await probe.sweepMenu('admin settings');
      for (const label of ['VT ratio', 'CT ratio', 'Unit id']) {
        await probe.choose(label);
        await probe.press(`${label} digits`, 'up', 'up', 'down', 'ok', 'up', 'back', 'back');
      }
      // Unit id 000: refused at the entry, naming the range.
      await probe.choose('Unit id');
      await probe.press('unit id 000', 'ok', 'ok', 'down', 'ok');
      assert.match(probe.text(), /must be 1 to 247/);
      await probe.press('unit id leave', 'back');
      for (const label of ['Word order', 'Modbus TCP', 'Modbus RTU', 'Plain HTTP']) {
        await probe.choose(label);
        await probe.press(`${label} options`, 'down', 'down', 'down', 'down');
        await probe.press(`${label} set`, 'down', 'ok');
      }
      await probe.choose('VT ratio');
      await probe.press('vt ratio', 'ok', 'up', 'ok', 'ok', 'ok', 'ok');
      assert.match(probe.text(), /\*/, 'pending values are marked');
      await probe.sweepMenu('settings with pending values');
      await probe.press('leave settings', 'back');
      assert.match(probe.text(), /Store changes\?/);
      await probe.scrollThrough('store changes');
      await probe.press('store', 'ok');
      assert.match(probe.text(), /Changes stored/);
      await probe.press('stored', 'ok');

      await probe.choose('Security');
      await probe.sweepMenu('admin security');
      await probe.choose('Clear whitelist');
      await probe.scrollThrough('whitelist confirm');
      await probe.press('clear', 'ok');
      await probe.scrollThrough('whitelist cleared');
      await probe.press('cleared', 'ok');
      await probe.choose('Open registration');
      await probe.scrollThrough('registration open');
      await probe.press('registration', 'ok');
      await probe.choose('Change password');
      await probe.type('current password', 'not-the-password');
      assert.match(probe.text(), /Wrong password/);
      await probe.press('wrong', 'ok');

      // A read-only item for a user without config.write.
      const admin = security.actorFor(ADMIN_SLOT);
      const slot = await security.addUser(
        admin,
        {
          name: LONG_NAME,
          password: LONG_PASSWORD,
          permissions: permissionsFromNames(['measurements.read', 'meters.read', 'config.read']),
        },
        SYSTEM,
      );
      await probe.choose('Log out');
      await probe.scrollThrough('logged out');
      await probe.press('logged out', 'ok');
      const welcome = await logIn(probe, LONG_NAME, LONG_PASSWORD);
      assert.match(welcome.join('\n'), /Logged in as/);
      await probe.scrollThrough('logged in as a long name');
      await probe.press('logged in', 'ok');
      assert.match(probe.app.render()[0] ?? '', /~$/, 'the long name is abbreviated in the title');
      await probe.sweepMenu('long-name main menu');
      await probe.choose('Settings');
      await probe.choose('VT ratio');
      assert.match(probe.text(), /Read only/);
      await probe.scrollThrough('read-only message');
      await probe.press('read only', 'ok', 'back', 'back');
      assert.match(probe.app.render().at(-1) ?? '', /~/, 'the long name is abbreviated in the footer');

      // The session ends when the account changes elsewhere.
      await security.updateEntry(admin, slot, { permissions: permissionsFromNames(['meters.read']) }, SYSTEM);
      probe.look('account changed');
      assert.match(probe.text(), /account/);
      await probe.scrollThrough('account changed');
      await probe.press('account changed', 'ok');

      // Three wrong logins: the display's counter delays the next one.
      for (let attempt = 0; attempt < 4; attempt++) {
        await logIn(probe, attempt === 3 ? 'nobody.here' : 'admin', `Wrong-${attempt}-password`);
        await probe.scrollThrough('refused login');
        await probe.press('refused', 'ok', 'back', 'back', 'back');
      }
      for (const title of [
        'LOG IN: USER',
        'PASSWORD',
        'NEW PASSWORD',
        'REPEAT PASSWORD',
        'CURRENT PASSWORD',
      ]) {
        assert.ok(probe.titles.has(title), `${title} was shown`);
      }
      t.diagnostic(`${probe.checked} frames checked`);
    });

    it('Store changes? after the menu timeout, and the factory reset', async (t) => {
      const { probe, advance } = await rig(t, size, 0);
      await probe.press('combo', 'back', 'ok');
      assert.match(probe.text(), /^FACTORY RESET/);
      await probe.scrollThrough('factory reset confirm');
      await probe.press('erase', 'ok');
      assert.match(probe.text(), /Factory reset done/);
      await probe.press('done', 'ok');
      await logIn(probe, 'admin', 'CBM_1234');
      await probe.type('new', ADMIN_PASSWORD);
      await probe.type('repeat', ADMIN_PASSWORD);
      await probe.press('changed', 'ok');
      await probe.choose('Settings');
      await probe.choose('Word order');
      await probe.press('word order', 'down', 'ok');
      advance(MENU_TIMEOUT_MS);
      probe.look('timed out');
      assert.match(probe.text(), /Store changes\?/);
      await probe.scrollThrough('store after timeout');
      await probe.press('discard', 'back');
      assert.match(probe.text(), /discarded/);
      await probe.press('discarded', 'ok');
    });

    it('the safe mode display', () => {
      let fail = false;
      const safe = new SafeModeDisplay({
        reason: 'The security record cannot be trusted: both copies fail their check (tampered or damaged)',
        size,
        now: () => 0,
        bootedAt: 0,
        factoryReset: () => (fail ? Promise.reject(new Error('the flash did not erase')) : Promise.resolve()),
      });
      const look = (where: string) => assertLaidOut(safe.render(), size, `safe mode ${where}`);
      look('notice');
      for (let i = 0; i < 20; i++) {
        safe.key('down');
        look(`notice scrolled ${i}`);
      }
      assert.doesNotMatch(safe.render()[0] ?? '', /v$/);
      safe.key('back');
      safe.key('ok');
      look('confirm');
      assert.match(safe.render()[0] ?? '', /FACTORY RESET/);
      fail = true;
      safe.key('ok');
      look('busy');
    });

    it('every message text in words: rules, errors, throttling', () => {
      const texts = [
        describeError(new AuthError('invalid-credentials', 'x')),
        describeError(new AuthError('locked', 'x', 1_800_000)),
        describeError(new AuthError('rate-limited', 'x', 64_000)),
        describeError(new CoreError('permission-denied', 'x', { permission: 'security.write' })),
        describeError(new Error('the flash image could not be written: no space left on device')),
        'Client registration open for 5 minutes',
        'Whitelist cleared: every address may connect',
        'Erase all users, keys, certificate and log?',
        `Logged in as ${LONG_NAME}`,
        'Logged out: a new password is required',
      ];
      for (const password of [
        'short',
        'password123',
        'admin-admin',
        'CBM_12345',
        'x'.repeat(200),
        'a\u0001bcdefghij',
      ]) {
        try {
          checkPassword(password, { username: 'admin' });
        } catch (error) {
          texts.push(describeError(error));
        }
      }
      assert.ok(texts.length >= 15);
      for (const text of texts) {
        const lines = wrapText(text, size.cols);
        assertLaidOut(lines, { cols: size.cols, rows: lines.length }, `message '${text}'`);
        assert.equal(
          cutWord(text, lines, size.cols),
          null,
          `'${text}' at ${size.cols} columns:\n${lines.join('\n')}`,
        );
      }
    });
  });
}
