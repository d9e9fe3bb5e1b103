/**
 * `npm start` in a real terminal (tmux): the console is the display (`--display tty` is the default in
 * a terminal). The test reads the screen with capture-pane and presses keys with send-keys, as an
 * operator at a serial terminal would; Ctrl-C still stops the device although the console is in raw mode.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../support/device-process.ts';

const SOCKET = `metergate-test-${process.pid}`;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8', timeout: 10_000 });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function screenShows(expected: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let screen = '';
  while (Date.now() < deadline) {
    try {
      screen = tmux('capture-pane', '-p', '-t', 'device');
    } catch {
      // The session may not exist yet, or any more.
    }
    if (expected.test(screen)) return screen;
    await sleep(100);
  }
  assert.fail(`the terminal did not show ${expected} within ${timeoutMs} ms; it shows:\n${screen}`);
}

describe('npm start in a terminal', () => {
  it('shows the measurement image in a box, reacts to the arrow keys and Enter, and stops on Ctrl-C', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'metergate-console-'));
    const pidFile = join(dataDir, 'metergate.pid');
    t.after(() => {
      // The device by its PID (from its data-dir lock), then the private tmux server.
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
      }
      try {
        tmux('kill-server');
      } catch {
        // Already gone with its last session.
      }
      rmSync(dataDir, { recursive: true, force: true });
    });
    const command = `npm start -- --data-dir ${dataDir} --http-port 0 --https-port 0; sleep 30`;
    tmux('new-session', '-d', '-s', 'device', '-x', '100', '-y', '30', '-c', REPO_ROOT, command);

    let screen = await screenShows(/\|VOLTAGE\s+1\/5\s*\|/);
    assert.match(screen, /\|U1\s+\d+\.\d+ V\|/);
    assert.match(screen, /\|localgui\s+OK:menu\|/);
    assert.match(screen, /metergate ready \{/, 'the ready line scrolls below the display');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(pid > 0 && alive(pid));

    tmux('send-keys', '-t', 'device', 'Down');
    await screenShows(/\|CURRENT\s+2\/5\s*\|/);
    tmux('send-keys', '-t', 'device', 'Enter');
    screen = await screenShows(/\|MENU\s*\|/);
    assert.match(screen, /\|>Measurements\s*\|/);
    tmux('send-keys', '-t', 'device', 'Left');
    await screenShows(/\|CURRENT\s+2\/5\s*\|/);

    tmux('send-keys', '-t', 'device', 'C-c');
    const deadline = Date.now() + 10_000;
    while (alive(pid) && Date.now() < deadline) await sleep(50);
    assert.equal(alive(pid), false, 'Ctrl-C stopped the device');
    screen = await screenShows(/SIGINT: stopping/);
  });
});
