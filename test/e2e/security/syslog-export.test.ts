/**
 * Syslog export of security events from the device process to collectors this test runs on loopback:
 * off by default; RFC 5424 over UDP; over TLS (RFC 5425 octet counting) trusting the collector by its
 * certificate's fingerprint only; nothing to a collector with another certificate; and with the
 * collector down the device and its on-flash log go on, and the export resumes once it is back.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import {
  generateSelfSignedCertificate,
  type SelfSignedCertificate,
} from '../../../firmware/tls/self-signed-certificate.ts';
import { type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

/** `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG` (RFC 5424 §6). */
const RFC5424 =
  /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) metergate (\d+) (\S+) \[metergate@32473 ([^\]]*)\] \uFEFF(.*)$/s;

interface Parsed {
  pri: number;
  hostname: string;
  msgid: string;
  sd: string;
  text: string;
}

function parse(message: string): Parsed {
  const match = RFC5424.exec(message);
  assert.ok(match, `not an RFC 5424 message: ${message}`);
  return {
    pri: Number(match[1]),
    hostname: match[3] as string,
    msgid: match[5] as string,
    sd: match[6] as string,
    text: match[7] as string,
  };
}

/** A TLS collector: frames are `LEN SP MSG` (octet counting). */
async function tlsCollector(
  certificate: SelfSignedCertificate,
  port = 0,
): Promise<{ port: number; messages: string[]; stop: () => void }> {
  const messages: string[] = [];
  const sockets = new Set<TLSSocket>();
  const server: TlsServer = createTlsServer({ cert: certificate.cert, key: certificate.key }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let buffer = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const space = buffer.indexOf(0x20);
        if (space < 0) return;
        const length = Number(buffer.subarray(0, space).toString());
        if (buffer.length < space + 1 + length) return;
        messages.push(buffer.subarray(space + 1, space + 1 + length).toString('utf8'));
        buffer = buffer.subarray(space + 1 + length);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    messages,
    stop: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

async function until<T>(read: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail('timed out');
    await sleep(20);
  }
}

describe('syslog export of security events', () => {
  let fx: RestFixture;
  let udp: UdpSocket;
  let udpPort: number;
  const udpMessages: string[] = [];
  let certificate: SelfSignedCertificate;
  const closers: (() => void)[] = [];

  const configure = async (syslog: Record<string, unknown>) => {
    const response = await fx.admin.request('PATCH', '/api/v1/security', { syslog });
    assert.equal(response.status, 200, JSON.stringify(response.body));
  };
  /** A failed login: an event with a known source and result. */
  const failLogin = async (name: string) => {
    await fx
      .http()
      .login(name, 'not the password')
      .catch(() => {});
  };

  before(async () => {
    const now = Date.now();
    [fx, certificate] = await Promise.all([
      startRestFixture(),
      generateSelfSignedCertificate({
        subject: 'CN=collector',
        ipAddresses: ['127.0.0.1'],
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
      }),
    ]);
    udp = createSocket('udp4');
    udp.on('message', (message) => udpMessages.push(message.toString('utf8')));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    udpPort = udp.address().port;
  });

  after(async () => {
    for (const close of closers) close();
    udp?.close();
    await fx?.close();
  });

  it('is off by default: nothing is sent', async () => {
    const settings = await fx.admin.request<{ syslog: { transport: string } }>('GET', '/api/v1/security');
    assert.equal(settings.body.syslog.transport, 'off');
    await failLogin('nobody_default');
    await sleep(300);
    assert.deepEqual(udpMessages, []);
  });

  it('over UDP: every event as an RFC 5424 message with its result, interface and source', async () => {
    await configure({ transport: 'udp', host: '127.0.0.1', port: udpPort });
    const change = udpMessages.length === 0 ? await until(() => udpMessages[0]) : udpMessages[0];
    assert.equal(parse(change as string).msgid, 'settings.change', 'the change that switched it on');
    await failLogin('nobody_udp');
    const failed = await until(() =>
      udpMessages.map(parse).find((m) => m.msgid === 'login' && /result="failed"/.test(m.sd)),
    );
    assert.equal(failed.pri, 10 * 8 + 5, 'authpriv.notice');
    assert.match(failed.sd, /interface="http"/);
    assert.match(failed.sd, /source="127\.0\.0\.1"/);
    assert.match(failed.text, /^login failed from 127\.0\.0\.1/);
    const info = await fx.admin.request<{ serialNumber: string }>('GET', '/api/v1/info');
    assert.equal(failed.hostname, info.body.serialNumber);
    assert.doesNotMatch(udpMessages.join('\n'), /not the password/, 'never a secret');
  });

  it('bad settings are refused naming the field', async () => {
    for (const [syslog, field] of [
      [{ transport: 'tls', host: '127.0.0.1', port: 6514, fingerprint: null }, 'syslog.fingerprint'],
      [{ transport: 'udp', host: 'bad host!', port: 514 }, 'syslog.host'],
      [{ transport: 'udp', host: '127.0.0.1', port: 0 }, 'syslog.port'],
    ] as const) {
      const response = await fx.admin.request<{ error: { field: string } }>('PATCH', '/api/v1/security', {
        syslog,
      });
      assert.equal(response.status, 400);
      assert.equal(response.body.error.field, field);
    }
  });

  it('over TLS, trusting only the configured fingerprint; another certificate gets nothing', async () => {
    const impostor = await generateSelfSignedCertificate({
      subject: 'CN=impostor',
      ipAddresses: ['127.0.0.1'],
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
    });
    const fake = await tlsCollector(impostor);
    closers.push(() => fake.stop());
    await configure({
      transport: 'tls',
      host: '127.0.0.1',
      port: fake.port,
      fingerprint: certificate.fingerprint256,
    });
    await failLogin('nobody_impostor');
    await sleep(500);
    assert.deepEqual(fake.messages, [], 'a collector with another certificate receives nothing');

    const real = await tlsCollector(certificate);
    closers.push(() => real.stop());
    await configure({ port: real.port });
    await failLogin('nobody_tls');
    const failed = await until(() => real.messages.map(parse).find((m) => m.msgid === 'login'));
    assert.match(failed.sd, /result="failed"/);
  });

  it('with the collector down the device and its log go on; the export resumes when it is back', async () => {
    const first = await tlsCollector(certificate);
    const port = first.port;
    await configure({ port });
    await failLogin('nobody_before');
    await until(() => first.messages.find((m) => m.includes('login failed')));
    first.stop();
    const audit = async () =>
      (
        await fx.admin.request<{ events: { type: string; result: string }[] }>(
          'GET',
          '/api/v1/audit?type=login&limit=200',
        )
      ).body.events.filter((e) => e.result === 'failed').length;
    const before = await audit();
    for (let i = 0; i < 3; i++) await failLogin(`nobody_down${i}`);
    assert.equal(await audit(), before + 3, 'the on-flash log has every event while the collector is down');
    assert.equal((await fx.http().request('GET', '/api/v1/info')).status, 200);

    const second = await tlsCollector(certificate, port);
    closers.push(() => second.stop());
    // Retried with a growing pause (1, 2, 4 s…): the events of the outage arrive, in order.
    await until(
      () => (second.messages.filter((m) => m.includes('login failed')).length >= 3 ? true : undefined),
      15_000,
    );
  });
});
