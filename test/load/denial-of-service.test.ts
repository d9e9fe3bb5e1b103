/**
 * Denial-of-service limits of the device process (IEC 62443-4-2 CR 7.1): a slowloris HTTP client is
 * closed once its headers are overdue; one source address cannot take every HTTP or Modbus slot while
 * another address still gets answers; and a flood of requests on REST and Modbus does not stop
 * metering (values keep moving), the local display (on a pty) or the other interface.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceClient } from '../../firmware/client/device-client.ts';
import { DEFAULT_MAX_CONNECTIONS_PER_SOURCE } from '../../firmware/modbus/modbus-tcp-server.ts';
import { type DisplayTerminal, openTerminal } from '../support/display-fixture.ts';
import { readPdu, registersOf } from '../support/modbus-fixture.ts';
import { startPtyPair } from '../support/modbus-rtu-fixture.ts';
import { MbapClient } from '../support/modbus-tcp-client.ts';
import { type RestFixture, startRestFixture } from '../support/rest-fixture.ts';

/** A TCP connection from `source`, resolved once connected; `closed` resolves when the device closes it. */
async function open(port: number, source: string): Promise<{ socket: Socket; closed: Promise<number> }> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: source });
  socket.on('error', () => {});
  const openedAt = Date.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - openedAt)));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error(`closed before connecting from ${source}`)));
  });
  return { socket, closed };
}

async function isClosedSoon(closed: Promise<number>, ms: number): Promise<boolean> {
  return Promise.race([closed.then(() => true), sleep(ms).then(() => false)]);
}

describe('denial-of-service limits of the device', () => {
  let fx: RestFixture;
  let modbusPort: number;
  let display: DisplayTerminal;
  const sockets: Socket[] = [];
  /** The pty pair and terminal live as long as the suite: cleaned up in its `after`. */
  const cleanups: (() => void | Promise<void>)[] = [];
  const suite = { after: (fn: () => void | Promise<void>) => void cleanups.push(fn) };

  before(async () => {
    const line = await startPtyPair(suite);
    fx = await startRestFixture(['--modbus-port', '0', '--display', line.device]);
    display = await openTerminal(suite, line.client);
    const enabled = await fx.admin.request('PATCH', '/api/v1/config', { communication: { modbusTcp: true } });
    assert.equal(enabled.status, 200);
    const info = await fx.admin.request<{ modbus: { tcpPort: number } }>('GET', '/api/v1/info');
    modbusPort = info.body.modbus.tcpPort;
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await fx?.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('slowloris: an HTTP client trickling its headers is closed once they are 10 s overdue', async () => {
    const { socket, closed } = await open(fx.device.ready.http as number, '127.0.0.7');
    sockets.push(socket);
    socket.write('GET /api/v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    let lines = 0;
    const trickle = setInterval(() => socket.writable && socket.write(`X-Slow-${lines++}: a\r\n`), 500);
    try {
      const after = await Promise.race([closed, sleep(20_000).then(() => -1)]);
      assert.ok(after > 0, 'the trickling connection was closed');
      assert.ok(after >= 9_000 && after <= 13_000, `closed after ${after} ms`);
    } finally {
      clearInterval(trickle);
    }
  });

  it('one source cannot hold every HTTP slot: over its share it is refused, another source is served', async () => {
    const held = [];
    for (let i = 0; i < 32; i++) held.push(await open(fx.device.ready.http as number, '127.0.0.8'));
    sockets.push(...held.map((h) => h.socket));
    const extra = await open(fx.device.ready.http as number, '127.0.0.8');
    sockets.push(extra.socket);
    assert.ok(
      await isClosedSoon(extra.closed, 2000),
      'the 33rd connection from one source is closed at accept',
    );
    for (const h of held) assert.equal(await isClosedSoon(h.closed, 1), false, 'the first 32 stay open');
    const other = new DeviceClient(`http://127.0.0.1:${fx.device.ready.http}`, { localAddress: '127.0.0.9' });
    assert.equal((await other.request('GET', '/api/v1/info')).status, 200);
    for (const h of held) h.socket.destroy();
  });

  it('one source cannot hold every Modbus slot; another source still reads registers', async (t) => {
    const held = [];
    for (let i = 0; i < DEFAULT_MAX_CONNECTIONS_PER_SOURCE; i++)
      held.push(await open(modbusPort, '127.0.0.10'));
    sockets.push(...held.map((h) => h.socket));
    const extra = await open(modbusPort, '127.0.0.10');
    sockets.push(extra.socket);
    assert.ok(await isClosedSoon(extra.closed, 2000), 'one connection over the per-source share is closed');
    const client = await MbapClient.connect(t, modbusPort, { localAddress: '127.0.0.11' });
    const registers = registersOf(await client.request(readPdu(4, 0, 2)), 4);
    assert.equal(registers.length, 2);
    client.close();
    for (const h of held) h.socket.destroy();
  });

  it('a flood on REST and Modbus from some sources leaves metering and the other interface working', async (t) => {
    const port = fx.device.ready.http as number;
    let flooding = true;
    let floodRequests = 0;
    const restFlood = Array.from({ length: 24 }, async (_, i) => {
      const client = new DeviceClient(`http://127.0.0.1:${port}`, { localAddress: `127.0.1.${i + 1}` });
      while (flooding) {
        await client.request('POST', '/api/v1/auth/challenge', { username: `nobody${i}` }).catch(() => {});
        floodRequests++;
      }
    });
    const modbusFlood = Array.from({ length: 8 }, async (_, i) => {
      const client = await MbapClient.connect(t, modbusPort, { localAddress: `127.0.2.${i + 1}` });
      while (flooding) await client.request(readPdu(3, 0, 60)).catch(() => {});
      client.close();
    });
    try {
      await sleep(500);
      // Metering goes on: the frequency, read over Modbus from a quiet source, keeps changing.
      const reader = await MbapClient.connect(t, modbusPort, { localAddress: '127.0.3.1' });
      const seen = new Set<string>();
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const registers = registersOf(await reader.request(readPdu(4, 0, 2)), 4);
        latencies.push(performance.now() - started);
        seen.add(registers.join(','));
        await sleep(100);
      }
      reader.close();
      assert.ok(seen.size > 1, 'measured values keep changing under the flood');
      // The local display goes on showing live values too.
      await display.repaint();
      const first = await display.waitFor(/^VOLTAGE[\s\S]*U1\s+\d/);
      const deadline = Date.now() + 5000;
      while (display.text() === first && Date.now() < deadline) await sleep(50);
      assert.notEqual(display.text(), first, 'the display redraws new values under the flood');
      latencies.sort((a, b) => a - b);
      assert.ok(
        (latencies.at(-1) as number) < 2000,
        `Modbus answers within 2 s under flood (max ${latencies.at(-1)})`,
      );
      // REST from another source still answers, logins included.
      const quiet = fx.https({ localAddress: '127.0.3.2' });
      assert.equal((await quiet.request('GET', '/api/v1/measurements')).status, 200);
      assert.ok(floodRequests > 100, `the flood ran (${floodRequests} requests)`);
    } finally {
      flooding = false;
      await Promise.all([...restFlood, ...modbusFlood]);
    }
  });
});
