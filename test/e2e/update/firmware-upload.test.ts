/**
 * POST and GET /api/v1/firmware against the device process, started as the launcher starts it
 * (--firmware-dir, --update-spool) over a temp A/B layout: only a `service` user over HTTPS may upload;
 * bundles the launcher would refuse are refused at upload with the same code and nothing is kept; an
 * accepted bundle waits in the spool, shows as pending, is logged, and the device exits 75 so the unit
 * restarts into the launcher's install (test/e2e/update/launcher-install.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';
import { fakeBundle, type Layout, newLayout, STRANGER_KEY } from '../../support/update-fixture.ts';

describe('REST /api/v1/firmware', () => {
  let layout: Layout;
  let fixture: RestFixture;

  before(async () => {
    layout = newLayout();
    fixture = await startRestFixture(['--firmware-dir', layout.firmware, '--update-spool', layout.spool]);
  });
  after(async () => {
    await fixture.close();
    rmSync(layout.root, { recursive: true, force: true });
  });

  const spool = () => (existsSync(layout.spool) ? readdirSync(layout.spool) : []);

  it('reports the running version of the layout', async () => {
    const response = await fixture.admin.request<{
      managed: boolean;
      running: { version: string; slot: string };
    }>('GET', '/api/v1/firmware');
    assert.equal(response.status, 200);
    assert.equal(response.body.managed, true);
    assert.deepEqual(response.body.running, { slot: 'a', version: '1.0.0', signed: false });
  });

  it('refuses an upload without `service`, without credentials, and over plain HTTP', async () => {
    const bundle = fakeBundle('1.1.0');
    const anonymous = await fixture.https().request('POST', '/api/v1/firmware', bundle);
    assert.equal(anonymous.status, 401);
    const created = await fixture.admin.request<{ key: string }>('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'reader',
      preset: 'read-only',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const reader = await fixture
      .https({ apiKey: created.body.key })
      .request('POST', '/api/v1/firmware', bundle);
    assert.equal(reader.status, 403);
    assert.equal((reader.body as { error: { permission: string } }).error.permission, 'service');
    const plain = fixture.http();
    await plain.login('admin', ADMIN_PASSWORD);
    const overHttp = await plain.request('POST', '/api/v1/firmware', bundle);
    assert.equal(overHttp.status, 403);
    assert.equal((overHttp.body as { error: { code: string } }).error.code, 'https-required');
    assert.deepEqual(spool(), [], 'nothing kept');
  });

  it('refuses foreign-key, tampered, downgrade, wrong-target and truncated bundles with their code, keeping nothing', async () => {
    const good = Buffer.from(fakeBundle('1.1.0'));
    const tampered = Buffer.from(good);
    tampered[tampered.length - 5] = (tampered[tampered.length - 5] as number) ^ 0x40;
    const cases: [string, Uint8Array][] = [
      ['bundle.unknown-key', fakeBundle('1.1.0', { key: STRANGER_KEY.secretKey })],
      ['bundle.wrong-hash', tampered],
      ['bundle.downgrade', fakeBundle('0.9.0')],
      [
        'bundle.wrong-target',
        fakeBundle('1.1.0', { target: process.arch === 'arm64' ? 'linux-x64' : 'linux-arm64' }),
      ],
      ['bundle.truncated', good.subarray(0, good.length - 1)],
      ['bundle.malformed', Buffer.from('{"this is": "json, not a bundle"}')],
    ];
    for (const [code, bundle] of cases) {
      const response = await fixture.admin.request('POST', '/api/v1/firmware', bundle);
      assert.equal(response.status, 400, `${code}: ${JSON.stringify(response.body)}`);
      assert.equal((response.body as { error: { code: string } }).error.code, code);
      assert.deepEqual(spool(), [], `${code}: nothing kept`);
    }
    const audit = await fixture.admin.request<{
      events: { type: string; result: string; detail?: string }[];
    }>('GET', '/api/v1/audit?limit=50');
    const uploads = audit.body.events.filter((e) => e.type === 'firmware.upload');
    assert.ok(
      uploads.some((e) => e.result === 'failed' && e.detail === 'bundle.unknown-key'),
      JSON.stringify(uploads),
    );
  });

  it('refuses a body above the limit by its Content-Length, before reading it', async () => {
    const cookieClient = fixture.admin as unknown as { cookie: string; csrfToken: string };
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        `${fixture.httpsUrl}/api/v1/firmware`,
        {
          method: 'POST',
          ca: fixture.ca,
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(200 * 1024 * 1024),
            cookie: cookieClient.cookie,
            'x-csrf-token': cookieClient.csrfToken,
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.write(Buffer.alloc(16));
    });
    assert.equal(status, 413);
  });

  it('keeps an accepted bundle for the launcher; restart=later leaves the device running', async () => {
    const response = await fixture.admin.request(
      'POST',
      '/api/v1/firmware?restart=later',
      fakeBundle('1.1.0'),
    );
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.deepEqual(response.body, { version: '1.1.0', target: `linux-${process.arch}`, restart: false });
    assert.deepEqual(spool(), ['pending.mgb']);
    const status = await fixture.admin.request<{ pending: boolean }>('GET', '/api/v1/firmware');
    assert.equal(status.body.pending, true);
  });

  it('restarts (exit 75) after an accepted upload, so the launcher installs it', async () => {
    // The device process is unref'd: a timer keeps this test waiting for its exit (bounded).
    const keepAlive = setTimeout(() => {}, 20_000);
    const exited = new Promise<number | null>((resolve) =>
      fixture.device.process.once('exit', (code) => resolve(code)),
    );
    const response = await fixture.admin.request('POST', '/api/v1/firmware', fakeBundle('1.2.0'));
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.equal((response.body as { restart: boolean }).restart, true);
    assert.equal(await exited, 75);
    clearTimeout(keepAlive);
    assert.deepEqual(spool(), ['pending.mgb']);
  });
});
