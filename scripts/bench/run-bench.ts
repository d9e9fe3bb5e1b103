/**
 * `npm run bench`: the device's speed and size, as ratios against a baseline measured in the same run
 * on the same machine (DESIGN §7). Prints a table and rewrites docs/benchmarks.md with the machine,
 * Node version and date. Never used as a pass/fail test: figures are recorded, targets compared.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { createVerifier, deriveSeed, MIN_KDF_ITERATIONS } from '../../firmware/auth/password-verifier.ts';
import { DeviceClient } from '../../firmware/client/device-client.ts';
import { actorFor, addApiKey, setPassword } from '../../firmware/core/user-table.ts';
import { FileKeyProvider, FileMonotonicCounter } from '../../firmware/keys/file-key-provider.ts';
import { ConfigStore } from '../../firmware/store/config-store.ts';
import { SecureStore } from '../../firmware/store/secure-store.ts';
import { generateSelfSignedCertificate } from '../../firmware/tls/self-signed-certificate.ts';
import { NorFlash } from '../../sim/nor-flash.ts';
import { rssMb } from '../../test/support/process-memory.ts';
import { auditFlood } from './audit-flood.ts';
import { browserLogin } from './browser-login.ts';
import type { LoadResult } from './http-load.ts';
import { loginTiming } from './login-timing.ts';
import { meterPolling } from './meter-poll.ts';
import { BenchModbusClient } from './modbus-client.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DEVICE = join(ROOT, 'dist', 'sim-device.mjs');
const FLOOR = join(ROOT, 'scripts', 'bench', 'floor-server.mjs');
/** Seconds per measured run; BENCH_SECONDS=1 BENCH_ROUNDS=1 is the short form that checks the bench works. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** Measured runs per contender, interleaved; figures are the medians of these runs. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** BENCH_ONLY=modbus,rest runs only those parts (startup, rest, login-timing, modbus, flash, audit, meter, website, browser). */
const ONLY = process.env.BENCH_ONLY?.split(',') ?? null;
const CONNECTIONS = 8;
/** Node's flags for the device, as scripts/systemd/metergate.service gives them (its NODE_OPTIONS). */
const DEVICE_NODE_FLAGS = ['--max-semi-space-size=1'];
const ADMIN_PASSWORD = 'Bench-Chef 2026!';

interface Row {
  readonly figure: string;
  readonly value: string;
  readonly target: string;
  readonly met: boolean | null;
}
const rows: Row[] = [];
const record = (figure: string, value: string, target = '—', met: boolean | null = null) => {
  rows.push({ figure, value, target, met });
  process.stderr.write(
    `  ${figure}: ${value}${met === null ? '' : met ? ' (target met)' : ' (target NOT met)'}\n`,
  );
};

/** Starts `command args` (default command: this node) and waits for its ready line. */
function startProcess(
  args: string[],
  readyPattern: RegExp,
  command = process.execPath,
): Promise<{ child: ChildProcess; ready: unknown; startMs: number }> {
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`not ready: ${args.join(' ')}\n${err}`)), 120_000);
    child.stderr?.on('data', (chunk) => {
      err += chunk;
    });
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = readyPattern.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, ready: JSON.parse(match[1] as string), startMs: performance.now() - started });
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

/** Median start-to-ready time and the RSS after the last start of `runs` starts of `args`. */
async function startTimes(
  args: string[],
  ready: RegExp,
  runs: number,
  launcher: string[] = [],
): Promise<{ first: number; medianMs: number; rssMb: number }> {
  const times: number[] = [];
  let rss = 0;
  let first = 0;
  for (let i = 0; i < runs + 1; i++) {
    const [command, ...prefix] = launcher;
    const { child, startMs } = await startProcess([...prefix, ...args], ready, command);
    // The device's first start is its first boot (KDF, certificate): reported apart, not in the median.
    if (i === 0) first = startMs;
    else times.push(startMs);
    rss = rssMb(child.pid as number);
    await stop(child);
  }
  return { first, medianMs: median(times), rssMb: rss };
}

/**
 * The device's command line in the bench: node's flags as the systemd unit gives them (unless
 * `nodeDefaults`), the simulator on `dataDir`, every listener on port 0, then `extra`.
 */
