/**
 * Test fixture for the local display over a real serial line: a socat pty pair, the device's display
 * driver (serialport) on one end, and on the other a terminal that parses the ANSI stream into a screen
 * model and types keys as a VT100 keyboard sends them. `startDisplayDevice` builds the device with its
 * own factory (sim/build-sim-device.ts) on a fresh data dir with an injected clock, so timeouts are
 * tested by moving the clock.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { SerialPort } from 'serialport';
import { MIN_KDF_ITERATIONS } from '../../firmware/auth/password-verifier.ts';
import type { DeviceGraph } from '../../firmware/boot/device-factory.ts';
import { pickerKeys as keysOnPicker } from '../../firmware/display/char-picker.ts';
import { BOOT_WINDOW_MS, type DisplayApp } from '../../firmware/display/display-app.ts';
import { DisplayDriver } from '../../firmware/display/display-driver.ts';
import { openSerialDisplayPort } from '../../firmware/display/display-ports.ts';
import type { DisplayKey } from '../../firmware/display/key-decoder.ts';
import { DEFAULT_SCREEN_SIZE, type ScreenSize } from '../../firmware/display/screen-renderer.ts';
import type { ClientRegistry } from '../../firmware/services/client-registry.ts';
import type { LoginService } from '../../firmware/services/login-service.ts';
import type { MeteringService } from '../../firmware/services/metering-service.ts';
import type { SecurityService } from '../../firmware/services/security-service.ts';
import type { SecureStore } from '../../firmware/store/secure-store.ts';
import { buildSimDevice } from '../../sim/build-sim-device.ts';
import { AnsiScreen } from './ansi-screen.ts';
import { startPtyPair } from './modbus-rtu-fixture.ts';
import { tempDataDir } from './store-fixture.ts';

type TestContext = { after(fn: () => void | Promise<void>): void };

/** What a VT100 keyboard sends for each key (Back as arrow left: no Esc timing involved). */
export const KEY_BYTES: Record<DisplayKey, string> = {
  up: '\x1b[A',
  down: '\x1b[B',
  ok: '\r',
  back: '\x1b[D',
};

export interface DisplayTerminal {
  readonly screen: AnsiScreen;
  /** Sends the keys, in one write. */
  press(...keys: DisplayKey[]): Promise<void>;
  /** Asks for a full repaint (Ctrl-L), for a terminal opened after the first frame was drawn. */
  repaint(): Promise<void>;
  /** Sends raw bytes down the line. */
  send(bytes: string | Uint8Array): Promise<void>;
  /** Moves the menu cursor down to the item labelled `label` and opens it with OK. */
  choose(label: string): Promise<void>;
  /** Waits until the screen text matches; returns it. Fails naming what was on screen. */
  waitFor(expected: RegExp | string, timeoutMs?: number): Promise<string>;
  text(): string;
}

/** A terminal on `path` (the client end of a pty pair), parsing what the display draws. */
export async function openTerminal(
  t: TestContext,
  path: string,
  size: { cols: number; rows: number } = DEFAULT_SCREEN_SIZE,
): Promise<DisplayTerminal> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  port.on('error', () => {});
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  );
  const screen = new AnsiScreen(size.cols, size.rows);
  port.on('data', (chunk: Buffer) => screen.feed(chunk.toString('latin1')));
  const send = (bytes: string | Uint8Array) =>
    new Promise<void>((resolve, reject) =>
      port.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes), (error) =>
        error ? reject(error) : port.drain(() => resolve()),
      ),
    );
  const waitForChange = async (before: string) => {
    const deadline = Date.now() + 5000;
    while (screen.text() === before) {
      if (Date.now() > deadline) assert.fail(`the display did not change; it shows:\n${before}`);
      await sleep(5);
    }
  };
  return {
    screen,
    send,
    async choose(label) {
      const selected = new RegExp(`^>${label.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}( |$)`, 'm');
      for (let step = 0; step < 16; step++) {
        const text = screen.text();
        if (selected.test(text)) {
          await send(KEY_BYTES.ok);
          await waitForChange(text);
          return;
        }
        await send(KEY_BYTES.down);
        await waitForChange(text);
      }
      assert.fail(`no menu item '${label}' on the display; it shows:\n${screen.text()}`);
    },
    press: (...keys) => send(keys.map((key) => KEY_BYTES[key]).join('')),
    repaint: () => send('\x0c'),
    text: () => screen.text(),
    async waitFor(expected, timeoutMs = 5000) {
      const matches = (text: string) =>
        typeof expected === 'string' ? text.includes(expected) : expected.test(text);
      const deadline = Date.now() + timeoutMs;
      while (!matches(screen.text())) {
        if (Date.now() > deadline) {
          assert.fail(
            `display did not show ${String(expected)} within ${timeoutMs} ms; it shows:\n${screen.text()}`,
          );
        }
        await sleep(10);
      }
      return screen.text();
    },
  };
}

