/**
 * Trust by fingerprint in the reference client (and so the CLI's `--fingerprint`): a server whose
 * certificate has another fingerprint never receives a byte of a request (no API key, no cookie leaks
 * to a man in the middle); the right one is trusted whatever host name the certificate carries.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { ClientError, DeviceClient } from '../../../firmware/client/device-client.ts';
import {
  generateSelfSignedCertificate,
  type SelfSignedCertificate,
} from '../../../firmware/tls/self-signed-certificate.ts';

describe('DeviceClient trusting a certificate by its fingerprint', () => {
  let server: Server;
  let url: string;
  let certificate: SelfSignedCertificate;
  const requests: string[] = [];

  before(async () => {
    const now = Date.now();
    certificate = await generateSelfSignedCertificate({
      subject: 'CN=some-other-name',
      dnsNames: ['some-other-name.invalid'],
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 86_400_000),
    });
    server = createServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
      requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends nothing to a server with another certificate', async () => {
    const wrong = `${certificate.fingerprint256.slice(0, -2)}00`;
    const client = new DeviceClient(url, { fingerprint: wrong, apiKey: `mgk_${'A'.repeat(43)}` });
    await assert.rejects(
      client.request('GET', '/api/v1/measurements'),
      (error: unknown) => error instanceof ClientError && error.code === 'fingerprint-mismatch',
    );
    assert.deepEqual(requests, [], 'no request reached the server');
  });

  it('trusts the pinned certificate although it names another host, without colons in the pin too', async () => {
    const client = new DeviceClient(url, {
      fingerprint: certificate.fingerprint256.replace(/:/g, '').toLowerCase(),
    });
    const response = await client.request<{ ok: boolean }>('GET', '/api/v1/info');
    assert.equal(response.status, 200);
    assert.equal(response.body.ok, true);
    assert.deepEqual(requests, ['GET /api/v1/info ']);
  });
});