function deviceArgs(dataDir: string, extra: string[] = [], nodeDefaults = false): string[] {
  return [
    ...(nodeDefaults ? [] : DEVICE_NODE_FLAGS),
    DEVICE,
    '--sim',
    '--data-dir',
    dataDir,
    '--http-port',
    '0',
    '--https-port',
    '0',
    '--display',
    'none',
    ...extra,
  ];
}

/**
 * Five starts of the device on `dataDir` and five of the floor process, through `launcher`; the
 * device with the unit's node flags unless `nodeDefaults`.
 */
async function deviceAndFloor(dataDir: string, launcher: string[] = [], nodeDefaults = false) {
  const args = deviceArgs(dataDir, [], nodeDefaults);
  const device = await startTimes(args, /^metergate ready (.*)$/m, 5, launcher);
  const floor = await startTimes([FLOOR], /^floor ready (.*)$/m, 5, launcher);
  return { device, floor };
}

async function startup(dir: string): Promise<void> {
  process.stderr.write('start-up\n');
  const { device, floor } = await deviceAndFloor(join(dir, 'startup'));
  record('first boot to ready (root key, certificate, factory table)', `${device.first.toFixed(0)} ms`);
  const startRatio = device.medianMs / floor.medianMs;
  record(
    'start to ready, median of 5 later boots',
    `${device.medianMs.toFixed(0)} ms (floor: bare hono + node:net ${floor.medianMs.toFixed(0)} ms) = ${startRatio.toFixed(1)}× the floor`,
    '< 500 ms and ≤ 2× the floor',
    device.medianMs < 500 && startRatio <= 2,
  );
  record(
    'RSS after start (node flags of the systemd unit)',
    `${device.rssMb.toFixed(1)} MB (floor ${floor.rssMb.toFixed(1)} MB)`,
    '< 70 MB',
    device.rssMb < 70,
  );
  const defaults = await deviceAndFloor(join(dir, 'startup'), [], true);
  record(
    'RSS after start, node defaults (8 MB semi-spaces)',
    `${defaults.device.rssMb.toFixed(1)} MB (floor ${defaults.floor.rssMb.toFixed(1)} MB)`,
  );
  await emulatedStartup(dir);
}

/**
 * The same start-up under qemu-aarch64 with an arm64 Node of this version, when scripts/pi-smoke.sh
 * has fetched one (./scripts/test.sh runs it): the emulated Raspberry Pi of issue 8.
 */
async function emulatedStartup(dir: string): Promise<void> {
  const node = join(
    process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'metergate',
    `node-${process.version}-linux-arm64`,
    'bin',
    'node',
  );
  const qemu = '/usr/bin/qemu-aarch64-static';
  if (!existsSync(node) || !existsSync(qemu)) {
    record('start to ready under qemu-aarch64', 'not measured: run ./scripts/test.sh (pi-smoke) first');
    return;
  }
  process.stderr.write('start-up under emulation\n');
  const launcher = [qemu, '-L', '/usr/aarch64-linux-gnu', node];
  const { device, floor } = await deviceAndFloor(join(dir, 'startup-arm64'), launcher);
  record(
    'start to ready under qemu-aarch64 (arm64 Node), median of 5',
    `${device.medianMs.toFixed(0)} ms (floor ${floor.medianMs.toFixed(0)} ms) = ${(device.medianMs / floor.medianMs).toFixed(1)}× the floor`,
  );
  record(
    'RSS after start under qemu-aarch64 (emulator included)',
    `${device.rssMb.toFixed(1)} MB (floor ${floor.rssMb.toFixed(1)} MB)`,
  );
}

/**
 * Runs one load client (a script of scripts/bench, in its own process) to its JSON line. Scripts
 * ending in .mjs run on plain node, .ts with tsx.
 */
function loadClient(script: string, args: (string | number)[], env: Record<string, string> = {}) {
  const path = join(import.meta.dirname, script);
  const argv = [...(script.endsWith('.ts') ? ['--import', 'tsx'] : []), path, ...args.map(String)];
  const child = spawn(process.execPath, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  return new Promise<LoadResult>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      err += chunk;
    });
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{'))
        reject(new Error(`${script} ${args.join(' ')}: ${code}\n${err}`));
      else resolve(JSON.parse(line) as LoadResult);
    });
  });
}

