/**
 * The Modbus TCP and Modbus/TCP Security listener (modbus-tcp-server.ts), in-process on 127.0.0.1 with
 * the real request handler and metering service, acting as the configured slot (anonymous). Proves
 * MBAP framing: FC3/FC4 reads of the 22 measurement registers decode to plausible values; pipelined
 * requests in one segment and a request split byte by byte are answered in order with their
 * transaction and unit ids; a foreign unit id answers 0x0B while 0, 255 and the configured id (read
 * per request) are served; a bad protocol id or length closes the connection. Limits: the connection
 * cap, the idle timeout, a client that sends without reading is closed; a handler that throws still
 * gets an answer. Whitelist: dropped at accept and on enforceWhitelist(). TLS: the role in a client
 * certificate of the configured CA decides (its IEC 62351-8 role template, as the controller maps it:
 * VIEWER reads, may not reset; no role, two roles or an unknown role get 0x01 for everything); a certificate of another CA, no certificate, or no CA at all fail the handshake.
 */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { certificateRoleTemplate, roleActor } from '../../../firmware/modbus/certificate-role.ts';
import { fingerprint256 } from '../../../firmware/modbus/modbus-controller.ts';
import { EXCEPTION } from '../../../firmware/modbus/modbus-gate.ts';
import { startModbusTcpServer } from '../../../firmware/modbus/modbus-tcp-server.ts';
import type {
  ModbusTcpOptions,
  ModbusTcpServer,
  TlsPeer,
} from '../../../firmware/modbus/modbus-transport.ts';
import { createAddressFilter } from '../../../firmware/net/client-whitelist.ts';
import type { InterfaceName } from '../../../firmware/services/request-context.ts';
import {
  type Credentials,
  createTestCa,
  makeCertificateWithRoles,
  makeServerCredentials,
  type TestCa,
} from '../../support/modbus-certificates.ts';
import {
  assertException,
  deviceIdPdu,
  float32Of,
  hex,
  type ModbusDevice,
  readPdu,
  registersOf,
  startModbusDevice,
  stringOf,
  TEST_SERIAL_NUMBER,
} from '../../support/modbus-fixture.ts';
import { MbapClient, mbapFrame } from '../../support/modbus-tcp-client.ts';

type TestContext = Parameters<typeof startModbusDevice>[0];

interface Served {
  readonly device: ModbusDevice;
  readonly server: ModbusTcpServer;
  /** The whitelist the listener asks (empty: everyone). */
  whitelist: string[];
  /** What `accessFor` was given, per connection. */
  readonly connections: { remoteAddress?: string; peerCertificate?: Uint8Array }[];
}

/** The device's access for a connection: the configured slot on TCP, the certificate's role on TLS. */
function accessFor(device: ModbusDevice, iface: InterfaceName): ModbusTcpOptions['accessFor'] {
  return (connection) => {
    if (iface !== 'modbus-tls') return device.slotAccess(iface, connection.remoteAddress);
    const found = connection.peerCertificate
      ? certificateRoleTemplate(connection.peerCertificate)
      : { error: 'no-role' as const };
    return device.accessAs('role' in found ? roleActor(found.role) : null, iface, connection.remoteAddress);
  };
}

async function serve(
  t: TestContext,
  options: Partial<ModbusTcpOptions> = {},
  device?: ModbusDevice,
): Promise<Served> {
  const dev = device ?? (await startModbusDevice(t));
  const served = { device: dev, whitelist: [] as string[], connections: [] as Served['connections'] };
  const access = accessFor(dev, options.tls ? 'modbus-tls' : 'modbus-tcp');
  const server = await startModbusTcpServer({
    host: '127.0.0.1',
    port: 0,
    handle: dev.handle,
    unitId: () => dev.metering.config.unitId,
    allowed: () => createAddressFilter(served.whitelist),
    accessFor: (connection) => {
      served.connections.push(connection);
      return access(connection);
    },
    ...options,
  });
  t.after(() => server.close());
  return Object.assign(served, { server });
}

