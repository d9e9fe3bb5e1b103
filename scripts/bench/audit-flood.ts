/**
 * The flash cost of a sustained flood of refused requests (DESIGN §7, issue 13 attack 2): the device
 * booted in this process on a clock the bench moves, so that hours of flood run in a minute; every
 * unauthenticated kind from 8 source addresses, over the real HTTP and Modbus TCP listeners (failed
 * logins that end in lockouts, stale nonces, bad API keys, denied requests, denied Modbus writes), at
 * 150 refusals per simulated minute, 25 times the log's overall budget. The erases are counted on the
 * flash image itself, from the block sequence numbers of the two log rings (each erase starts a block
 * with the next number). Run alone: `node --import tsx scripts/bench/audit-flood.ts`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { bootDevice } from '../../firmware/boot/boot-device.ts';
import { parseDeviceOptions } from '../../firmware/boot/device-options.ts';
import { DeviceClient } from '../../firmware/client/device-client.ts';
import { CHANGES_LOG, REFUSALS_LOG } from '../../firmware/store/flash-layout.ts';
import type { RingPlace } from '../../firmware/store/security-log.ts';
import { SIM_ADAPTERS } from '../../sim/sim-adapters.ts';
import { MbapClient } from '../../test/support/modbus-tcp-client.ts';

export interface FloodRow {
  readonly figure: string;
  readonly value: string;
  readonly target: string;
  readonly met: boolean | null;
}

const HOURS = 3;
/** One request of each kind every this many simulated ms. */
const STEP_MS = 2000;
const SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);
const BLOCK = 4096;

/** The highest block sequence number of a ring in the image (0: no block in use). */
function ringSeq(image: Uint8Array, ring: RingPlace): number {
  let max = 0;
  for (let i = 0; i < ring.blockCount; i++) {
    const at = (ring.firstBlock + i) * BLOCK;
    if (image[at] !== 0x4d || image[at + 1] !== 0x47 || image[at + 2] !== 0x4c) continue;
    const seq = new DataView(image.buffer, image.byteOffset + at + 4, 4).getUint32(0);
    if (seq !== 0xffffffff) max = Math.max(max, seq);
  }
  return max;
}

/** Erases so far in both log rings: each erase starts a block with the ring's next sequence number. */
const logErases = (imagePath: string) => {
  const image = readFileSync(imagePath);
  return ringSeq(image, CHANGES_LOG) + ringSeq(image, REFUSALS_LOG);
};

function post(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: {
          accept: 'application/json',
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export async function auditFlood(dir: string): Promise<FloodRow[]> {
  process.stderr.write('audit flood\n');
  const dataDir = join(dir, 'audit-flood');
  const options = parseDeviceOptions(
    [
      ...['--data-dir', dataDir, '--host', '127.0.0.1', '--http-port', '0', '--https-port', '0'],
      ...['--modbus-port', '0', '--display', 'none', '--sim'],
    ],
    { isTTY: false, webDir: join(dir, 'no-web') },
  );
  if (options === 'help') throw new Error('bench device options');
  let clock = Date.now();
  const device = await bootDevice(options, { ...SIM_ADAPTERS, log: () => {}, now: () => clock });
  const agents: Agent[] = [];
  const modbus: MbapClient[] = [];
  try {
    const httpPort = device.ready.http as number;
    const admin = new DeviceClient(`http://127.0.0.1:${httpPort}`);
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', 'Bench-Chef 2026!');
    // Bad API keys are then refused (and logged) over plain HTTP too; Modbus TCP on, anonymous.
    await admin.request('PATCH', '/api/v1/security', { apiKeysOverHttp: true });
    await admin.request('PATCH', '/api/v1/config', { communication: { modbusTcp: true } });
    const info = await admin.request<{ modbus: { tcpPort: number } }>('GET', '/api/v1/info');
    const modbusPort = info.body.modbus.tcpPort;

    for (const source of SOURCES) {
      agents.push(new Agent({ keepAlive: true, localAddress: source }));
      modbus.push(await MbapClient.connect({ after: () => {} }, modbusPort, { localAddress: source }));
    }
    const b64 = (n: number) => randomBytes(n).toString('base64url');
    const kinds: Record<string, number> = {};
    const count = (kind: string, status: number, refused: boolean) => {
      if (!refused) throw new Error(`${kind} was not refused (${status})`);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    };
    const flood = async (step: number) => {
      const i = step % SOURCES.length;
      const agent = agents[i] as Agent;
      const challenge = await post(agent, httpPort, 'POST', '/api/v1/auth/challenge', { username: 'admin' });
      const nonce = (JSON.parse(challenge.body) as { nonce?: string }).nonce ?? b64(32);
      const failed = await post(agent, httpPort, 'POST', '/api/v1/auth/login', {
        username: 'admin',
        nonce,
        signature: b64(64),
      });
      count('failed or locked-out login', failed.status, failed.status >= 400);
      const stale = await post(agent, httpPort, 'POST', '/api/v1/auth/login', {
        username: 'admin',
        nonce: b64(32),
        signature: b64(64),
      });
      count('stale nonce', stale.status, stale.status >= 400);
      const key = await post(agent, httpPort, 'GET', '/api/v1/measurements', undefined, {
        authorization: `Bearer ${b64(32)}`,
      });
      count('bad API key', key.status, key.status === 401);
      const denied = await post(agent, httpPort, 'GET', '/api/v1/users');
      count('denied request', denied.status, denied.status === 403 || denied.status === 401);
      // Write single register 300 (meter reset): anonymous lacks meters.reset → exception 0x01.
      const answer = await (modbus[i] as MbapClient).request(Uint8Array.of(0x06, 0x01, 0x2c, 0x5a, 0xa5));
      count('denied Modbus write', answer[0] ?? 0, answer[0] === 0x86);
    };

    const imagePath = join(dataDir, 'flash.img');
    const perHour: number[] = [];
    let step = 0;
    for (let hour = 0; hour < HOURS; hour++) {
      const before = logErases(imagePath);
      for (let t = 0; t < 3_600_000; t += STEP_MS) {
        clock += STEP_MS;
        await flood(step++);
      }
      perHour.push(logErases(imagePath) - before);
    }
    const refusals = Object.values(kinds).reduce((a, b) => a + b, 0);
    const rate = refusals / (HOURS * 60);
    const steady = perHour.slice(1);
    return [
      {
        figure: `log block erases per hour under a sustained flood of refusals (${rate.toFixed(0)}/min simulated, 5 kinds, ${SOURCES.length} sources)`,
        value: `first hour ${perHour[0]}, then ${Math.min(...steady)}–${Math.max(...steady)} an hour (${refusals} refusals in ${HOURS} h)`,
        target: 'bounded, stated',
        met: Math.max(...steady) <= 24,
      },
    ];
  } finally {
    for (const client of modbus) client.socket.destroy();
    for (const agent of agents) agent.destroy();
    await device.stop();
  }
}

if (process.argv[1] === import.meta.filename) {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'metergate-audit-flood-'));
  try {
    for (const row of await auditFlood(dir)) process.stdout.write(`${row.figure}: ${row.value}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
