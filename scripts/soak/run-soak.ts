/**
 * Load and soak of the real device process (issue 9): 32 Modbus TCP connections (from 4 loopback
 * sources, as 4 SCADA hosts would) and 16 HTTPS API clients on keep-alive connections read without
 * pause, and an admin logs in every second, for the whole run. Reports failed well-formed requests
 * (must be 0), Modbus latency percentiles, growth of RSS's floor from the first half of the run to the
 * second (must stay within +20 %; a leak raises the floor, garbage collection only makes peaks) and
 * file descriptors after the clients left (must be back to the baseline: no leak).
 *
 * `npm run soak -- --seconds N` runs it and prints the report; test/load/soak.test.ts runs a short one.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DeviceClient } from '../../firmware/client/device-client.ts';
import { startDevice } from '../../test/support/device-process.ts';
import { openFds, rssMb } from '../../test/support/process-memory.ts';
import { BenchModbusClient } from '../bench/modbus-client.ts';

const ADMIN_PASSWORD = 'Soak-Test-Keeper-8';
export const MODBUS_CONNECTIONS = 32;
export const MODBUS_SOURCES = 4;
export const API_CLIENTS = 16;
/** RSS's floor may grow by this fraction from the first half of the run to the second. */
export const RSS_GROWTH_LIMIT = 0.2;
const RSS_SAMPLE_MS = 200;