/** The 11 measurement floats of a 22-register answer. */
function measurementsOf(registers: readonly number[]) {
  const f = (i: number) => float32Of(registers.slice(i * 2, i * 2 + 2));
  return { u: [f(0), f(1), f(2)], i: [f(3), f(4), f(5)], p: f(6), q: f(7), s: f(8), pf: f(9), f: f(10) };
}

/** The client is refused: the handshake fails, or the connection closes before any answer. */
async function assertRefused(
  t: TestContext,
  port: number,
  options: Parameters<typeof MbapClient.connect>[2],
) {
  let client: MbapClient;
  try {
    client = await MbapClient.connect(t, port, options);
  } catch {
    return;
  }
  // TLS 1.3: the client finishes its side before the server has verified the client certificate.
  await client.write(mbapFrame(1, 1, readPdu(3, 0, 2)));
  assert.equal(await client.nextFrame(3000), null, 'no answer');
  assert.ok(await client.closesWithin(3000), 'closed by the server');
}

describe('Modbus TCP server: framing', () => {
  it('serves FC3 and FC4 reads of the 22 measurement registers with plausible values', async (t) => {
    const { server } = await serve(t);
    const client = await MbapClient.connect(t, server.port);
    const holding = registersOf(await client.request(readPdu(3, 0, 22)), 3);
    const input = registersOf(await client.request(readPdu(4, 0, 22)), 4);
    assert.equal(holding.length, 22);
    assert.deepEqual(input, holding, 'FC3 and FC4 read the same registers');
    const m = measurementsOf(holding);
    for (const u of m.u) assert.ok(u > 220 && u < 240, `U ${u} V`);
    for (const i of m.i) assert.ok(i > 0 && i < 100, `I ${i} A`);
    assert.ok(m.f > 49.5 && m.f < 50.5, `f ${m.f} Hz`);
    assert.ok(Math.abs(m.pf) <= 1 && Math.abs(m.pf) > 0.5, `PF ${m.pf}`);
    assert.ok(m.s > 0 && Math.abs(m.p) <= m.s * 1.001, `P ${m.p} W, S ${m.s} VA`);
    assert.ok(Math.abs(m.p / m.s - m.pf) < 0.01, 'PF = P / S');
  });

  it('answers pipelined requests from one segment in order, with their transaction ids', async (t) => {
    const { server } = await serve(t);
    const client = await MbapClient.connect(t, server.port);
    const requests = [
      [0x1234, 1, readPdu(3, 0, 2)],
      [0x0001, 1, readPdu(4, 100, 4)],
      [0xffff, 0, readPdu(3, 500, 8)],
      [0x0000, 9, readPdu(3, 0, 2)],
      [0x8000, 255, readPdu(3, 400, 2)],
      [0x0042, 1, deviceIdPdu(1, 0)],
    ] as const;
    await client.write(Buffer.concat(requests.map(([id, unit, pdu]) => mbapFrame(id, unit, pdu))));
    const answers = [];
    for (let i = 0; i < requests.length; i++) answers.push(await client.nextFrame());
    assert.deepEqual(
      answers.map((a) => [a?.transaction, a?.protocol, a?.unit]),
      requests.map(([id, unit]) => [id, 0, unit]),
    );
    assert.equal(registersOf(answers[0]?.pdu as Uint8Array).length, 2);
    assert.equal(registersOf(answers[1]?.pdu as Uint8Array).length, 4);
    assert.equal(stringOf(registersOf(answers[2]?.pdu as Uint8Array)), TEST_SERIAL_NUMBER);
    assertException(answers[3]?.pdu as Uint8Array, 3, EXCEPTION.GATEWAY_TARGET_FAILED, 'unit 9');
    assertException(
      answers[4]?.pdu as Uint8Array,
      3,
      EXCEPTION.ILLEGAL_FUNCTION,
      'anonymous: no config.read',
    );
    assert.equal(answers[5]?.pdu[0], 0x2b);
    assert.equal(client.pendingFrames, 0, 'one answer per request');
  });

  it('reassembles a request split byte by byte, and requests split across segments anywhere', async (t) => {
    const { server } = await serve(t);
    const client = await MbapClient.connect(t, server.port);
    const frame = mbapFrame(7, 1, readPdu(3, 0, 22));
    for (const byte of frame) {
      await client.write(Uint8Array.of(byte));
      await sleep(3);
    }
    const first = await client.nextFrame();
    assert.equal(first?.transaction, 7);
    assert.equal(registersOf(first?.pdu as Uint8Array).length, 22);

    const stream = Buffer.concat([1, 2, 3].map((id) => mbapFrame(id, 1, readPdu(4, 100, 4))));
    for (const cut of [1, 6, 7, 13, 20, 30]) {
      await client.write(stream.subarray(0, cut));
      await sleep(5);
      await client.write(stream.subarray(cut));
      for (const id of [1, 2, 3]) assert.equal((await client.nextFrame())?.transaction, id, `cut at ${cut}`);
    }
  });

  it('answers 0x0B for a foreign unit id, serves 0, 255 and the configured unit id', async (t) => {
    const { server, device } = await serve(t);
    const client = await MbapClient.connect(t, server.port);
    for (const unit of [2, 7, 100, 247, 254]) {
      assertException(
        await client.request(readPdu(3, 0, 2), unit),
        3,
        EXCEPTION.GATEWAY_TARGET_FAILED,
        `unit ${unit}`,
      );
      assertException(
        await client.request(deviceIdPdu(1, 0), unit),
        0x2b,
        EXCEPTION.GATEWAY_TARGET_FAILED,
        `unit ${unit}`,
      );
    }
    for (const unit of [0, 1, 255]) {
      assert.equal(registersOf(await client.request(readPdu(3, 0, 2), unit)).length, 2, `unit ${unit}`);
    }
    device.metering.updateConfig(await device.admin(), { unitId: 7 }, { interface: 'system' });
    assert.equal(registersOf(await client.request(readPdu(3, 0, 2), 7)).length, 2, 'unit 7 now');
    assertException(
      await client.request(readPdu(3, 0, 2), 1),
      3,
      EXCEPTION.GATEWAY_TARGET_FAILED,
      'unit 1 now',
    );
  });

  it('closes the connection on a protocol id other than 0, or a length outside 2..254', async (t) => {
    const { server } = await serve(t);
    const broken: [string, Buffer][] = [
      ['protocol id 1', mbapFrame(1, 1, readPdu(3, 0, 2), 1)],
      ['protocol id 0xffff', mbapFrame(1, 1, readPdu(3, 0, 2), 0xffff)],
      ['length 0', Buffer.from([0, 1, 0, 0, 0, 0, 1, 3, 0, 0, 0, 2])],
      ['length 1', Buffer.from([0, 1, 0, 0, 0, 1, 1])],
      ['length 255', Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 255, 1]), Buffer.alloc(254, 3)])],
      ['length 0xffff', Buffer.from([0, 1, 0, 0, 0xff, 0xff, 1, 3])],
      ['header alone, protocol 2', Buffer.from([0, 1, 0, 2, 0, 6])],
    ];
    for (const [what, bytes] of broken) {
      const client = await MbapClient.connect(t, server.port);
      assert.equal(registersOf(await client.request(readPdu(3, 0, 2))).length, 2, `${what}: open before`);
      await client.write(Buffer.concat([bytes, mbapFrame(2, 1, readPdu(3, 0, 2))]));
      assert.ok(await client.closesWithin(2000), `${what}: closed`);
      assert.equal(await client.nextFrame(10), null, `${what}: nothing answered`);
    }
    const client = await MbapClient.connect(t, server.port);
    // Length 254 (unit id + a 253-byte PDU) and length 2 (a function code alone) are valid frames.
    const maximal = Uint8Array.of(0x41, ...new Uint8Array(252));
    assert.equal(mbapFrame(3, 1, maximal).readUInt16BE(4), 254);
    const answer = await client.request(maximal);
    assertException(answer, 0x41, EXCEPTION.ILLEGAL_FUNCTION, 'length 254');
    assertException(await client.request(Uint8Array.of(0x03)), 3, EXCEPTION.ILLEGAL_DATA_VALUE, 'length 2');
  });

  it('answers the requests before a broken header, then closes even if the client keeps its side open', async (t) => {
    const { server } = await serve(t);
    const raw = netConnect({ host: '127.0.0.1', port: server.port, allowHalfOpen: true });
    t.after(() => {
      raw.destroy();
    });
    raw.on('error', () => {});
    let received = Buffer.alloc(0);
    raw.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    const ended = new Promise<void>((resolve) => raw.once('end', () => resolve()));
    const started = Date.now();
    const closed = new Promise<number>((resolve) => raw.once('close', () => resolve(Date.now() - started)));
    raw.write(Buffer.concat([mbapFrame(1, 1, readPdu(3, 0, 2)), mbapFrame(2, 1, readPdu(3, 0, 2), 9)]));
    await ended;
    assert.equal(received.length, 7 + 6, 'the answer to the first request, then FIN');
    assert.equal(received.readUInt16BE(0), 1);
    raw.write(mbapFrame(3, 1, readPdu(3, 0, 2)));
    // Half-open on our side: only writes after the server has closed its socket show it (a reset).
    const probe = setInterval(() => raw.write(mbapFrame(4, 1, readPdu(3, 0, 2))), 100);
    const after = await Promise.race([closed, sleep(4000).then(() => Number.POSITIVE_INFINITY)]);
    clearInterval(probe);
    assert.ok(after < 3500, `closed by the server within its grace (${after} ms)`);
    assert.equal(received.length, 13, 'nothing answered after the broken header');
  });

  it('answers 0x04 when the handler throws, and keeps serving', async (t) => {
    const device = await startModbusDevice(t);
    const { server } = await serve(
      t,
      {
        handle: (pdu, access) => {
          if (pdu[0] === 0x41) throw new Error('handler bug');
          if (pdu[0] === 0x42) return new Uint8Array(300);
          return device.handle(pdu, access);
        },
      },
      device,
    );
    const client = await MbapClient.connect(t, server.port);
    assertException(
      await client.request(Uint8Array.of(0x41)),
      0x41,
      EXCEPTION.SERVER_DEVICE_FAILURE,
      'throws',
    );
    assertException(
      await client.request(Uint8Array.of(0x42)),
      0x42,
      EXCEPTION.SERVER_DEVICE_FAILURE,
      'too long',
    );
    assert.equal(registersOf(await client.request(readPdu(3, 0, 2))).length, 2);
  });

  it('closes a connection whose accessFor throws, and keeps listening', async (t) => {
    const device = await startModbusDevice(t);
    let fail = true;
    const { server } = await serve(
      t,
      {
        accessFor: (connection) => {
          if (fail) throw new Error('no principal');
          return device.slotAccess('modbus-tcp', connection.remoteAddress);
        },
      },
      device,
    );
    await assertRefused(t, server.port, {});
    fail = false;
    const client = await MbapClient.connect(t, server.port);
    assert.equal(registersOf(await client.request(readPdu(3, 0, 2))).length, 2);
  });
});