/**
 * A B C, A B C, …: each run of `runs` once unmeasured (warm-up), then ROUNDS times in turn, so that a
 * slow moment of a shared machine falls on every contender alike. The results of each, in order.
 */
async function interleave<K extends string>(
  runs: Record<K, () => Promise<LoadResult>>,
): Promise<Record<K, LoadResult[]>> {
  const names = Object.keys(runs) as K[];
  const results = Object.fromEntries(names.map((name) => [name, [] as LoadResult[]])) as Record<
    K,
    LoadResult[]
  >;
  for (const name of names) await runs[name]();
  for (let round = 0; round < ROUNDS; round++)
    for (const name of names) results[name].push(await runs[name]());
  return results;
}

/** The median of one figure over a contender's runs. */
const medianOf = (results: readonly LoadResult[], key: 'perSecond' | 'p50Ms' | 'p99Ms') =>
  median(results.map((result) => result[key]));

const rate = (perSecond: number) =>
  perSecond >= 10_000 ? `${(perSecond / 1000).toFixed(1)}k/s` : `${perSecond.toFixed(0)}/s`;
/** "18.4k/s, p50 0.31 ms, p99 2.80 ms": the medians of a contender's runs. */
const summary = (results: readonly (LoadResult & { cpuUs?: number })[]) => {
  const cpu = results.every((result) => result.cpuUs !== undefined)
    ? `, server CPU ${median(results.map((result) => result.cpuUs as number)).toFixed(1)} µs/request`
    : '';
  return `${rate(medianOf(results, 'perSecond'))}, p50 ${medianOf(results, 'p50Ms').toFixed(2)} ms, p99 ${medianOf(results, 'p99Ms').toFixed(2)} ms${cpu}`;
};

