/**
 * The client whitelist and TLS of the real device. Whitelist: other sources (127.0.0.2 on loopback)
 * have their connections dropped on HTTP and HTTPS before a byte is answered while listed ones work,
 * CIDR ranges match, a malformed entry is refused naming it, and clearing restores access. TLS: 1.0 and
 * 1.1 are refused by the device, 1.2 (AEAD suites only) and 1.3 work; HSTS only over HTTPS; CSP,
 * X-Frame-Options and nosniff on every response including errors; GET /tls names the certificate the
 * socket presents; an uploaded P-256 certificate is served to new connections and after a restart,
 * while a foreign key, an expired certificate or an upload over plain HTTP are refused and change nothing.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SecureVersion, connect as tlsConnect } from 'node:tls';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import {
  generateSelfSignedCertificate,
  type SelfSignedCertificate,
} from '../../../firmware/tls/self-signed-certificate.ts';
import { TLS_CIPHERS } from '../../../firmware/tls/tls-policy.ts';
import { type RunningDevice, startDevice } from '../../support/device-process.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

interface ErrorBody {
  error: { code: string; message: string; field?: string };
}
interface TlsInfo {
  source: string;
  subject: string;
  fingerprint256: string;
  validTo: string;
}
type Credentials = SelfSignedCertificate;

const DAY = 24 * 3600_000;

/** A self-signed server certificate for 127.0.0.1, made as the device makes its own. */
function makeCertificate(cn: string, notBefore: Date, notAfter: Date): Promise<Credentials> {
  return generateSelfSignedCertificate({
    subject: `CN=${cn}`,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    notBefore,
    notAfter,
  });
}

/** A TLS handshake only: the protocol, cipher and certificate fingerprint, or the error. */
function handshake(
  port: number,
  options: { minVersion?: SecureVersion; maxVersion?: SecureVersion; ciphers?: string } = {},
): Promise<
  { protocol: string | null; cipher: string; fingerprint256: string } | { error: NodeJS.ErrnoException }
> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timeout')));
    socket.on('secureConnect', () => {
      resolve({
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
        fingerprint256: socket.getPeerCertificate().fingerprint256,
      });
      socket.end();
    });
    socket.on('error', (error) => resolve({ error }));
  });
}

async function presentedFingerprint(port: number): Promise<string> {
  const result = await handshake(port);
  if ('error' in result) throw result.error;
  return result.fingerprint256;
}

/** A request expected to have its connection dropped: the error it fails with. */
async function dropped(client: DeviceClient): Promise<NodeJS.ErrnoException> {
  try {
    const response = await client.request('GET', '/api/v1/info');
    assert.fail(`expected the connection to be dropped, got HTTP ${response.status}`);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    return error as NodeJS.ErrnoException;
  }
}

function assertDropped(error: NodeJS.ErrnoException, what: string): void {
  assert.ok(
    error.code === 'ECONNRESET' || /socket hang up/.test(error.message),
    `${what}: expected ECONNRESET / socket hang up, got ${error.code} ${error.message}`,
  );
}