describe('Modbus TCP server: limits', () => {
  it('closes connections beyond maxConnections at once', async (t) => {
    const { server } = await serve(t, { maxConnections: 3 });
    const clients = [];
    for (let i = 0; i < 3; i++) {
      const client = await MbapClient.connect(t, server.port);
      assert.equal(registersOf(await client.request(readPdu(3, 0, 2))).length, 2, `connection ${i + 1}`);
      clients.push(client);
    }
    await assertRefused(t, server.port, {});
    for (const client of clients) {
      assert.equal(registersOf(await client.request(readPdu(3, 0, 2))).length, 2, 'the first three stay');
    }
    clients[0]?.close();
    await sleep(100);
    const again = await MbapClient.connect(t, server.port);
    assert.equal(registersOf(await again.request(readPdu(3, 0, 2))).length, 2, 'a slot freed is reused');
  });

  it('closes a connection idle for idleTimeoutMs, not one that keeps asking', async (t) => {
    const { server } = await serve(t, { idleTimeoutMs: 300 });
    const idle = await MbapClient.connect(t, server.port);
    const busy = await MbapClient.connect(t, server.port);
    const started = Date.now();
    let idleClosedAt: number | null = null;
    void idle.closed.then(() => {
      idleClosedAt = Date.now() - started;
    });
    while (Date.now() - started < 900) {
      assert.equal(registersOf(await busy.request(readPdu(3, 0, 2))).length, 2);
      await sleep(100);
    }
    assert.ok(idleClosedAt !== null, 'the idle connection was closed');
    assert.ok(idleClosedAt >= 250 && idleClosedAt < 900, `closed after ${idleClosedAt} ms`);
    assert.ok(busy.isOpen, 'the busy connection stays open');
    assert.ok(await busy.closesWithin(2000), 'and closes once it falls silent');
  });

  it('closes a connection that sends requests without reading the answers', async (t) => {
    const { server } = await serve(t);
    const flooder = await MbapClient.connect(t, server.port);
    flooder.socket.pause();
    const request = mbapFrame(1, 1, readPdu(3, 0, 22));
    const burst = Buffer.concat(Array.from({ length: 4096 }, () => request));
    let sent = 0;
    const started = Date.now();
    while (flooder.isOpen && Date.now() - started < 8000 && sent < 64 * 1024 * 1024) {
      if (!flooder.socket.write(burst)) await Promise.race([sleep(50), flooder.closed]);
      sent += burst.length;
    }
    assert.ok(await flooder.closesWithin(5000), `closed after ${sent} bytes of requests`);
    const client = await MbapClient.connect(t, server.port);
    assert.equal(registersOf(await client.request(readPdu(3, 0, 22))).length, 22, 'others are served');
  });
});