/** Clock ticks per second of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
/** User + system CPU seconds `pid` has used so far (its threads included). */
function cpuSeconds(pid: number): number {
  // The fields after the command name (which may hold spaces), from field 3 on: utime and stime are 14 and 15.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * `run` with the CPU time the server process `pid` spent per answered request: a figure the noise of a
 * shared machine moves far less than requests per second (warm-up requests count in the CPU, not in
 * the requests: a few percent high, alike for every server).
 */
async function withServerCpu(pid: number, run: () => Promise<LoadResult>) {
  const before = cpuSeconds(pid);
  const result = await run();
  return { ...result, cpuUs: ((cpuSeconds(pid) - before) * 1e6) / result.requests };
}

async function rest(dir: string): Promise<void> {
  process.stderr.write('REST\n');
  const { child, ready } = await startProcess(deviceArgs(join(dir, 'rest')), /^metergate ready (.*)$/m);
  const ports = ready as { http: number; https: number };
  const caPath = join(dir, 'rest', 'tls', 'cert.pem');
  const ca = readFileSync(caPath, 'utf8');
  const admin = new DeviceClient(`https://127.0.0.1:${ports.https}`, { ca });
  await admin.login('admin', 'CBM_1234');
  await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
  await admin.request('PATCH', '/api/v1/security', { apiKeysOverHttp: true });
  const created = await admin.request<{ key: string }>('POST', '/api/v1/users', {
    type: 'api-key',
    name: 'bench',
    preset: 'all',
  });
  const sample = await new DeviceClient(`https://127.0.0.1:${ports.https}`, {
    ca,
    apiKey: created.body.key,
  }).request('GET', '/api/v1/measurements');
  writeFileSync(join(dir, 'body.json'), JSON.stringify(sample.body));
  const pair = await generateSelfSignedCertificate({
    subject: 'CN=bench',
    ipAddresses: ['127.0.0.1'],
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
  });
  writeFileSync(join(dir, 'bare.crt'), pair.cert);
  writeFileSync(join(dir, 'bare.key'), pair.key);
  const bare = await startProcess(
    [
      '--import',
      'tsx',
      join(import.meta.dirname, 'bare-hono-server.ts'),
      join(dir, 'bare.crt'),
      join(dir, 'bare.key'),
      join(dir, 'body.json'),
      ADMIN_PASSWORD,
    ],
    /^bare ready (.*)$/m,
  );
  const barePorts = bare.ready as { http: number; https: number };

  for (const scheme of ['http', 'https'] as const) {
    const path = '/api/v1/measurements';
    const results = await interleave({
      device: () =>
        loadClient('http-load.ts', [`${scheme}://127.0.0.1:${ports[scheme]}${path}`, CONNECTIONS, SECONDS], {
          BENCH_CA: caPath,
          BENCH_AUTHORIZATION: `Bearer ${created.body.key}`,
        }),
      bare: () =>
        loadClient(
          'http-load.ts',
          [`${scheme}://127.0.0.1:${barePorts[scheme]}${path}`, CONNECTIONS, SECONDS],
          { BENCH_CA: join(dir, 'bare.crt') },
        ),
    });
    const ratio = medianOf(results.device, 'perSecond') / medianOf(results.bare, 'perSecond');
    record(
      `REST GET measurements, API key, ${scheme.toUpperCase()} (${CONNECTIONS} connections): device vs bare hono`,
      `${summary(results.device)} vs ${summary(results.bare)} = ${ratio.toFixed(2)}×`,
      '≥ 0.9×',
      ratio >= 0.9,
    );
  }

  // Logins a second, the key derived once by the client: the device's side (challenge, verify,
  // session, event) against the bare endpoint doing the same verify and session.
  const loginConnections = 4;
  const logins = await interleave({
    device: () =>
      loadClient(
        'login-load.ts',
        [`https://127.0.0.1:${ports.https}`, 'admin', ADMIN_PASSWORD, loginConnections, SECONDS],
        { BENCH_CA: caPath },
      ),
    bare: () =>
      loadClient(
        'login-load.ts',
        [`https://127.0.0.1:${barePorts.https}`, 'bench', ADMIN_PASSWORD, loginConnections, SECONDS],
        { BENCH_CA: join(dir, 'bare.crt') },
      ),
  });
  const loginRatio = medianOf(logins.device, 'perSecond') / medianOf(logins.bare, 'perSecond');
  record(
    `logins/s over HTTPS (${loginConnections} connections, key derived once): device vs bare hono with the same Ed25519 verify + session`,
    `${summary(logins.device)} vs ${summary(logins.bare)} = ${loginRatio.toFixed(2)}×`,
    '≥ 0.5×',
    loginRatio >= 0.5,
  );

  const totals: number[] = [];
  for (let i = 0; i < 5; i++) {
    const client = new DeviceClient(`https://127.0.0.1:${ports.https}`, { ca });
    const t = performance.now();
    await client.login('admin', ADMIN_PASSWORD);
    totals.push(performance.now() - t);
  }
  const kdf: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await deriveSeed(ADMIN_PASSWORD, new Uint8Array(16), 600_000);
    kdf.push(performance.now() - t);
  }
  record('login over HTTPS, median of 5 (client KDF included)', `${median(totals).toFixed(0)} ms`);
  record('  of which client-side PBKDF2 (600k)', `${median(kdf).toFixed(0)} ms`);
  await stop(bare.child);
  await stop(child);
}

/** Modbus TCP servers of scripts/bench/modbus-bench-server.ts (`mode`) or pymodbus: their ports. */
async function startModbusServer(mode: 'gated' | 'ungated' | 'minimal' | 'pymodbus') {
  const started =
    mode === 'pymodbus'
      ? await startProcess(
          [join(import.meta.dirname, 'pymodbus-server.py')],
          /^modbus ready (.*)$/m,
          '/usr/bin/python3',
        )
      : await startProcess(
          ['--import', 'tsx', join(import.meta.dirname, 'modbus-bench-server.ts'), mode],
          /^modbus ready (.*)$/m,
        );
  return { child: started.child, port: (started.ready as { port: number }).port };
}

