/**
 * The bench's timing figure of issue 13, item 3: can a login's answer time tell a real username from
 * an unknown one? Against the real device process over loopback HTTP (one keep-alive connection), it
 * times POST /auth/login with a fresh nonce and a wrong signature for a real user and for a made-up
 * name, interleaved in random order, and reports the median of the paired differences. Part of
 * `npm run bench`; run alone with `node --import tsx scripts/bench/login-timing.ts`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { proofMessage } from '../../firmware/auth/auth-messages.ts';
import { deriveSeed, signWithSeed } from '../../firmware/auth/password-verifier.ts';
import { DeviceClient } from '../../firmware/client/device-client.ts';

const DEVICE = join(import.meta.dirname, '..', '..', 'dist', 'sim-device.mjs');
const PAIRS = Number(process.env.BENCH_LOGIN_PAIRS ?? 1000);
const USER = 'bench_user';
const PASSWORD = 'Bench-Timing 2026!';
const ADMIN_PASSWORD = 'Bench-Chef 2026!';

type RecordFigure = (figure: string, value: string, target?: string, met?: boolean | null) => void;

/** Starts the device on `dataDir`; resolves with the child and its HTTP port. */
function startDevice(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const args = [DEVICE, '--sim', '--data-dir', dataDir, '--http-port', '0', '--https-port', '0'];
  const child = spawn(process.execPath, [...args, '--display', 'none'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('device not ready within 60 s')), 60_000);
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const match = /^metergate ready (.*)$/m.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: (JSON.parse(match[1] as string) as { http: number }).http });
      }
    });
    child.on('exit', (code) => reject(new Error(`device exited ${code}`)));
  });
}

/** One POST over the keep-alive agent: the parsed body and the round-trip time in ms. */
function post(agent: Agent, port: number, path: string, body: unknown) {
  const payload = JSON.stringify(body);
  return new Promise<{ status: number; body: Record<string, unknown>; ms: number }>((resolve, reject) => {
    const started = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), ms: performance.now() - started }),
        );
      },
    );
    req.once('error', reject);
    req.end(payload);
  });
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** Measures and records the figure; `dir` is a scratch directory. */
export async function loginTiming(dir: string, record: RecordFigure): Promise<void> {
  process.stderr.write('login timing\n');
  const { child, port } = await startDevice(join(dir, 'login-timing'));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const admin = new DeviceClient(`http://127.0.0.1:${port}`);
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
    await admin.request('PATCH', '/api/v1/security', {
      lockout: { delayAfterFailures: 100, lockAfterFailures: 100, accountLockAfterFailures: 100 },
    });
    await admin.request('POST', '/api/v1/users', {
      type: 'user',
      name: USER,
      password: await admin.seal(USER, PASSWORD),
      role: 'VIEWER',
    });
    let seed: Uint8Array | null = null;
    /** A fresh challenge for `username`, then a login; with `password` a valid signature. */
    const login = async (username: string, valid: boolean) => {
      const challenge = await post(agent, port, '/api/v1/auth/challenge', { username });
      const nonce = Buffer.from(challenge.body.nonce as string, 'base64url');
      if (valid && !seed) {
        const salt = Buffer.from(challenge.body.salt as string, 'base64url');
        seed = await deriveSeed(PASSWORD, salt, challenge.body.iterations as number);
      }
      const signature =
        valid && seed ? signWithSeed(seed, proofMessage('login', username, nonce)) : randomBytes(64);
      return post(agent, port, '/api/v1/auth/login', {
        username,
        nonce: nonce.toString('base64url'),
        signature: Buffer.from(signature).toString('base64url'),
      });
    };
    const known: number[] = [];
    const unknown: number[] = [];
    const differences: number[] = [];
    for (let i = -50; i < PAIRS; i++) {
      // A good login now and then clears the pair's count, so the real user is never delayed.
      if (i % 40 === 0) {
        const ok = await login(USER, true);
        if (ok.status !== 200) throw new Error(`bench login failed: ${JSON.stringify(ok.body)}`);
      }
      const order = Math.random() < 0.5 ? [true, false] : [false, true];
      const times: { [k: string]: number } = {};
      for (const real of order) {
        const answer = await login(real ? USER : `ghost_${i + 50}`, false);
        if (answer.status !== 401) throw new Error(`expected 401, got ${JSON.stringify(answer.body)}`);
        times[String(real)] = answer.ms;
      }
      if (i < 0) continue; // warm-up
      known.push(times.true as number);
      unknown.push(times.false as number);
      differences.push((times.false as number) - (times.true as number));
    }
    const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
    record(
      `login answer time, unknown − real name, median of ${PAIRS} interleaved pairs (HTTP, wrong signature)`,
      `${us(median(differences))} (real ${us(median(known))}, unknown ${us(median(unknown))})`,
    );
  } finally {
    agent.destroy();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-bench-'));
  try {
    await loginTiming(dir, (figure, value) => process.stdout.write(`${figure}: ${value}\n`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
