/**
 * The A/B install layout in a temp directory, and the systemd unit's ExecStart chain run without
 * systemd: the unit's own ExecStartPre and ExecStart lines (paths moved into the temp root, ports 0
 * on loopback), restarted on failure as Restart=on-failure does. Versions are small fake firmwares
 * (dist/device.mjs prints the ready line and answers GET /api/v1/info), or whatever a test bundles.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { encodeBundle, hostTarget, type Target } from '../../firmware/update/bundle-format.ts';
import { type ArchiveFile, packArchive, writeArchive } from '../../firmware/update/payload-archive.ts';
import { formatTrustedKey } from '../../firmware/update/trusted-keys.ts';
import { REPO_ROOT } from './device-process.ts';

export const TARGET = hostTarget() as Target;
export const LAUNCHER_ENTRY = join(REPO_ROOT, 'dist', 'launcher.mjs');
const UNIT = join(REPO_ROOT, 'scripts', 'systemd', 'metergate.service');

/** The vendor's signing key (trusted by every layout made here) and a stranger's. */
export const VENDOR_KEY = nacl.sign.keyPair();
export const STRANGER_KEY = nacl.sign.keyPair();

export type Behaviour = 'ok' | 'never-ready' | 'exit-early';

/** A fake firmware of `version`: dist/device.mjs and package.json. */
export function fakeFirmware(version: string, behaviour: Behaviour = 'ok'): ArchiveFile[] {
  const device = `// fake metergate ${version} (${behaviour})
import { createServer } from 'node:http';
const behaviour = ${JSON.stringify(behaviour)};
if (behaviour === 'exit-early') process.exit(2);
const server = createServer((req, res) => {
  res.writeHead(req.url === '/api/v1/info' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ firmware: ${JSON.stringify(version)} }));
});
process.on('SIGTERM', () => process.exit(0));
if (behaviour === 'never-ready') setInterval(() => {}, 1000);
else server.listen(0, '127.0.0.1', () => {
  process.stdout.write('metergate ready ' + JSON.stringify({ mode: 'normal', http: server.address().port, https: null, modbusTcp: null, modbusTls: null, version: ${JSON.stringify(version)} }) + '\\n');
});
`;
  return [
    { path: 'dist/device.mjs', executable: false, data: Buffer.from(device) },
    {
      path: 'package.json',
      executable: false,
      data: Buffer.from(JSON.stringify({ name: 'metergate', version })),
    },
  ];
}

export interface BundleOptions {
  readonly behaviour?: Behaviour;
  readonly key?: Uint8Array;
  readonly target?: Target;
  readonly minFromVersion?: string;
}

export function fakeBundle(version: string, options: BundleOptions = {}): Uint8Array {
  return encodeBundle(
    {
      version,
      target: options.target ?? TARGET,
      minFromVersion: options.minFromVersion ?? '0.0.0',
      payload: packArchive(fakeFirmware(version, options.behaviour)),
    },
    options.key ?? VENDOR_KEY.secretKey,
  );
}

export interface Layout {
  readonly root: string;
  /** /opt/metergate in the temp root. */
  readonly firmware: string;
  readonly data: string;
  readonly spool: string;
}

/** What install-pi.sh lays out: version 1.0.0 (unsigned, from a checkout) in slot a, current -> a. */
export function newLayout(files: readonly ArchiveFile[] = fakeFirmware('1.0.0')): Layout {
  const root = mkdtempSync(join(tmpdir(), 'metergate-update-'));
  const firmware = join(root, 'opt', 'metergate');
  const data = join(root, 'var', 'lib', 'metergate');
  mkdirSync(join(firmware, 'slots'), { recursive: true });
  mkdirSync(data, { recursive: true, mode: 0o700 });
  copyFileSync(LAUNCHER_ENTRY, join(firmware, 'launcher.mjs'));
  writeFileSync(join(firmware, 'trusted-keys'), formatTrustedKey(VENDOR_KEY.publicKey, 'test-vendor'));
  writeArchive(files, join(firmware, 'slots', 'a'));
  symlinkSync('slots/a', join(firmware, 'current'));
  return { root, firmware, data, spool: join(data, 'update') };
}

/** Puts a bundle where the device puts an accepted upload. */
export function placePending(layout: Layout, bundle: Uint8Array): void {
  mkdirSync(layout.spool, { recursive: true });
  writeFileSync(join(layout.spool, 'pending.mgb'), bundle);
}