describe('client whitelist and TLS', () => {
  let fx: RestFixture;
  let restarted: RunningDevice | null = null;
  const at = (n: number) => ({
    http: fx.http({ localAddress: `127.0.0.${n}` }),
    https: fx.https({ localAddress: `127.0.0.${n}` }),
  });
  const setWhitelist = async (whitelist: string[]) => {
    const response = await fx.admin.request<{ whitelist: string[] }>('PATCH', '/api/v1/security', {
      whitelist,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(response.body.whitelist, whitelist);
  };
  const reachable = async (n: number) => {
    for (const client of Object.values(at(n))) {
      const response = await client.request('GET', '/api/v1/info');
      assert.equal(response.status, 200, `from 127.0.0.${n} via ${client.baseUrl}`);
    }
  };
  const unreachable = async (n: number) => {
    for (const [transport, client] of Object.entries(at(n))) {
      assertDropped(await dropped(client), `${transport} from 127.0.0.${n}`);
    }
  };

  before(async () => {
    fx = await startRestFixture();
  });
  after(async () => {
    await restarted?.stop();
    await fx?.close();
  });

  describe('whitelist', () => {
    it('a whitelist drops other sources on HTTP and HTTPS, listed ones keep working', async () => {
      await reachable(2);
      await setWhitelist(['127.0.0.1']);
      await unreachable(2);
      await reachable(1);
      // Dropped at accept: not even a well-formed request gets a byte back.
      const reply = await new Promise<{ data: string; closed: boolean }>((resolve) => {
        const socket = netConnect({
          host: '127.0.0.1',
          port: fx.device.ready.http as number,
          localAddress: '127.0.0.2',
        });
        let data = '';
        socket.on('connect', () => socket.write('GET /api/v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
        socket.on('data', (chunk: Buffer) => {
          data += chunk.toString();
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve({ data, closed: true }));
        setTimeout(() => {
          socket.destroy();
          resolve({ data, closed: false });
        }, 5_000);
      });
      assert.deepEqual(reply, { data: '', closed: true });
      // The admin's own session (from 127.0.0.1) is unaffected.
      const security = await fx.admin.request<{ whitelist: string[] }>('GET', '/api/v1/security');
      assert.deepEqual(security.body.whitelist, ['127.0.0.1']);
    });

    it('an open keep-alive connection from a source the new whitelist drops is closed at once', async () => {
      await setWhitelist(['127.0.0.1', '127.0.0.2']);
      const socket = netConnect({
        host: '127.0.0.1',
        port: fx.device.ready.http as number,
        localAddress: '127.0.0.2',
      });
      socket.on('error', () => {});
      const firstAnswer = new Promise<string>((resolve) =>
        socket.once('data', (chunk: Buffer) => resolve(chunk.toString())),
      );
      const closed = new Promise<boolean>((resolve) => {
        socket.on('close', () => resolve(true));
        setTimeout(() => resolve(false), 4_000);
      });
      socket.write('GET /api/v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
      assert.match(await firstAnswer, /^HTTP\/1\.1 200/);
      await setWhitelist(['127.0.0.1']);
      // Well before the 5 s keep-alive timeout would have closed it anyway.
      assert.equal(await closed, true);
    });

    it('CIDR ranges match by prefix', async () => {
      await setWhitelist(['127.0.0.1', '127.0.0.2/31']);
      await reachable(2);
      await reachable(3);
      await unreachable(4);
    });

    it('a whitelist that would drop the requesting connection → 409, nothing stored', async () => {
      const before = await fx.admin.request('GET', '/api/v1/security');
      const refused = await fx.admin.request('PATCH', '/api/v1/security', { whitelist: ['127.0.0.2'] });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.deepEqual(refused.body, {
        error: {
          code: 'whitelist-excludes-you',
          message: 'this whitelist would drop your own connection from 127.0.0.1',
          field: 'whitelist',
        },
      });
      assert.deepEqual((await fx.admin.request('GET', '/api/v1/security')).body, before.body);
    });

    it('a malformed entry → 400 naming it, and the stored whitelist stays', async () => {
      const before = await fx.admin.request('GET', '/api/v1/security');
      const cases: [string[], string][] = [
        [['300.1.1.1/8'], 'whitelist[0]'],
        [['127.0.0.1', '10.0.0.0/33'], 'whitelist[1]'],
        [['127.0.0.1', 'localhost'], 'whitelist[1]'],
      ];
      for (const [whitelist, field] of cases) {
        const response = await fx.admin.request<ErrorBody>('PATCH', '/api/v1/security', { whitelist });
        assert.equal(response.status, 400, JSON.stringify(response.body));
        assert.equal(response.body.error.code, 'invalid-setting');
        assert.equal(response.body.error.field, field);
        assert.match(response.body.error.message, new RegExp(`'${whitelist.at(-1)}'`));
      }
      assert.deepEqual((await fx.admin.request('GET', '/api/v1/security')).body, before.body);
      await unreachable(4);
    });

    it('clearing the whitelist restores access from everywhere', async () => {
      await setWhitelist([]);
      await reachable(2);
      await reachable(4);
    });
  });

  describe('TLS', () => {
    const httpsPort = () => fx.device.ready.https as number;

    it('TLS 1.0 and 1.1 are refused by the device; 1.2 (AEAD suites) and 1.3 work', async () => {
      for (const version of ['TLSv1', 'TLSv1.1'] as const) {
        // SECLEVEL=0 lets this client offer the old versions, so the refusal is the device's.
        const result = await handshake(httpsPort(), {
          minVersion: version,
          maxVersion: version,
          ciphers: 'DEFAULT@SECLEVEL=0',
        });
        assert.ok('error' in result, `${version} handshake succeeded`);
        assert.equal(
          result.error.code,
          'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
          `${version}: ${result.error.message}`,
        );
      }
      for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
        const result = await handshake(httpsPort(), { minVersion: version, maxVersion: version });
        assert.ok(!('error' in result), `${version}: ${'error' in result ? result.error.message : ''}`);
        assert.equal(result.protocol, version);
        if (version === 'TLSv1.2') assert.ok(TLS_CIPHERS.split(':').includes(result.cipher), result.cipher);
      }
      const cbc = await handshake(httpsPort(), {
        maxVersion: 'TLSv1.2',
        ciphers: 'ECDHE-ECDSA-AES128-SHA256',
      });
      assert.ok('error' in cbc, 'a CBC-only TLS 1.2 client is refused');
    });

    it('HSTS on HTTPS responses once plain HTTP is no longer served; CSP, X-Frame-Options and nosniff on every response, errors included', async () => {
      const requests: [string, string, unknown, number][] = [
        ['GET', '/api/v1/info', undefined, 200],
        ['GET', '/api/v1/nope', undefined, 404],
        ['GET', '/', undefined, 200],
        ['GET', '/nope', undefined, 404],
        ['GET', '/assets/nope.js', undefined, 404],
        ['GET', '/api/v1/users', undefined, 401],
        ['POST', '/api/v1/auth/challenge', '{"username":', 400],
        ['POST', '/api/v1/auth/challenge', { username: 'x'.repeat(70_000) }, 413],
      ];
      const check = async (transport: 'http' | 'https', hsts: boolean) => {
        const client = transport === 'http' ? fx.http() : fx.https();
        for (const [method, path, body, status] of requests) {
          const what = `${transport} ${method} ${path}`;
          const response = await client.request(method, path, body);
          assert.equal(response.status, status, `${what}: ${JSON.stringify(response.body)}`);
          const h = response.headers;
          assert.match(String(h['content-security-policy']), /default-src 'self'/, what);
          assert.match(String(h['content-security-policy']), /frame-ancestors 'none'/, what);
          assert.equal(h['x-frame-options'], 'DENY', what);
          assert.equal(h['x-content-type-options'], 'nosniff', what);
          if (hsts) assert.match(String(h['strict-transport-security']), /^max-age=\d{7,}/, what);
          else assert.equal(h['strict-transport-security'], undefined, what);
        }
      };
      // While plain HTTP is on (factory), HSTS would make browsers refuse the HTTP address: none.
      await check('http', false);
      await check('https', false);
      assert.equal((await fx.admin.request('PATCH', '/api/v1/security', { http: 'redirect' })).status, 200);
      try {
        await check('https', true);
      } finally {
        assert.equal((await fx.admin.request('PATCH', '/api/v1/security', { http: 'on' })).status, 200);
      }
    });

    it('GET /tls names the certificate the TLS socket presents', async () => {
      const info = await fx.admin.request<TlsInfo>('GET', '/api/v1/tls');
      assert.equal(info.status, 200);
      assert.equal(info.body.source, 'self-signed');
      assert.equal(info.body.fingerprint256, await presentedFingerprint(httpsPort()));
      assert.equal(info.body.fingerprint256, new X509Certificate(fx.ca).fingerprint256);
    });

    describe('certificate upload', () => {
      let fresh: Credentials;
      let original: TlsInfo;
      const assertUnchanged = async (what: string) => {
        const info = await fx.admin.request<TlsInfo>('GET', '/api/v1/tls');
        assert.deepEqual(info.body, original, `${what}: GET /tls changed`);
        assert.equal(
          await presentedFingerprint(httpsPort()),
          original.fingerprint256,
          `${what}: served cert changed`,
        );
      };

      before(async () => {
        const now = Date.now();
        fresh = await makeCertificate(
          'metergate test upload',
          new Date(now - DAY),
          new Date(now + 365 * DAY),
        );
        original = (await fx.admin.request<TlsInfo>('GET', '/api/v1/tls')).body;
      });

      it('over plain HTTP → 403 https-required, nothing changes', async () => {
        const admin = fx.http();
        await admin.login('admin', ADMIN_PASSWORD);
        const response = await admin.request<ErrorBody>('PUT', '/api/v1/tls', {
          certificate: fresh.cert,
          privateKey: fresh.key,
        });
        assert.equal(response.status, 403, JSON.stringify(response.body));
        assert.equal(response.body.error.code, 'https-required');
        await assertUnchanged('upload over HTTP');
      });

      it('a key of another certificate → 400 key-mismatch; an expired certificate → 400 certificate-expired', async () => {
        const now = Date.now();
        const other = await makeCertificate('other', new Date(now - DAY), new Date(now + DAY));
        const expired = await makeCertificate('expired', new Date(now - 30 * DAY), new Date(now - DAY));
        const future = await makeCertificate('future', new Date(now + 10 * DAY), new Date(now + 30 * DAY));
        const cases: [string, { certificate: string; privateKey: string }, string, string, RegExp][] = [
          [
            'foreign key',
            { certificate: fresh.cert, privateKey: other.key },
            'key-mismatch',
            'privateKey',
            /does not belong/,
          ],
          [
            'expired',
            { certificate: expired.cert, privateKey: expired.key },
            'certificate-expired',
            'certificate',
            /expired/,
          ],
          [
            'not yet valid',
            { certificate: future.cert, privateKey: future.key },
            'certificate-not-yet-valid',
            'certificate',
            /not valid before/,
          ],
          [
            'garbage certificate',
            { certificate: 'not a pem', privateKey: fresh.key },
            'certificate-invalid',
            'certificate',
            /PEM/,
          ],
          [
            'garbage key',
            { certificate: fresh.cert, privateKey: 'not a pem' },
            'private-key-invalid',
            'privateKey',
            /PEM/,
          ],
        ];
        for (const [what, body, code, field, message] of cases) {
          const response = await fx.admin.request<ErrorBody>('PUT', '/api/v1/tls', body);
          assert.equal(response.status, 400, `${what}: ${JSON.stringify(response.body)}`);
          assert.equal(response.body.error.code, code, what);
          assert.equal(response.body.error.field, field, what);
          assert.match(response.body.error.message, message, what);
          await assertUnchanged(what);
        }
      });

      it('a valid P-256 certificate → 200, and new connections present it', async () => {
        const response = await fx.admin.request<TlsInfo>('PUT', '/api/v1/tls', {
          certificate: fresh.cert,
          privateKey: fresh.key,
        });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        assert.equal(response.body.source, 'uploaded');
        assert.equal(response.body.fingerprint256, fresh.fingerprint256);
        assert.notEqual(fresh.fingerprint256, original.fingerprint256);
        assert.equal(await presentedFingerprint(httpsPort()), fresh.fingerprint256);
        // A client that trusts only the old certificate no longer connects; one trusting the new one does.
        await assert.rejects(fx.https().request('GET', '/api/v1/info'), (error: NodeJS.ErrnoException) =>
          /CERT|certificate/i.test(`${error.code} ${error.message}`),
        );
        const admin = new DeviceClient(fx.httpsUrl, { ca: fresh.cert });
        await admin.login('admin', ADMIN_PASSWORD);
        const info = await admin.request<TlsInfo>('GET', '/api/v1/tls');
        assert.equal(info.body.fingerprint256, fresh.fingerprint256);
        assert.match(info.body.subject, /metergate test upload/);
        assert.equal(readFileSync(join(fx.dataDir, 'tls', 'cert.pem'), 'utf8'), fresh.cert);
      });

      it('the uploaded certificate survives a device restart', async () => {
        assert.equal((await fx.device.stop()).code, 0);
        restarted = await startDevice(['--data-dir', fx.dataDir]);
        const port = restarted.ready.https as number;
        assert.equal(await presentedFingerprint(port), fresh.fingerprint256);
        const admin = new DeviceClient(`https://127.0.0.1:${port}`, { ca: fresh.cert });
        await admin.login('admin', ADMIN_PASSWORD);
        const info = await admin.request<TlsInfo>('GET', '/api/v1/tls');
        assert.equal(info.status, 200);
        assert.equal(info.body.source, 'uploaded');
        assert.equal(info.body.fingerprint256, fresh.fingerprint256);
      });
    });
  });
});
