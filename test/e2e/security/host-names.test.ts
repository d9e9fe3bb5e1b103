/**
 * The device's names over HTTP and HTTPS (docs/security.md, attack 1): which Host values it answers,
 * the 421 every other name gets on the API and the website alike, administrator-configured host names,
 * and Origin checked against the names rather than against Host.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { ApiResponse, DeviceClient } from '../../../firmware/client/device-client.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

let fx: RestFixture;
let port: number;
before(async () => {
  fx = await startRestFixture();
  port = fx.device.ready.http as number;
});
after(() => fx.close());

const code = (response: ApiResponse) => (response.body as { error?: { code?: string } }).error?.code;

function withHost(client: DeviceClient, host: string, method = 'GET', path = '/api/v1/info', body?: unknown) {
  return client.request(method, path, body, { host });
}

/** An HTTP/1.0 request without a Host header, which node's client always adds otherwise. */
function withoutHost(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/api/v1/info', setHost: false, agent: false },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('Host', () => {
  it('answers its IP literal (with or without port), localhost and its own host name, in any case', async () => {
    for (const host of [
      '127.0.0.1',
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      'LocalHost.',
      `localhost:${port + 1}`,
    ]) {
      const response = await withHost(fx.http(), host);
      assert.equal(response.status, 200, `${host}: ${JSON.stringify(response.body)}`);
    }
  });

  it('refuses every other name with 421 unknown-host, on the API and the website, over HTTP and HTTPS', async () => {
    for (const client of [fx.http(), fx.https({ fingerprint: new X509Certificate(fx.ca).fingerprint256 })]) {
      for (const host of [
        'attacker.example',
        `attacker.example:${port}`,
        '127.0.0.2',
        '[::1]',
        'localhost.attacker.example',
      ]) {
        for (const path of ['/api/v1/info', '/', '/api/v1/users', '/assets/x.js']) {
          const response = await withHost(client, host, 'GET', path);
          assert.equal(response.status, 421, `${host} ${path}`);
          assert.equal(code(response), 'unknown-host', `${host} ${path}`);
        }
      }
    }
    // Node's HTTP server itself refuses an HTTP/1.1 request without Host (400) before the app sees it.
    assert.equal(await withoutHost(), 400, 'a request without Host');
  });

  it('answers a host name once an administrator configured it, and the change cannot cut off the one making it', async () => {
    const name = 'Meter-17.plant.example';
    assert.equal((await withHost(fx.http(), name)).status, 421);
    const set = await fx.admin.request<{ hostnames: string[] }>('PATCH', '/api/v1/security', {
      hostnames: [name],
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body.hostnames, [name]);
    assert.equal((await withHost(fx.http(), 'meter-17.plant.example.')).status, 200);
    const pinned = fx.https({ fingerprint: new X509Certificate(fx.ca).fingerprint256 });
    assert.equal((await withHost(pinned, `${name}:443`)).status, 200);

    const byName = fx.http();
    await byName.login('admin', ADMIN_PASSWORD);
    const removeOwn = await byName.request('PATCH', '/api/v1/security', { hostnames: [] }, { host: name });
    assert.equal(removeOwn.status, 409);
    assert.equal(code(removeOwn), 'hostnames-exclude-you');
    assert.equal((await withHost(fx.http(), name)).status, 200, 'nothing was changed');

    const bad = await fx.admin.request('PATCH', '/api/v1/security', {
      hostnames: ['ok.example', 'bad name'],
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { field: string } }).error.field, 'hostnames[1]');

    assert.equal((await fx.admin.request('PATCH', '/api/v1/security', { hostnames: [] })).status, 200);
    assert.equal((await withHost(fx.http(), name)).status, 421);
  });
});

describe('Origin of a state change', () => {
  const challenge = (origin: string, host = `127.0.0.1:${port}`) =>
    fx.http().request('POST', '/api/v1/auth/challenge', { username: 'admin' }, { origin, host });

  it('is accepted from the device own names on this scheme and port', async () => {
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      assert.equal((await challenge(origin)).status, 200, origin);
    }
  });

  it('is refused from another name even when Host says the same name, another port or scheme', async () => {
    const cases: [string, string][] = [
      [`http://attacker.example:${port}`, `127.0.0.1:${port}`],
      [`http://127.0.0.1:${port + 1}`, `127.0.0.1:${port}`],
      [`https://127.0.0.1:${port}`, `127.0.0.1:${port}`],
      ['null', `127.0.0.1:${port}`],
    ];
    for (const [origin, host] of cases) {
      const response = await challenge(origin, host);
      assert.equal(response.status, 403, origin);
      assert.equal(code(response), 'cross-origin', origin);
    }
  });
});