/** The unit's ExecStartPre and ExecStart with paths in the layout, loopback and port 0. */
export function unitChain(
  layout: Layout,
  readyTimeoutSeconds = 3,
  opts: readonly string[] = [],
): { prepare: string[]; run: string[] } {
  const unit = readFileSync(UNIT, 'utf8');
  const line = (key: string) => {
    const found = new RegExp(`^${key}=(.*)$`, 'm').exec(unit);
    if (!found) throw new Error(`the unit has no ${key}`);
    return (found[1] as string)
      .replace(/^\+/, '')
      .replaceAll('/opt/metergate', layout.firmware)
      .replaceAll('/var/lib/metergate', layout.data)
      .replace('--host 0.0.0.0', '--host 127.0.0.1')
      .replace(/--((?:modbus-|modbus-tls-|http-|https-))port \d+/g, '--$1port 0')
      .replace(/--ready-timeout \d+/, `--ready-timeout ${readyTimeoutSeconds}`)
      .replace(' $METERGATE_OPTS', '')
      .split(/\s+/)
      .concat(key === 'ExecStart' ? opts : [])
      .map((word) => (word === '/usr/bin/node' ? process.execPath : word));
  };
  return { prepare: line('ExecStartPre'), run: line('ExecStart') };
}

/** Runs the unit's ExecStartPre alone (a test may kill it at a step); resolves with how it ended. */
export function runPrepare(
  layout: Layout,
  killAt?: string,
): { status: number | null; signal: string | null; stderr: string } {
  const [command, ...args] = unitChain(layout).prepare as [string, ...string[]];
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, ...(killAt ? { METERGATE_LAUNCHER_KILL_AT: killAt } : {}) },
  });
  return { status: result.status, signal: result.signal, stderr: result.stderr };
}

export interface RunningService {
  /** The version whose ready line came through the launcher. */
  readonly version: string;
  readonly process: ChildProcess;
  /** Everything the launchers wrote to stderr, over every restart. */
  readonly log: string;
  /** Resolves once the launchers' log holds `text` (bounded: rejects after 10 s). */
  waitForLog(text: string): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  // The launcher runs in its own process group (detached) with its device: both go, by the group's id.
  for (const child of live) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

function startRun(
  command: string,
  args: string[],
): Promise<{ child: ChildProcess; version: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      const ready = /^metergate ready (.*)$/m.exec(stdout);
      if (ready)
        // The fake firmwares name their version; the real one does not (the layout says it).
        resolve({ child, version: JSON.parse(ready[1] as string).version ?? 'real', stderr });
    });
    child.on('exit', () => {
      live.delete(child);
      resolve({ child, version: null, stderr });
    });
  });
}

/**
 * Starts the service as systemd would: ExecStartPre, then ExecStart; when ExecStart ends before a
 * ready line (with a failure), again, at most `restarts` times. Resolves once a version is ready.
 */
export async function startService(
  layout: Layout,
  options: { readyTimeoutSeconds?: number; restarts?: number; opts?: readonly string[] } = {},
): Promise<RunningService> {
  const chain = unitChain(layout, options.readyTimeoutSeconds ?? 3, options.opts);
  let log = '';
  for (let attempt = 0; attempt <= (options.restarts ?? 3); attempt++) {
    const prepared = runPrepare(layout);
    log += prepared.stderr;
    if (prepared.status !== 0)
      throw new Error(`ExecStartPre failed (${prepared.status}): ${prepared.stderr}`);
    const [command, ...args] = chain.run as [string, ...string[]];
    const { child, version, stderr } = await startRun(command, args);
    if (version !== null) {
      const collected = log;
      let more = stderr;
      child.stderr?.on('data', (chunk) => {
        more += chunk;
      });
      return {
        version,
        process: child,
        get log() {
          return collected + more;
        },
        waitForLog: async (text: string) => {
          const until = Date.now() + 10_000;
          while (!(collected + more).includes(text)) {
            if (Date.now() > until) throw new Error(`'${text}' never came; log:\n${collected + more}`);
            await new Promise((resolve) => setTimeout(resolve, 25));
          }
        },
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        },
      };
    }
    log += stderr;
  }
  throw new Error(`no version became ready after restarts:\n${log}`);
}