describe('Modbus TCP server: whitelist', () => {
  it('drops a connection from a source not on the whitelist at accept', async (t) => {
    const served = await serve(t);
    served.whitelist = ['127.0.0.1'];
    await assertRefused(t, served.server.port, { localAddress: '127.0.0.2' });
    assert.equal(served.connections.length, 0, 'accessFor was never asked');
    const listed = await MbapClient.connect(t, served.server.port, { localAddress: '127.0.0.1' });
    assert.equal(registersOf(await listed.request(readPdu(3, 0, 2))).length, 2);
    served.whitelist = ['127.0.0.0/30'];
    const range = await MbapClient.connect(t, served.server.port, { localAddress: '127.0.0.2' });
    assert.equal(registersOf(await range.request(readPdu(3, 0, 2))).length, 2, 'CIDR range');
  });

  it('drops open connections the whitelist no longer allows on enforceWhitelist()', async (t) => {
    const served = await serve(t);
    const stays = await MbapClient.connect(t, served.server.port, { localAddress: '127.0.0.1' });
    const goes = await MbapClient.connect(t, served.server.port, { localAddress: '127.0.0.2' });
    for (const client of [stays, goes])
      assert.equal(registersOf(await client.request(readPdu(3, 0, 2))).length, 2);
    served.whitelist = ['127.0.0.1'];
    served.server.enforceWhitelist();
    assert.ok(await goes.closesWithin(2000), '127.0.0.2 dropped');
    assert.ok(stays.isOpen);
    assert.equal(registersOf(await stays.request(readPdu(3, 0, 2))).length, 2, '127.0.0.1 still served');
  });
});

