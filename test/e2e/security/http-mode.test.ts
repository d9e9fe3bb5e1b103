/**
 * Plain HTTP switched off (docs/security.md, attack 7): the security setting `http` (`on`, `redirect`,
 * `off`) applied live to the running device and kept across a restart, never settable from the plain
 * HTTP connection it would cut off.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, it } from 'node:test';
import type { ApiResponse } from '../../../firmware/client/device-client.ts';
import { startDevice } from '../../support/device-process.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

let fx: RestFixture;
let httpPort: number;
before(async () => {
  fx = await startRestFixture();
  httpPort = fx.device.ready.http as number;
});
after(() => fx.close());

const code = (response: ApiResponse) => (response.body as { error?: { code?: string } }).error?.code;

/** Status and Location of a plain-HTTP GET, or the connection error's code. */
function plainGet(
  path: string,
  port = httpPort,
): Promise<{ status?: number; location?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve({ status: res.statusCode, location: res.headers.location });
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code }));
    req.end();
  });
}

const setHttp = (http: string, client = fx.admin) => client.request('PATCH', '/api/v1/security', { http });

it('is on at the factory: pages and the API are served over plain HTTP', async () => {
  assert.equal((await plainGet('/')).status, 200);
  assert.equal((await plainGet('/api/v1/info')).status, 200);
  const settings = await fx.admin.request<{ http: string }>('GET', '/api/v1/security');
  assert.equal(settings.body.http, 'on');
});

it('cannot be switched away by the one connected over plain HTTP', async () => {
  const overHttp = fx.http();
  await overHttp.login('admin', ADMIN_PASSWORD);
  for (const mode of ['redirect', 'off']) {
    const response = await setHttp(mode, overHttp);
    assert.equal(response.status, 409, JSON.stringify(response.body));
    assert.equal(code(response), 'http-excludes-you');
  }
  assert.equal((await plainGet('/')).status, 200, 'nothing changed');
  const bad = await setHttp('sometimes');
  assert.equal(bad.status, 400);
  assert.equal((bad.body as { error: { field: string } }).error.field, 'http');
});

it('redirect: pages answer 308 to the same path on HTTPS, the API answers https-required', async () => {
  assert.equal((await setHttp('redirect')).status, 200);
  const httpsPort = fx.device.ready.https as number;
  for (const path of ['/', '/users?x=1']) {
    const answer = await plainGet(path);
    assert.equal(answer.status, 308, path);
    assert.equal(answer.location, `https://127.0.0.1:${httpsPort}${path}`);
  }
  for (const [method, path] of [
    ['GET', '/api/v1/info'],
    ['POST', '/api/v1/auth/challenge'],
  ] as const) {
    const response = await fx
      .http()
      .request(method, path, method === 'POST' ? { username: 'admin' } : undefined);
    assert.equal(response.status, 403, `${method} ${path}`);
    assert.equal(code(response), 'https-required');
  }
  assert.equal((await fx.https().request('GET', '/api/v1/info')).status, 200);
});

it('off: the listener is closed at once, stays closed after a restart, and opens again on its port when on', async () => {
  assert.equal((await setHttp('off')).status, 200);
  assert.equal((await plainGet('/')).error, 'ECONNREFUSED');
  assert.equal((await fx.https().request('GET', '/api/v1/info')).status, 200, 'HTTPS goes on');

  await fx.device.stop();
  const restarted = await startDevice(['--data-dir', fx.dataDir, '--http-port', String(httpPort)]);
  try {
    assert.equal(restarted.ready.http, null, 'the ready line reports HTTP off');
    assert.equal((await plainGet('/')).error, 'ECONNREFUSED');
    const { DeviceClient } = await import('../../../firmware/client/device-client.ts');
    const admin = new DeviceClient(`https://127.0.0.1:${restarted.ready.https}`, { ca: fx.ca });
    await admin.login('admin', ADMIN_PASSWORD);
    assert.equal((await setHttp('on', admin)).status, 200);
    assert.equal((await plainGet('/')).status, 200, 'open again on the same port');
  } finally {
    await restarted.stop();
  }
});
