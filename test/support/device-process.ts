/**
 * Starts the real device process for end-to-end tests: the simulated device (dist/sim-device.mjs, the
 * firmware's process with the simulator's meter and power-cut flash, as built by scripts/build.mjs): waits for its ready line within a bound, collects stderr, and kills it by PID afterwards.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { ReadyInfo } from '../../firmware/boot/boot-device.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const DEVICE_ENTRY = join(REPO_ROOT, 'dist', 'sim-device.mjs');
/** The board's firmware build, without the simulator. */
export const FIRMWARE_ENTRY = join(REPO_ROOT, 'dist', 'device.mjs');
export const CLI_ENTRY = join(REPO_ROOT, 'dist', 'cli.mjs');

export type { ReadyInfo };

export interface RunningDevice {
  readonly process: ChildProcess;
  readonly ready: ReadyInfo;
  /** Everything the device wrote to stderr so far. */
  stderr(): string;
  /** Everything on stdout so far. */
  stdout(): string;
  /** SIGTERM, wait for the exit (bounded), SIGKILL if it hangs. Resolves with the exit code/signal. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Port-0 listeners on loopback unless the test says otherwise. */
export const LOOPBACK_PORTS = [
  '--host',
  '127.0.0.1',
  '--http-port',
  '0',
  '--https-port',
  '0',
  '--display',
  'none',
];

/** Every device a test started and has not seen exit: killed by PID when the test process ends. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * `--sim` unless the test chose the meter source itself (`--meter`), or wants none on the command
 * line (NO_METER_FLAG: the device reads the stored one, or refuses).
 */
function meterArgs(args: readonly string[]): string[] {
  return args.includes('--meter') || args.includes(NO_METER_FLAG) ? [] : ['--sim'];
}

/** Pass in a device's args for a start without `--meter` and `--sim`; not passed on to the device. */
export const NO_METER_FLAG = '<no meter flag>';
const deviceArgs = (args: readonly string[]) => args.filter((arg) => arg !== NO_METER_FLAG);

export async function startDevice(args: readonly string[], timeoutMs = 15_000): Promise<RunningDevice> {
  const child = spawn(
    process.execPath,
    [DEVICE_ENTRY, ...meterArgs(args), ...LOOPBACK_PORTS, ...deviceArgs(args)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  child.on('exit', () => running.delete(child));
  // A failed assertion must not leave the test process waiting on a live child: unref it, and the
  // exit hook above kills it.
  child.unref();
  (child.stdout as unknown as { unref(): void }).unref();
  (child.stderr as unknown as { unref(): void }).unref();
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const ready = await new Promise<ReadyInfo>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`device not ready within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /^metergate ready (.*)$/m.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(JSON.parse(match[1] as string) as ReadyInfo);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`device exited (${code ?? signal}) before ready; stderr:\n${stderr}`));
    });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return { code: child.exitCode, signal: child.signalCode };
    }
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [code, signal] = await exited;
    clearTimeout(timer);
    return { code, signal };
  };
  return { process: child, ready, stderr: () => stderr, stdout: () => stdout, stop };
}

/** Runs the device to completion (for runs expected to die or refuse), bounded in time. */
export function runDeviceToExit(args: readonly string[], timeoutMs = 15_000) {
  return spawnSync(
    process.execPath,
    [DEVICE_ENTRY, ...meterArgs(args), ...LOOPBACK_PORTS, ...deviceArgs(args)],
    {
      encoding: 'utf8',
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
}

/** Runs `metergate <command>` (dist/cli.mjs) to completion, bounded in time. */
export function runCli(args: readonly string[], timeoutMs = 30_000) {
  return spawnSync(process.execPath, [CLI_ENTRY, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