/** The keys that type `text` (a user name or password) on the character picker and finish the entry. */
export function pickerKeys(text: string): DisplayKey[] {
  return keysOnPicker(text);
}

export interface DisplayDevice {
  readonly terminal: DisplayTerminal;
  /** The whole device as its factory built it. */
  readonly graph: DeviceGraph;
  readonly app: DisplayApp;
  readonly driver: DisplayDriver;
  readonly store: SecureStore;
  readonly security: SecurityService;
  readonly metering: MeteringService;
  readonly registry: ClientRegistry;
  /** The network's login service (its own failure counter, apart from the display's). */
  readonly login: LoginService;
  /** The injected clock. */
  now(): number;
  /** Moves the clock and lets the display apply its timeouts (as its timer would). */
  advance(ms: number): void;
  /** How often the display asked for a factory reset. */
  factoryResets(): number;
  /** What the driver and port logged (errors). */
  readonly logs: readonly string[];
}

/** The serial number the fixture's device has (the Info screen shows it). */
export const TEST_SERIAL_NUMBER = 'MG-DISP-0001';

export interface DisplayDeviceOptions {
  readonly size?: ScreenSize;
  /** How long before the start the device booted. Default: just past the factory-reset window. */
  readonly bootedAgoMs?: number;
  /** Runs on the data dir before the device is built from it (a previous life of the device). */
  readonly prepare?: (dataDir: string) => void | Promise<void>;
}

/**
 * A device on a fresh data dir (factory table: admin / CBM_1234, which must be changed), its display
 * driven over a socat pty pair. The clock starts at the real time and moves only by `advance`; the
 * boot was `bootedAgoMs` before the start (default: just past the factory-reset window, so quick
 * Back, OK sequences of a test are navigation).
 */
export async function startDisplayDevice(
  t: TestContext,
  options: DisplayDeviceOptions = {},
): Promise<DisplayDevice> {
  const size = options.size ?? DEFAULT_SCREEN_SIZE;
  const data = tempDataDir(t);
  await options.prepare?.(data.dir);
  let time = Date.now();
  const now = () => time;
  let resets = 0;
  const device = await buildSimDevice({
    dataDir: data.dir,
    now,
    serialNumber: TEST_SERIAL_NUMBER,
    kdfIterations: MIN_KDF_ITERATIONS,
    display: {
      size,
      bootedAt: now() - (options.bootedAgoMs ?? BOOT_WINDOW_MS + 1),
      factoryReset: async () => {
        resets++;
      },
    },
  });
  t.after(() => device.close());
  const { graph } = device;
  const pty = await startPtyPair(t);
  const logs: string[] = [];
  const port = await openSerialDisplayPort(pty.device, (message) => logs.push(message));
  const driver = new DisplayDriver(port, { size, now, log: (message) => logs.push(message) });
  t.after(() => driver.close());
  const terminal = await openTerminal(t, pty.client, size);
  driver.show(graph.display);
  return {
    terminal,
    graph,
    app: graph.display,
    driver,
    store: graph.store,
    security: graph.security,
    metering: graph.metering,
    login: graph.login,
    registry: graph.registry,
    now,
    advance(ms) {
      time += ms;
      driver.tick();
    },
    factoryResets: () => resets,
    logs,
  };
}

/**
 * Logs `username` in at the display, from the measurement image. With `newPassword`, the login used
 * the factory password and the forced new one is entered twice.
 */
export async function loginAt(
  terminal: DisplayTerminal,
  username: string,
  password: string,
  newPassword?: string,
): Promise<void> {
  await terminal.press('ok');
  await terminal.waitFor(/^MENU/);
  await terminal.choose('Security');
  await terminal.waitFor(/^SECURITY/);
  await terminal.choose('Log in');
  await terminal.waitFor(/^LOG IN: USER/);
  await terminal.press(...pickerKeys(username));
  await terminal.waitFor(/^PASSWORD/);
  await terminal.press(...pickerKeys(password));
  if (newPassword !== undefined) {
    await terminal.waitFor(/^NEW PASSWORD/);
    await terminal.press(...pickerKeys(newPassword));
    await terminal.waitFor(/^REPEAT PASSWORD/);
    await terminal.press(...pickerKeys(newPassword));
    await terminal.waitFor('Password changed');
  } else {
    // The message wraps at the display's width.
    await terminal.waitFor(new RegExp(`Logged in as\\s+${username.replace(/[.]/g, '\\.')}`));
  }
  await terminal.press('ok');
  await terminal.waitFor(new RegExp(`^MENU\\s+${username}`));
}
