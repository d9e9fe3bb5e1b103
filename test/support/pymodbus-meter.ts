/**
 * Starts test/support/pymodbus-meter.py, an upstream meter written with Debian's pymodbus from the
 * makers' documents (not from metergate's profiles), over TCP (127.0.0.1, any free port) or on a
 * serial device (one end of a socat pty pair). Values are set and failure modes switched through its
 * stdin, each command waiting for the server's `ok`. Killed by PID when the test ends.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

/** Debian's interpreter, where python3-pymodbus is installed (a pyenv `python3` on PATH may lack it). */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, 'pymodbus-meter.py');

export type MeterLayout = 'sdm630' | 'sdm72d-m' | 'em24' | 'metergate';

export interface PymodbusMeter {
  readonly pid: number;
  /** The bound TCP port, or null on a serial line. */
  readonly port: number | null;
  /** Sends one command line (`set u1 230.1`, `mode silent`, ...) and resolves with the server's reply line. */
  command(line: string): Promise<string>;
  /** Sets a value in base units; fails the test unless the server says `ok`. */
  set(name: string, value: number): Promise<void>;
  stderr(): string;
}

export interface PymodbusMeterOptions {
  readonly layout: MeterLayout;
  /** Serve on this serial device instead of TCP. */
  readonly serial?: string;
  readonly unit?: number;
  /** Bound on start-up and on each command's reply; default 10 s (a loaded 2-core machine). */
  readonly timeoutMs?: number;
}

export async function startPymodbusMeter(
  t: TestContext,
  options: PymodbusMeterOptions,
): Promise<PymodbusMeter> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const args = [SCRIPT, '--layout', options.layout, '--unit', String(options.unit ?? 1)];
  args.push(...(options.serial ? ['--serial', options.serial] : ['--tcp', '0']));
  const child: ChildProcess = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGTERM');
      await Promise.race([exited, sleep(2000)]);
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    }
  });
  assert.ok(child.stdout && child.stdin && child.pid !== undefined);
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  const queued: string[] = [];
  lines.on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else queued.push(line);
  });
  const nextLine = async (what: string): Promise<string> => {
    const ready = queued.shift();
    if (ready !== undefined) return ready;
    return Promise.race([
      new Promise<string>((resolve) => waiting.push(resolve)),
      exited.then(() => assert.fail(`pymodbus meter exited while ${what}: ${stderr}`)),
      sleep(timeoutMs, undefined, { ref: false }).then(() =>
        assert.fail(`pymodbus meter: no answer within ${timeoutMs} ms while ${what}: ${stderr}`),
      ),
    ]);
  };

  const ready = await nextLine('starting');
  const match = /^ready (\{.*\})$/.exec(ready);
  assert.ok(match?.[1], `pymodbus meter did not start: ${ready}\n${stderr}`);
  const info = JSON.parse(match[1]) as { tcp?: number; serial?: string };
  const stdin = child.stdin;
  const command = async (line: string) => {
    stdin.write(`${line}\n`);
    return nextLine(`answering '${line}'`);
  };
  return {
    pid: child.pid,
    port: info.tcp ?? null,
    command,
    async set(name, value) {
      assert.equal(await command(`set ${name} ${value}`), 'ok', `set ${name} ${value}`);
    },
    stderr: () => stderr,
  };
}