async function modbus(dir: string): Promise<void> {
  process.stderr.write('Modbus\n');
  const modes = ['gated', 'ungated', 'pymodbus', 'minimal'] as const;
  const servers = {} as Record<(typeof modes)[number], { child: ChildProcess; port: number }>;
  for (const mode of modes) servers[mode] = await startModbusServer(mode);
  try {
    for (const connections of [1, 8, 32]) {
      const load = (mode: (typeof modes)[number]) => () =>
        withServerCpu(servers[mode].child.pid as number, () =>
          loadClient('modbus-load.mjs', [servers[mode].port, connections, SECONDS]),
        );
      const results = await interleave({
        gated: load('gated'),
        ungated: load('ungated'),
        pymodbus: load('pymodbus'),
        minimal: load('minimal'),
      });
      const gated = medianOf(results.gated, 'perSecond');
      const over = (mode: (typeof modes)[number]) => gated / medianOf(results[mode], 'perSecond');
      const label = `Modbus FC3 22 registers, ${connections} connection${connections > 1 ? 's' : ''}`;
      record(
        `${label}: gated · ungated · pymodbus · minimal node:net`,
        modes.map((mode) => `${mode} ${summary(results[mode])}`).join(' · '),
      );
      record(
        `${label}: gated / ungated`,
        `${over('ungated').toFixed(2)}×`,
        '≥ 0.95×',
        over('ungated') >= 0.95,
      );
      const atTarget = connections === 8;
      record(
        `${label}: gated / pymodbus`,
        `${over('pymodbus').toFixed(2)}×`,
        atTarget ? '≥ 1.5×' : '—',
        atTarget ? over('pymodbus') >= 1.5 : null,
      );
      record(
        `${label}: gated / minimal node:net responder`,
        `${over('minimal').toFixed(2)}×`,
        atTarget ? '≥ 0.7×' : '—',
        atTarget ? over('minimal') >= 0.7 : null,
      );
      if (atTarget) {
        const p99 = medianOf(results.gated, 'p99Ms');
        record(`${label}: gated p99`, `${p99.toFixed(2)} ms`, '≤ 1 ms', p99 <= 1);
      }
    }
  } finally {
    for (const { child } of Object.values(servers)) await stop(child);
  }

  // The real device process, Modbus enabled: a REST probe's latency alone and under full Modbus load,
  // then Modbus latency while the device verifies 10 logins a second.
  const { child, ready } = await startProcess(
    deviceArgs(join(dir, 'modbus'), ['--modbus-port', '0']),
    /^metergate ready (.*)$/m,
  );
  const ports = ready as { http: number };
  const admin = new DeviceClient(`http://127.0.0.1:${ports.http}`);
  await admin.login('admin', 'CBM_1234');
  await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
  await admin.request('PATCH', '/api/v1/config', { communication: { modbusTcp: true } });
  await admin.request('PATCH', '/api/v1/security', { apiKeysOverHttp: true });
  const key = await admin.request<{ key: string }>('POST', '/api/v1/users', {
    type: 'api-key',
    name: 'probe',
    preset: 'all',
  });
  const info = await admin.request<{ modbus: { tcpPort: number } }>('GET', '/api/v1/info');
  const modbusPort = info.body.modbus.tcpPort;
  const probeConnections = 8;
  const probe = () =>
    loadClient('http-load.ts', [`http://127.0.0.1:${ports.http}/api/v1/measurements`, 1, SECONDS, 5], {
      BENCH_AUTHORIZATION: `Bearer ${key.body.key}`,
    });
  const probes = await interleave({
    alone: probe,
    loaded: async () => {
      const load = loadClient('modbus-load.mjs', [modbusPort, probeConnections, SECONDS + 1]);
      // The Modbus clients connect and warm up first; the probe runs inside the load's window.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const result = await probe();
      await load;
      return result;
    },
  });
  const alone = medianOf(probes.alone, 'p99Ms');
  const loaded = medianOf(probes.loaded, 'p99Ms');
  record(
    `REST probe p99 (GET measurements every 5 ms, HTTP) while Modbus runs at full load (${probeConnections} connections) vs alone`,
    `${loaded.toFixed(2)} ms vs ${alone.toFixed(2)} ms = ${(loaded / alone).toFixed(1)}×`,
    '≤ 2×',
    loaded / alone <= 2,
  );

  const client = await BenchModbusClient.open(modbusPort);
  const logins = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'login-storm.ts'), String(ports.http), String(SECONDS * 2)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const latencies: number[] = [];
  const deadline = performance.now() + SECONDS * 2 * 1000;
  while (performance.now() < deadline) {
    const t = performance.now();
    await client.read(0, 22);
    latencies.push(performance.now() - t);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const stormed = await new Promise<string>((resolve) => {
    let out = '';
    logins.stdout?.on('data', (chunk) => {
      out += chunk;
    });
    logins.on('exit', () => resolve(out.trim()));
  });
  client.close();
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)] as number;
  record(
    `Modbus FC3 p99 latency while logging in 10×/s (${stormed} logins, ${latencies.length} reads)`,
    `${p99.toFixed(2)} ms (median ${(latencies[Math.floor(latencies.length / 2)] as number).toFixed(2)} ms)`,
    '< 5 ms',
    p99 < 5,
  );
  await stop(child);
}

