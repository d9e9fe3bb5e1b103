/**
 * An RS-485 line for the poller's end-to-end tests: a socat pty pair whose link paths stay the same,
 * so a line that was closed (socat killed by PID: the cable pulled, the USB adapter gone) can be
 * plugged in again at the same path. The upstream meter (test/support/pymodbus-meter.ts) serves one
 * end, the device opens the other.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

type TestContext = { after(fn: () => void | Promise<void>): void };

/** Kills by PID and waits for the exit (bounded). */
async function killChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGKILL');
  await Promise.race([exited, sleep(3000)]);
}

/** A socat pty pair with fixed link paths: `meter` for the upstream server, `device` for metergate. */
export interface SerialLine {
  readonly meter: string;
  readonly device: string;
  /** Kills socat by PID: both ends close, as a pulled cable or a dead USB adapter. */
  unplug(): Promise<void>;
  /** Starts socat again with the same link paths. */
  plug(): Promise<void>;
}

export async function startLine(t: TestContext): Promise<SerialLine> {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-line-'));
  const meter = join(dir, 'meter');
  const device = join(dir, 'device');
  let socat: ChildProcess | null = null;
  const plug = async () => {
    const child = spawn('socat', [`pty,raw,echo=0,link=${meter}`, `pty,raw,echo=0,link=${device}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    socat = child;
    const deadline = Date.now() + 5000;
    while (!(existsSync(meter) && existsSync(device))) {
      if (child.exitCode !== null || Date.now() > deadline) assert.fail('socat did not create the pty pair');
      await sleep(10);
    }
  };
  const unplug = async () => {
    if (socat) await killChild(socat);
    socat = null;
    const deadline = Date.now() + 5000;
    while (existsSync(meter) || existsSync(device)) {
      if (Date.now() > deadline) assert.fail('socat left its links behind');
      await sleep(10);
    }
  };
  t.after(async () => {
    await unplug();
    rmSync(dir, { recursive: true, force: true });
  });
  await plug();
  return { meter, device, unplug, plug };
}