describe('Modbus/TCP Security (TLS)', () => {
  let shared: { ca: TestCa; device: Credentials; viewer: Credentials } | null = null;
  const material = async () => {
    if (!shared) {
      const ca = await createTestCa();
      shared = {
        ca,
        device: await makeServerCredentials(),
        viewer: await makeCertificateWithRoles(ca, ['VIEWER']),
      };
    }
    return shared;
  };
  const serveTls = async (t: TestContext, ca: (m: { ca: TestCa }) => string | null = (m) => m.ca.cert) => {
    const m = await material();
    const served = await serve(t, {
      tls: { credentials: () => ({ cert: m.device.cert, key: m.device.key }), ca: () => ca(m) },
    });
    return Object.assign(served, m);
  };
  const withCertificate = (credentials: Credentials) => ({
    tls: { cert: credentials.cert, key: credentials.key },
  });

  it('serves a client whose certificate has the role VIEWER with the VIEWER template', async (t) => {
    const { server, viewer, connections } = await serveTls(t);
    const client = await MbapClient.connect(t, server.port, withCertificate(viewer));
    const m = measurementsOf(registersOf(await client.request(readPdu(3, 0, 22))));
    assert.ok(m.u[0] !== undefined && m.u[0] > 220 && m.u[0] < 240, `U1 ${m.u[0]}`);
    assert.equal(registersOf(await client.request(readPdu(4, 100, 4))).length, 4, 'meters.read');
    assert.equal(registersOf(await client.request(readPdu(3, 400, 2))).length, 2, 'config.read');
    assertException(
      await client.request(Uint8Array.of(0x06, 0x01, 0x2c, 0x5a, 0xa5)),
      6,
      EXCEPTION.ILLEGAL_FUNCTION,
      'no meters.reset',
    );
    assert.equal(connections.length, 1);
    assert.deepEqual(connections[0]?.peerCertificate, viewer.der, 'accessFor got the DER certificate');
    assert.match(connections[0]?.remoteAddress ?? '', /127\.0\.0\.1/);
  });

  it('answers 0x01 to every request when the certificate has no, two or an unknown role', async (t) => {
    const { server, ca } = await serveTls(t);
    const certificates = {
      'no role': await makeCertificateWithRoles(ca, []),
      'two roles': await makeCertificateWithRoles(ca, ['VIEWER', 'OPERATOR']),
      'unknown role': await makeCertificateWithRoles(ca, ['nobody_here']),
    };
    for (const [what, credentials] of Object.entries(certificates)) {
      const client = await MbapClient.connect(t, server.port, withCertificate(credentials));
      for (const pdu of [readPdu(3, 0, 2), readPdu(4, 500, 8), readPdu(3, 300, 1), deviceIdPdu(1, 0)]) {
        assertException(
          await client.request(pdu),
          pdu[0] as number,
          EXCEPTION.ILLEGAL_FUNCTION,
          `${what} ${hex(pdu)}`,
        );
      }
    }
  });

  it('fails the handshake for a certificate of another CA, and without a certificate', async (t) => {
    const { server } = await serveTls(t);
    const otherCa = await createTestCa('another CA');
    await assertRefused(t, server.port, withCertificate(await makeCertificateWithRoles(otherCa, ['VIEWER'])));
    await assertRefused(t, server.port, { tls: {} });
    await assertRefused(t, server.port, {});
  });

  it('fails every handshake while no CA is configured', async (t) => {
    const { server, viewer } = await serveTls(t, () => null);
    await assertRefused(t, server.port, withCertificate(viewer));
    await assertRefused(t, server.port, { tls: {} });
  });

  it('applies the whitelist before the handshake and on enforceWhitelist()', async (t) => {
    const served = await serveTls(t);
    const stays = await MbapClient.connect(t, served.server.port, withCertificate(served.viewer));
    const goes = await MbapClient.connect(t, served.server.port, {
      ...withCertificate(served.viewer),
      localAddress: '127.0.0.2',
    });
    for (const client of [stays, goes])
      assert.equal(registersOf(await client.request(readPdu(3, 0, 2))).length, 2);
    served.whitelist = ['127.0.0.1'];
    served.server.enforceWhitelist();
    assert.ok(await goes.closesWithin(2000), '127.0.0.2 dropped');
    assert.equal(registersOf(await stays.request(readPdu(3, 0, 2))).length, 2);
    const before = served.connections.length;
    await assertRefused(t, served.server.port, {
      ...withCertificate(served.viewer),
      localAddress: '127.0.0.2',
    });
    assert.equal(served.connections.length, before, 'never reached accessFor');
  });

  it('admit decides each handshake and, on enforceRevocation(), each open connection again', async (t) => {
    const m = await material();
    const denied = new Set<string>();
    const peers: TlsPeer[] = [];
    const { server } = await serve(t, {
      tls: {
        credentials: () => ({ cert: m.device.cert, key: m.device.key }),
        ca: () => m.ca.cert,
        admit: (peer) => {
          peers.push(peer);
          return peer.authorized && !denied.has(fingerprint256(peer.certificate ?? new Uint8Array(0)));
        },
      },
    });
    const client = await MbapClient.connect(t, server.port, withCertificate(m.viewer));
    assert.equal(registersOf(await client.request(readPdu(3, 0, 2))).length, 2);
    assert.deepEqual([peers[0]?.authorized, peers[0]?.certificate], [true, m.viewer.der]);
    denied.add(fingerprint256(m.viewer.der));
    server.enforceRevocation();
    assert.ok(await client.closesWithin(2000), 'the denied connection is closed');
    await assertRefused(t, server.port, withCertificate(m.viewer));
    // A chain OpenSSL refused is never served, whatever admit answers: admit is told why.
    const other = await makeCertificateWithRoles(await createTestCa('another CA'), ['VIEWER']);
    await assertRefused(t, server.port, withCertificate(other));
    const refused = peers.at(-1);
    assert.equal(refused?.authorized, false);
    assert.match(refused?.error ?? '', /^[A-Z_]+$/);
  });

  it('reloadTls() applies a new CA on the same port and closes open connections', async (t) => {
    const m = await material();
    const next = await createTestCa('next CA');
    let ca = m.ca.cert;
    const { server } = await serve(t, {
      tls: { credentials: () => ({ cert: m.device.cert, key: m.device.key }), ca: () => ca },
    });
    const port = server.port;
    const open = await MbapClient.connect(t, port, withCertificate(m.viewer));
    assert.equal(registersOf(await open.request(readPdu(3, 0, 2))).length, 2);
    ca = next.cert;
    server.reloadTls();
    assert.equal(server.port, port);
    assert.ok(await open.closesWithin(2000), 'the connection made under the old CA is closed');
    await assertRefused(t, port, withCertificate(m.viewer));
    const fresh = await MbapClient.connect(
      t,
      port,
      withCertificate(await makeCertificateWithRoles(next, ['VIEWER'])),
    );
    assert.equal(registersOf(await fresh.request(readPdu(3, 0, 2))).length, 2);
  });

  it('closes a connection that has not completed the handshake idleTimeoutMs after accept', async (t) => {
    const m = await material();
    const { server } = await serve(t, {
      idleTimeoutMs: 300,
      tls: { credentials: () => ({ cert: m.device.cert, key: m.device.key }), ca: () => m.ca.cert },
    });
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const raw = netConnect({ host: '127.0.0.1', port: server.port });
      t.after(() => {
        raw.destroy();
      });
      raw.on('error', () => {});
      raw.on('close', () => resolve(Date.now() - started));
      // A TLS record header, then the hello trickled a byte at a time: activity, but no handshake.
      raw.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
      const trickle = setInterval(() => raw.write(Buffer.from([0x01])), 50);
      raw.once('close', () => clearInterval(trickle));
      setTimeout(() => resolve(Number.POSITIVE_INFINITY), 5000).unref();
    });
    assert.ok(closedAfter >= 250 && closedAfter < 3000, `closed after ${closedAfter} ms`);
    const client = await MbapClient.connect(t, server.port, withCertificate(m.viewer));
    assert.equal(registersOf(await client.request(readPdu(3, 0, 2))).length, 2);
  });
});