async function flashWrites(dir: string): Promise<void> {
  process.stderr.write('flash\n');
  const keys = join(dir, 'flash-keys');
  const flash = NorFlash.open({ path: join(dir, 'flash.img'), create: true });
  const deps = {
    flash,
    keys: new FileKeyProvider(keys),
    counter: new FileMonotonicCounter(join(keys, 'rollback.counter')),
    now: Date.now,
  };
  const opened = await SecureStore.open(deps, { kdfIterations: MIN_KDF_ITERATIONS });
  if (opened.mode !== 'normal') throw new Error('bench store did not open');
  const { store } = opened;
  const admin = actorFor(store.state.table, 0);
  const before = { bytes: flash.bytesProgrammed, erases: flash.blocksErased };
  const verifier = await createVerifier('Bench-Chef 2026!', { iterations: MIN_KDF_ITERATIONS });
  store.commit(
    {
      ...store.state,
      table: setPassword(store.state.table, admin, 0, verifier, { currentPasswordVerified: true }),
    },
    { time: Date.now(), type: 'password.change', interface: 'system', result: 'ok' },
  );
  const actor = actorFor(store.state.table, 0);
  const { table } = addApiKey(store.state.table, actor, {
    name: 'bench',
    preset: 'all',
    keyHash: new Uint8Array(32),
    createdAt: Date.now(),
  });
  store.commit(
    { ...store.state, table },
    { time: Date.now(), type: 'apikey.add', interface: 'system', result: 'ok' },
  );
  const bytes = (flash.bytesProgrammed - before.bytes) / 2;
  const erases = (flash.blocksErased - before.erases) / 2;
  // A configuration change: copy A, the security commit that anchors it, copy B, and its event.
  const config = ConfigStore.open(flash, opened.rootKey, store);
  const beforeConfig = { bytes: flash.bytesProgrammed, erases: flash.blocksErased };
  config.commit({ ...config.config, vtRatio: config.config.vtRatio + 1 });
  store.record({ time: Date.now(), type: 'config.change', interface: 'system', result: 'ok' });
  const configBytes = flash.bytesProgrammed - beforeConfig.bytes;
  const configErases = flash.blocksErased - beforeConfig.erases;
  flash.close();
  record(
    'flash per security change (record + event)',
    `${erases} blocks erased, ${bytes.toFixed(0)} bytes programmed`,
    '1 block',
    erases <= 1,
  );
  record(
    'flash per configuration change (config A, anchoring security commit, config B + event)',
    `${configErases} blocks erased, ${configBytes} bytes programmed`,
    '—',
    null,
  );
}

/** Time from navigation to the first measured value on the dashboard, in a fresh (cold) browser context. */
async function dashboardRender(browser: Browser, url: string, link?: { kbps: number; rttMs: number }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  if (link) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const bytesPerSecond = (link.kbps * 1000) / 8;
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: link.rttMs,
      downloadThroughput: bytesPerSecond,
      uploadThroughput: bytesPerSecond,
    });
  }
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForSelector('[data-value="voltage.0"]', { timeout: 30_000 });
  const ms = await page.evaluate(() => performance.now());
  await context.close();
  return ms;
}