export interface SoakReport {
  readonly seconds: number;
  readonly modbusReads: number;
  readonly modbusFailures: number;
  readonly modbusP50Ms: number;
  readonly modbusP99Ms: number;
  readonly apiRequests: number;
  readonly apiFailures: number;
  readonly logins: number;
  readonly loginFailures: number;
  /** The lowest RSS in the first half of the run after the warm-up. */
  readonly rssAfterWarmupMb: number;
  /** The lowest RSS in the second half. */
  readonly rssLateFloorMb: number;
  readonly rssPeakMb: number;
  readonly rssEndMb: number;
  readonly rssGrowth: number;
  readonly fdBaseline: number;
  readonly fdAfter: number;
  readonly failures: readonly string[];
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** One GET over a keep-alive agent; resolves with the status. */
function get(agent: Agent, port: number, path: string, apiKey: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        agent,
        headers: { authorization: `Bearer ${apiKey}` },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function runSoak(seconds: number, log: (line: string) => void = () => {}): Promise<SoakReport> {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-soak-'));
  const device = await startDevice(['--data-dir', dir, '--modbus-port', '0']);
  const failures: string[] = [];
  const fail = (what: string) => {
    if (failures.length < 20) failures.push(what);
  };
  try {
    const pid = device.process.pid as number;
    const ca = readFileSync(join(dir, 'tls', 'cert.pem'), 'utf8');
    const httpsPort = device.ready.https as number;
    const httpsUrl = `https://127.0.0.1:${httpsPort}`;
    const admin = new DeviceClient(httpsUrl, { ca });
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
    const key = await admin.request<{ key: string }>('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'soak',
      preset: 'read-only',
    });
    const apiKey = key.body.key;
    await admin.request('PATCH', '/api/v1/config', { communication: { modbusTcp: true } });
    const info = await admin.request<{ modbus: { tcpPort: number } }>('GET', '/api/v1/info');
    const modbusPort = info.body.modbus.tcpPort;
    await admin.logout();
    const fdBaseline = openFds(pid);
    log(`device pid ${pid}: RSS ${rssMb(pid).toFixed(0)} MB, ${fdBaseline} fds; load for ${seconds} s`);

    const deadline = performance.now() + seconds * 1000;
    const running = () => performance.now() < deadline;
    const latencies: number[] = [];
    let modbusReads = 0;
    let modbusFailures = 0;
    let apiRequests = 0;
    let apiFailures = 0;
    let logins = 0;
    let loginFailures = 0;

    const modbusClients = await Promise.all(
      Array.from({ length: MODBUS_CONNECTIONS }, (_, i) =>
        BenchModbusClient.open(modbusPort, `127.0.6.${(i % MODBUS_SOURCES) + 1}`),
      ),
    );
    const modbusLoad = modbusClients.map(async (client) => {
      while (running()) {
        const started = performance.now();
        const answer = await Promise.race([client.read(0, 22), sleep(5000).then(() => null)]);
        const elapsed = performance.now() - started;
        if (answer?.[7] !== 3) {
          modbusFailures++;
          fail(answer ? `Modbus exception ${answer[8]}` : 'Modbus read timed out');
          if (!answer) return;
        } else {
          latencies.push(elapsed);
          modbusReads++;
        }
      }
    });
    const agents = Array.from(
      { length: API_CLIENTS },
      (_, i) => new Agent({ keepAlive: true, maxSockets: 1, ca, localAddress: `127.0.7.${i + 1}` }),
    );
    const apiLoad = agents.map(async (agent, i) => {
      const path = i % 2 === 0 ? '/api/v1/measurements' : '/api/v1/meters';
      while (running()) {
        try {
          const status = await get(agent, httpsPort, path, apiKey);
          apiRequests++;
          if (status !== 200) {
            apiFailures++;
            fail(`GET ${path}: ${status}`);
          }
        } catch (error) {
          apiFailures++;
          fail(`GET ${path}: ${(error as Error).message}`);
        }
      }
    });
    const loginLoad = (async () => {
      while (running()) {
        const started = performance.now();
        try {
          const client = new DeviceClient(httpsUrl, { ca });
          await client.login('admin', ADMIN_PASSWORD);
          await client.logout();
          logins++;
        } catch (error) {
          loginFailures++;
          fail(`login: ${(error as Error).message}`);
        }
        await sleep(Math.max(0, 1000 - (performance.now() - started)));
      }
    })();

    // RSS is sampled from the end of the warm-up (30 % of the run, at least 3 s: V8 sizes its heap
    // for the load during the first seconds). Under load a
    // garbage-collected heap is a sawtooth (tens of MB between collections), so a peak says little;
    // a leak shows as a rising floor. Growth is the floor of the run's second half against the floor
    // of its first half.
    const warmupMs = Math.max(3000, seconds * 300);
    await sleep(Math.min(warmupMs, seconds * 1000));
    const samples: number[] = [rssMb(pid)];
    while (running()) {
      await sleep(Math.min(RSS_SAMPLE_MS, Math.max(0, deadline - performance.now())));
      samples.push(rssMb(pid));
    }
    const half = Math.ceil(samples.length / 2);
    const rssAfterWarmupMb = Math.min(...samples.slice(0, half));
    const rssLateFloorMb = Math.min(...samples.slice(half));
    const rssPeakMb = Math.max(...samples);
    await Promise.all([...modbusLoad, ...apiLoad, loginLoad]);
    const rssEndMb = rssMb(pid);
    for (const client of modbusClients) client.close();
    for (const agent of agents) agent.destroy();
    // The device closes its side of the connections the clients left; then the fds are back.
    let fdAfter = openFds(pid);
    for (let i = 0; i < 50 && fdAfter > fdBaseline; i++) {
      await sleep(100);
      fdAfter = openFds(pid);
    }
    latencies.sort((a, b) => a - b);
    const rssGrowth = (rssLateFloorMb - rssAfterWarmupMb) / rssAfterWarmupMb;
    if (device.process.exitCode !== null) fail('the device process died');
    return {
      seconds,
      modbusReads,
      modbusFailures,
      modbusP50Ms: percentile(latencies, 50),
      modbusP99Ms: percentile(latencies, 99),
      apiRequests,
      apiFailures,
      logins,
      loginFailures,
      rssAfterWarmupMb,
      rssLateFloorMb,
      rssPeakMb,
      rssEndMb,
      rssGrowth,
      fdBaseline,
      fdAfter,
      failures,
    };
  } finally {
    await device.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatReport(r: SoakReport): string {
  return [
    `soak ${r.seconds} s: ${MODBUS_CONNECTIONS} Modbus TCP connections, ${API_CLIENTS} HTTPS API clients, a login a second`,
    `  Modbus reads      ${r.modbusReads} (${r.modbusFailures} failed), p50 ${r.modbusP50Ms.toFixed(2)} ms, p99 ${r.modbusP99Ms.toFixed(2)} ms`,
    `  REST requests     ${r.apiRequests} (${r.apiFailures} failed)`,
    `  logins            ${r.logins} (${r.loginFailures} failed)`,
    `  RSS floor         ${r.rssAfterWarmupMb.toFixed(1)} MB in the first half, ${r.rssLateFloorMb.toFixed(1)} MB in the second: ${(r.rssGrowth * 100).toFixed(1)} % (limit ${RSS_GROWTH_LIMIT * 100} %); peak ${r.rssPeakMb.toFixed(1)} MB, ${r.rssEndMb.toFixed(1)} MB at the end`,
    `  file descriptors  ${r.fdBaseline} before, ${r.fdAfter} after the clients left`,
    ...r.failures.map((f) => `  failure: ${f}`),
  ].join('\n');
}

/** The soak's verdict: empty when every bound held. */
export function soakProblems(r: SoakReport): string[] {
  const problems: string[] = [];
  if (r.modbusFailures + r.apiFailures + r.loginFailures > 0) problems.push('well-formed requests failed');
  if (r.rssGrowth > RSS_GROWTH_LIMIT) problems.push(`RSS grew by ${(r.rssGrowth * 100).toFixed(1)} %`);
  if (r.fdAfter > r.fdBaseline) problems.push(`file descriptors leaked: ${r.fdBaseline} → ${r.fdAfter}`);
  if (r.failures.length > 0) problems.push(...r.failures);
  return problems;
}

if (import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' } } });
  const seconds = Number(values.seconds);
  if (!(seconds >= 5)) {
    console.error(`npm run soak: --seconds must be at least 5, got '${values.seconds}'`);
    process.exit(2);
  }
  const report = await runSoak(seconds, (line) => console.error(line));
  console.log(formatReport(report));
  const problems = soakProblems(report);
  if (problems.length > 0) {
    console.error(`soak FAILED: ${problems.join('; ')}`);
    process.exit(1);
  }
}
