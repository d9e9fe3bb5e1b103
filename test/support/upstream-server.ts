/**
 * An upstream meter for the poller's end-to-end tests: test/support/pymodbus-upstream.py (Debian's
 * pymodbus, not this project's code) over Modbus TCP on 127.0.0.1 port 0, or over Modbus RTU on one
 * end of a socat pty pair whose other end the device opens. Controlled by commands on its stdin;
 * killed by PID when the test ends. `startLine` keeps the pty links' paths, so a line that was closed
 * (socat killed: the cable pulled) can be plugged in again at the same path.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

type TestContext = { after(fn: () => void | Promise<void>): void };

const SCRIPT = join(import.meta.dirname, 'pymodbus-upstream.py');

export interface UpstreamServer {
  /** The TCP port (tcp), or null. */
  readonly port: number | null;
  /** Sends one command (see pymodbus-upstream.py) and waits for its `ok`. */
  send(command: string): Promise<void>;
  /** Writes a float32 (high word first) at an input register (FC4) address. */
  setFloat(address: number, value: number): Promise<void>;
  /** Kills the server by PID and waits for its exit (bounded). */
  kill(): Promise<void>;
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGKILL');
  await Promise.race([exited, sleep(3000)]);
}

/**
 * Starts the pymodbus meter: `tcp`, or `rtu` on `path` (9600 baud, 8N1 unless said otherwise: a pty
 * has no parity, and pymodbus 3.0's serial server fails to open one with parity set, silently).
 */
export async function startUpstream(
  t: TestContext,
  options: { kind: 'tcp' } | { kind: 'rtu'; path: string; baud?: number; parity?: 'N' | 'E' | 'O' },
  unit = 1,
): Promise<UpstreamServer> {
  const args =
    options.kind === 'tcp'
      ? [SCRIPT, 'tcp', String(unit)]
      : [SCRIPT, 'rtu', String(unit), options.path, String(options.baud ?? 9600), options.parity ?? 'N'];
  const child = spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => killChild(child));
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const lines = () => stdout.split('\n').filter(Boolean);
  const waitForLines = async (count: number, what: string) => {
    const deadline = Date.now() + 10_000;
    while (lines().length < count) {
      if (child.exitCode !== null || Date.now() > deadline) {
        assert.fail(
          `pymodbus upstream: no ${what} (exit ${child.exitCode}); stdout ${stdout}; stderr ${stderr}`,
        );
      }
      await sleep(10);
    }
    return lines()[count - 1] as string;
  };
  const ready = await waitForLines(1, 'ready line');
  assert.match(ready, /^ready /);
  const port = options.kind === 'tcp' ? Number(ready.split(' ')[1]) : null;
  let answered = 1;
  const send = async (command: string) => {
    child.stdin?.write(`${command}\n`);
    answered++;
    const line = await waitForLines(answered, `answer to '${command}'`);
    assert.equal(line, 'ok', `pymodbus upstream: '${command}' answered '${line}'`);
  };
  return {
    port,
    send,
    setFloat: (address, value) => send(`float 4 ${address} ${value}`),
    kill: () => killChild(child),
  };
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