async function website(dir: string): Promise<void> {
  process.stderr.write('website\n');
  const manifest = JSON.parse(readFileSync(join(ROOT, 'dist', 'web', 'manifest.json'), 'utf8')) as {
    assets: { file: string; raw: number; gzip: number; brotli: number }[];
    onDemand: string[];
  };
  const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;
  for (const asset of manifest.assets) {
    const name = asset.file.replace(/-[A-Z0-9]{8}\./, '-<hash>.');
    record(
      `website ${name}: raw / gzip / brotli`,
      `${kb(asset.raw)} / ${kb(asset.gzip)} / ${kb(asset.brotli)}`,
    );
  }
  // What index.html loads; the key derivation's worker comes on demand (its own row above).
  const code = manifest.assets.filter(
    (a) => /\.(js|css)$/.test(a.file) && !manifest.onDemand.includes(a.file),
  );
  const gzip = code.reduce((sum, a) => sum + a.gzip, 0);
  const brotli = code.reduce((sum, a) => sum + a.brotli, 0);
  record('website JS + CSS, gzip (brotli)', `${kb(gzip)} (${kb(brotli)})`, '≤ 25 kB gzip', gzip <= 25_000);

  const { child, ready } = await startProcess(deviceArgs(join(dir, 'web')), /^metergate ready (.*)$/m);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
    ],
  });
  try {
    const url = `http://127.0.0.1:${(ready as { http: number }).http}/`;
    await dashboardRender(browser, url); // warms the device and the browser process
    const loopback: number[] = [];
    for (let i = 0; i < 5; i++) loopback.push(await dashboardRender(browser, url));
    record(
      'dashboard: navigation to first measured value, loopback, cold cache (median of 5)',
      `${median(loopback).toFixed(0)} ms`,
    );
    const slow = await dashboardRender(browser, url, { kbps: 1000, rttMs: 100 });
    record('dashboard: same over an emulated 1 Mbit/s link with 100 ms RTT', `${slow.toFixed(0)} ms`);
  } finally {
    await browser.close();
    await stop(child);
  }
}

/**
 * Rewrites docs/benchmarks.md: this run's header and table; the doc's own "## Notes" (written by hand:
 * why a target is missed, what a profile showed) are kept as they are.
 */
function writeReport(): void {
  const path = join(ROOT, 'docs', 'benchmarks.md');
  const previous = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const notesAt = previous.indexOf('\n## Notes');
  const notes = notesAt < 0 ? '\n## Notes\n' : previous.slice(notesAt);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (scripts/bench/run-bench.ts); every ratio compares two servers measured in',
    'the same run on the same machine. Targets from DESIGN.md §7 and issue 18.',
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node ${process.version}, ${process.platform}/${process.arch}`,
    `- load: each load client in its own process (scripts/bench/modbus-load.mjs, http-load.ts, login-load.ts), one request outstanding per connection, ${SECONDS} s per run after a 200 ms warm-up; contenders run in turn (A B C, A B C, …), ${ROUNDS} measured rounds after one warm-up run each; every figure is the median over the rounds, every ratio a ratio of medians`,
    '',
    '| figure | value | target | met |',
    '|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.figure} | ${r.value} | ${r.target} | ${r.met === null ? '—' : r.met ? 'yes' : '**no**'} |`,
    ),
    '',
  ];
  writeFileSync(path, `${lines.join('\n')}${notes}`);
}

const parts: [string, (dir: string) => Promise<void>][] = [
  ['startup', startup],
  ['rest', rest],
  ['login-timing', (dir) => loginTiming(dir, record)],
  ['modbus', modbus],
  ['flash', flashWrites],
  [
    'audit',
    async (dir) => {
      for (const row of await auditFlood(dir)) record(row.figure, row.value, row.target, row.met);
    },
  ],
  [
    'meter',
    async (dir) => {
      for (const row of await meterPolling(dir)) record(row.figure, row.value, row.target, row.met);
    },
  ],
  ['website', website],
  ['browser', (dir) => browserLogin(dir, record)],
];
const dir = mkdtempSync(join(tmpdir(), 'metergate-bench-'));
try {
  for (const [name, part] of parts) if (!ONLY || ONLY.includes(name)) await part(dir);
  // A partial run (BENCH_ONLY) prints its rows but leaves the doc's table as the last full run wrote it.
  if (!ONLY) writeReport();
  process.stdout.write(
    `${rows.map((r) => `${r.figure.padEnd(62)} ${r.value}${r.met === false ? '  [target not met]' : ''}`).join('\n')}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
