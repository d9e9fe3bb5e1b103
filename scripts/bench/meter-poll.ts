/**
 * The upstream meter front end (DESIGN §7, issue 15 "Measure"): the device process polling a pymodbus
 * SDM630 over Modbus TCP on loopback, and over Modbus RTU on a socat pty pair (9600 baud, even parity
 * as configured; a pty does not pace the bytes). (1) From a value changed in the meter to that value on
 * REST, at the default interval (1 s): the change is made at a random phase of the poll cycle, REST is
 * read every 5 ms until it shows the value. (2) The device's CPU share (user + system time over wall
 * time, from /proc) while polling at 1 s and at 100 ms, with nothing else asking it anything.
 * Run alone: `node --import tsx scripts/bench/meter-poll.ts`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PymodbusMeter, startPymodbusMeter } from '../../test/support/pymodbus-meter.ts';
import { startLine } from '../../test/support/serial-line.ts';
import type { FloodRow } from './audit-flood.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DEVICE = join(ROOT, 'dist', 'device.mjs');
const CHANGES = 50;
const CPU_SECONDS = 15;
/** Linux clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on every Linux we run on). */
const TICKS = 100;

function startDevice(dataDir: string, meter: string): Promise<{ child: ChildProcess; http: number }> {
  const child = spawn(
    process.execPath,
    [
      DEVICE,
      '--data-dir',
      dataDir,
      '--http-port',
      '0',
      '--https-port',
      '0',
      '--display',
      'none',
      '--meter',
      meter,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('device not ready in 20 s')), 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /^metergate ready (.*)$/m.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, http: (JSON.parse(match[1] as string) as { http: number }).http });
      }
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
}

function voltage(port: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/api/v1/measurements' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve((JSON.parse(body) as { voltage: (number | null)[] }).voltage[0] ?? null));
    }).on('error', reject);
  });
}

function cpuTicks(pid: number): number {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const quantile = (values: readonly number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
};

/** CHANGES changes of U1 at a random phase of the 1 s cycle; the time until each shows on REST, ms. */
async function changeLatencies(dir: string, meter: PymodbusMeter, source: string): Promise<number[]> {
  const device = await startDevice(dir, source);
  const latencies: number[] = [];
  try {
    await meter.set('u1', 200);
    while ((await voltage(device.http)) !== 200) await sleep(20);
    for (let i = 1; i <= CHANGES; i++) {
      await sleep(Math.random() * 1000);
      const value = 200 + i;
      await meter.set('u1', value);
      const changed = performance.now();
      while ((await voltage(device.http)) !== value) await sleep(5);
      latencies.push(performance.now() - changed);
    }
  } finally {
    await stop(device.child);
  }
  return latencies;
}

export async function meterPolling(dir: string): Promise<FloodRow[]> {
  process.stderr.write('meter polling\n');
  const cleanups: (() => void | Promise<void>)[] = [];
  // The meter helper wants a test's cleanup scope; the bench gives it one of its own.
  const scope = {
    after: (fn: () => void | Promise<void>) => void cleanups.push(fn),
  } as unknown as TestContext;
  const rows: FloodRow[] = [];
  try {
    const meter = await startPymodbusMeter(scope, { layout: 'sdm630' });
    const source = (interval: string) =>
      `modbus-tcp://127.0.0.1:${meter.port}?unit=1&profile=eastron-sdm630&interval=${interval}`;

    const latencies = await changeLatencies(join(dir, 'meter-latency'), meter, source('1s'));
    rows.push({
      figure: `upstream meter (Modbus TCP, loopback): value changed upstream → on REST, interval 1 s (${CHANGES} changes)`,
      value: `median ${quantile(latencies, 0.5).toFixed(0)} ms, p99 ${quantile(latencies, 0.99).toFixed(0)} ms`,
      target: '≤ 1.5 × interval (median)',
      met: quantile(latencies, 0.5) <= 1500,
    });

    const line = await startLine(scope);
    const rtuMeter = await startPymodbusMeter(scope, { layout: 'sdm630', serial: line.meter });
    const rtu = await changeLatencies(
      join(dir, 'meter-latency-rtu'),
      rtuMeter,
      `modbus-rtu:${line.device}?baud=9600&parity=even&unit=1&profile=eastron-sdm630`,
    );
    rows.push({
      figure: `upstream meter (Modbus RTU, socat pty pair): value changed upstream → on REST, interval 1 s (${CHANGES} changes)`,
      value: `median ${quantile(rtu, 0.5).toFixed(0)} ms, p99 ${quantile(rtu, 0.99).toFixed(0)} ms`,
      target: '≤ 1.5 × interval (median)',
      met: quantile(rtu, 0.5) <= 1500,
    });

    for (const interval of ['1s', '100ms']) {
      const polling = await startDevice(join(dir, `meter-cpu-${interval}`), source(interval));
      try {
        await sleep(2000);
        const pid = polling.child.pid as number;
        const before = cpuTicks(pid);
        const start = performance.now();
        await sleep(CPU_SECONDS * 1000);
        const share = (cpuTicks(pid) - before) / TICKS / ((performance.now() - start) / 1000);
        rows.push({
          figure: `device CPU share while polling an SDM630 (5 block reads a poll) every ${interval}, otherwise idle (${CPU_SECONDS} s)`,
          value: `${(share * 100).toFixed(1)} % of one core`,
          target: '—',
          met: null,
        });
      } finally {
        await stop(polling.child);
      }
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-meter-bench-'));
  try {
    for (const row of await meterPolling(dir)) process.stdout.write(`${row.figure}: ${row.value}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
