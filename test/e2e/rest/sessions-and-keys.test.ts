/**
 * Sessions and API keys over the real device (DESIGN §2, §5): the session cookie's name and attributes
 * on HTTPS and HTTP, logout, sessions ended by a password change, a permission change or deletion of
 * the slot; CSRF and cross-origin refusal of state changes; API keys of each preset, shown once, never
 * listed, revoked at once, HTTPS-only until allowed; and a factory-default admin session that may do
 * nothing but set a new password, walked over every declared route.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiResponse, DeviceClient, type MeBody } from '../../../firmware/client/device-client.ts';
import { PERMISSIONS } from '../../../firmware/core/permission-table.ts';
import type { ApiDeps } from '../../../firmware/http/api-deps.ts';
import { createApiApp } from '../../../firmware/http/create-api-app.ts';
import { type RunningDevice, startDevice } from '../../support/device-process.ts';
import {
  ADMIN_PASSWORD,
  type RestFixture,
  type SlotView,
  startRestFixture,
} from '../../support/rest-fixture.ts';

/** A session as a browser holds it: the cookie pair, its Set-Cookie line and the CSRF token. */
interface RawSession {
  readonly cookie: string;
  readonly setCookie: string;
  readonly csrf: string;
  readonly me: MeBody;
}

/** Logs in with the protocol and keeps the cookie itself, so it can be replayed after it should be dead. */
async function rawLogin(client: DeviceClient, username: string, password: string): Promise<RawSession> {
  const proof = await client.prove('login', username, password);
  const response = await client.request<MeBody>('POST', '/api/v1/auth/login', { username, ...proof });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const setCookie = response.headers['set-cookie']?.find((c) => /mg_session=/.test(c));
  assert.ok(setCookie, 'login sets the session cookie');
  assert.ok(response.body.csrfToken, 'login returns the CSRF token');
  return {
    cookie: setCookie.split(';')[0] as string,
    setCookie,
    csrf: response.body.csrfToken,
    me: response.body,
  };
}

/** Cookie attributes, lower-cased, without the name=value pair. */
function cookieAttributes(setCookie: string): string[] {
  return setCookie
    .split(';')
    .slice(1)
    .map((a) => a.trim().toLowerCase());
}

function assertError(response: ApiResponse, status: number, code: string, permission?: string): void {
  const error = (response.body as { error?: { code?: string; permission?: string } }).error;
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(error?.code, code, JSON.stringify(response.body));
  if (permission !== undefined) assert.equal(error?.permission, permission);
}

const isOk = (response: ApiResponse) => response.status >= 200 && response.status < 300;

describe('sessions and API keys', () => {
  let fixture: RestFixture;
  let admin: DeviceClient;

  /** A request carrying a replayed session cookie (and its CSRF token unless left out). */
  const asSession = (
    base: 'https' | 'http',
    session: RawSession,
    method: string,
    path: string,
    options: { body?: unknown; csrf?: string | null; headers?: Record<string, string> } = {},
  ) => {
    const client = base === 'https' ? fixture.https() : fixture.http();
    const csrf = options.csrf === undefined ? session.csrf : options.csrf;
    return client.request(method, path, options.body, {
      cookie: session.cookie,
      ...(csrf === null ? {} : { 'x-csrf-token': csrf }),
      ...options.headers,
    });
  };
  const adminGet = async <T>(path: string): Promise<T> => {
    const response = await admin.request<T>('GET', path);
    assert.equal(response.status, 200, `GET ${path}: ${JSON.stringify(response.body)}`);
    return response.body;
  };
  const slots = async () => (await adminGet<{ slots: SlotView[] }>('/api/v1/users')).slots;
  const resetAt = async () => (await adminGet<{ resetAt: string | null }>('/api/v1/meters')).resetAt;
  const vtRatio = async () =>
    (await adminGet<{ measurement: { vtRatio: number } }>('/api/v1/config')).measurement.vtRatio;
  const meOf = async (base: 'https' | 'http', session: RawSession) =>
    (await asSession(base, session, 'GET', '/api/v1/me')).body as MeBody;

  before(async () => {
    fixture = await startRestFixture();
    admin = fixture.admin;
  });
  after(async () => {
    await fixture?.close();
  });

  describe('session cookies', () => {
    it('HTTPS login sets __Host-mg_session with HttpOnly, Secure, SameSite=Strict, Path=/', async () => {
      const session = await rawLogin(fixture.https(), 'admin', ADMIN_PASSWORD);
      assert.match(session.cookie, /^__Host-mg_session=[A-Za-z0-9_-]{43}$/);
      const attributes = cookieAttributes(session.setCookie);
      for (const expected of ['httponly', 'secure', 'samesite=strict', 'path=/']) {
        assert.ok(attributes.includes(expected), `${expected} in ${session.setCookie}`);
      }
      assert.ok(!attributes.some((a) => a.startsWith('domain=')), '__Host- cookies carry no Domain');

      const me = await meOf('https', session);
      assert.equal(me.kind, 'session');
      assert.equal(me.name, 'admin');
      assert.equal(me.csrfToken, session.csrf);
      assert.equal((await asSession('https', session, 'GET', '/api/v1/users')).status, 200);
      // The HTTPS cookie name is not accepted over plain HTTP.
      assert.equal((await meOf('http', session)).kind, 'anonymous');
    });

    it('plain-HTTP login sets mg_session without Secure', async () => {
      const session = await rawLogin(fixture.http(), 'admin', ADMIN_PASSWORD);
      assert.match(session.cookie, /^mg_session=[A-Za-z0-9_-]{43}$/);
      const attributes = cookieAttributes(session.setCookie);
      for (const expected of ['httponly', 'samesite=strict', 'path=/']) {
        assert.ok(attributes.includes(expected), `${expected} in ${session.setCookie}`);
      }
      assert.ok(!attributes.includes('secure'), 'no Secure on plain HTTP');
      const me = await meOf('http', session);
      assert.equal(me.kind, 'session');
      assert.equal(me.name, 'admin');
    });

    it('logout ends the session: the same cookie is anonymous afterwards', async () => {
      const session = await rawLogin(fixture.https(), 'admin', ADMIN_PASSWORD);
      assert.equal((await asSession('https', session, 'GET', '/api/v1/users')).status, 200);
      const logout = await asSession('https', session, 'POST', '/api/v1/auth/logout');
      assert.equal(logout.status, 204);
      const cleared = logout.headers['set-cookie']?.find((c) => c.startsWith('__Host-mg_session='));
      assert.match(cleared ?? '', /max-age=0/i, 'the cookie is cleared');

      assert.equal((await meOf('https', session)).kind, 'anonymous');
      assertError(await asSession('https', session, 'GET', '/api/v1/users'), 401, 'authentication-required');
      assertError(
        await asSession('https', session, 'POST', '/api/v1/auth/logout'),
        401,
        'authentication-required',
      );
      assert.equal((await admin.request('GET', '/api/v1/users')).status, 200, 'other sessions live on');
    });
  });

  describe("changes to a user end that user's sessions", () => {
    const name = 'monteur_7';
    const firstPassword = 'Netzwerk-Techniker 9';
    const secondPassword = 'Messstelle Nord 42';
    /** The user's own, after the one the admin set (which must be changed at the next login). */
    const ownPassword = 'Umspannwerk Süd 17';
    let slot: number;

    before(async () => {
      const created = await admin.request('POST', '/api/v1/users', {
        type: 'user',
        name,
        password: await admin.seal(name, firstPassword),
        permissions: ['measurements.read', 'config.read'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      slot = (created.body as { slot: number }).slot;
    });

    it('a password change by admin', async () => {
      const session = await rawLogin(fixture.https(), name, firstPassword);
      const live = await asSession('https', session, 'GET', '/api/v1/config');
      assert.equal(live.status, 200);
      assert.equal(live.headers['x-session'], undefined, 'a live session is not said to have ended');
      const changed = await admin.request('PATCH', `/api/v1/users/${slot}`, {
        password: await admin.seal(name, secondPassword),
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));

      const refused = await asSession('https', session, 'GET', '/api/v1/config');
      assertError(refused, 401, 'authentication-required');
      assert.equal(refused.headers['x-session'], 'ended', 'the answer says the session ended');
      // Also on an answer anonymous may have: the client learns it from whatever it asks next.
      const allowed = await asSession('https', session, 'GET', '/api/v1/measurements');
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers['x-session'], 'ended');
      assert.equal((await meOf('https', session)).kind, 'anonymous');
      await assert.rejects(fixture.https().login(name, firstPassword), {
        status: 401,
        code: 'invalid-credentials',
      });
      const again = await rawLogin(fixture.https(), name, secondPassword);
      assert.equal(again.me.mustChangePassword, true, 'a password set by the admin must be changed');
      assertError(await asSession('https', again, 'GET', '/api/v1/config'), 403, 'password-change-required');
      const own = fixture.https();
      await own.login(name, secondPassword);
      await own.changeOwnPassword(name, secondPassword, ownPassword);
      assert.equal((await own.request('GET', '/api/v1/config')).status, 200);
      assert.equal((await admin.request('GET', '/api/v1/users')).status, 200, "the admin's session lives on");
    });

    it('a permission change', async () => {
      const session = await rawLogin(fixture.https(), name, ownPassword);
      assert.equal((await asSession('https', session, 'GET', '/api/v1/config')).status, 200);
      const changed = await admin.request('PATCH', `/api/v1/users/${slot}`, {
        permissions: ['measurements.read', 'meters.read', 'config.read'],
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));

      assertError(await asSession('https', session, 'GET', '/api/v1/config'), 401, 'authentication-required');
      assert.equal((await meOf('https', session)).kind, 'anonymous');
      const again = await rawLogin(fixture.https(), name, ownPassword);
      assert.deepEqual(again.me.permissions, ['measurements.read', 'meters.read', 'config.read']);
    });

    it('deleting the slot', async () => {
      const session = await rawLogin(fixture.https(), name, ownPassword);
      assert.equal((await asSession('https', session, 'GET', '/api/v1/config')).status, 200);
      const deleted = await admin.request('DELETE', `/api/v1/users/${slot}`);
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));

      assertError(await asSession('https', session, 'GET', '/api/v1/config'), 401, 'authentication-required');
      assert.equal((await meOf('https', session)).kind, 'anonymous');
      assert.equal((await slots())[slot]?.type, 'empty');
      await assert.rejects(fixture.https().login(name, ownPassword), {
        status: 401,
        code: 'invalid-credentials',
      });
    });
  });

  describe('CSRF and cross-origin state changes', () => {
    let session: RawSession;
    let origin: string;

    before(async () => {
      session = await rawLogin(fixture.https(), 'admin', ADMIN_PASSWORD);
      origin = fixture.httpsUrl;
    });

    const reset = (options: { csrf?: string | null; headers?: Record<string, string> }) =>
      asSession('https', session, 'POST', '/api/v1/meters/reset', options);

    it('refuses a POST without the token, or with a wrong one (403 csrf), changing nothing', async () => {
      assert.equal(await resetAt(), null, 'meters never reset yet');
      assertError(await reset({ csrf: null }), 403, 'csrf');
      assertError(await reset({ csrf: `${session.csrf.slice(0, -2)}AA` }), 403, 'csrf');
      assertError(await reset({ csrf: null, headers: { origin } }), 403, 'csrf');
      assert.equal(await resetAt(), null, 'meters not reset');
    });

    it('refuses a foreign Origin or Sec-Fetch-Site: cross-site even with the token (403 cross-origin)', async () => {
      assertError(await reset({ headers: { origin: 'http://evil.example' } }), 403, 'cross-origin');
      assertError(
        await reset({ headers: { origin: `http://${origin.slice('https://'.length)}` } }),
        403,
        'cross-origin',
      );
      assertError(await reset({ headers: { 'sec-fetch-site': 'cross-site' } }), 403, 'cross-origin');
      assertError(await reset({ headers: { 'sec-fetch-site': 'cross-site', origin } }), 403, 'cross-origin');
      assert.equal(await resetAt(), null, 'meters not reset');
    });

    it('accepts the right token from the same origin', async () => {
      const response = await reset({ headers: { origin, 'sec-fetch-site': 'same-origin' } });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(typeof (await resetAt()), 'string', 'meters reset');
    });
  });

  describe('API keys', () => {
    const keys: Record<string, { slot: number; key: string }> = {};
    const withKey = (preset: string, base: 'https' | 'http' = 'https') => {
      const key = keys[preset]?.key;
      assert.ok(key, `a ${preset} key was created`);
      return base === 'https' ? fixture.https({ apiKey: key }) : fixture.http({ apiKey: key });
    };

    before(async () => {
      for (const preset of ['read-only', 'all-except-security', 'all']) {
        const created = await admin.request<{ slot: number; key: string }>('POST', '/api/v1/users', {
          type: 'api-key',
          name: `key_${preset.replaceAll('-', '_')}`,
          preset,
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.match(created.body.key, /^mgk_[A-Za-z0-9_-]{43}$/);
        keys[preset] = created.body;
      }
    });

    it('read-only reads measurements, meters and config; resets and config changes are 403', async () => {
      const client = withKey('read-only');
      for (const path of ['/api/v1/measurements', '/api/v1/meters', '/api/v1/config']) {
        assert.equal((await client.request('GET', path)).status, 200, path);
      }
      const [resetBefore, ratioBefore] = [await resetAt(), await vtRatio()];
      assertError(
        await client.request('POST', '/api/v1/meters/reset'),
        403,
        'permission-denied',
        'meters.reset',
      );
      assertError(
        await client.request('PATCH', '/api/v1/config', { measurement: { vtRatio: ratioBefore + 1 } }),
        403,
        'permission-denied',
        'config.write',
      );
      assert.equal(await resetAt(), resetBefore, 'meters not reset');
      assert.equal(await vtRatio(), ratioBefore, 'config unchanged');
    });

    it('all-except-security resets meters and changes config, but sees no security resource', async () => {
      const client = withKey('all-except-security');
      const [resetBefore, ratioBefore] = [await resetAt(), await vtRatio()];
      assert.equal((await client.request('POST', '/api/v1/meters/reset')).status, 200);
      const patched = await client.request('PATCH', '/api/v1/config', {
        measurement: { vtRatio: ratioBefore + 1 },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.notEqual(await resetAt(), resetBefore, 'meters reset');
      assert.equal(await vtRatio(), ratioBefore + 1, 'config changed');
      await client.request('PATCH', '/api/v1/config', { measurement: { vtRatio: ratioBefore } });

      for (const [path, permission] of [
        ['/api/v1/users', 'security.read'],
        ['/api/v1/security', 'security.read'],
        ['/api/v1/tls', 'security.read'],
        ['/api/v1/audit', 'audit.read'],
      ] as const) {
        assertError(await client.request('GET', path), 403, 'permission-denied', permission);
      }
      const before = await slots();
      assertError(
        await client.request('POST', '/api/v1/users', { type: 'api-key', name: 'sneaky', preset: 'all' }),
        403,
        'permission-denied',
        'security.write',
      );
      assert.deepEqual(await slots(), before, 'no entry added');
    });

    it('all reads the user table', async () => {
      const response = await withKey('all').request<{ slots: SlotView[] }>('GET', '/api/v1/users');
      assert.equal(response.status, 200);
      assert.equal(response.body.slots[keys.all?.slot ?? -1]?.name, 'key_all');
    });

    it('the key is shown once: the user table shows neither it nor its hash', async () => {
      const listed = await slots();
      const text = JSON.stringify(listed);
      for (const { slot, key } of Object.values(keys)) {
        const hash = createHash('sha256').update(key).digest();
        for (const secret of [
          key,
          key.slice('mgk_'.length),
          hash.toString('hex'),
          hash.toString('base64'),
          hash.toString('base64url'),
        ]) {
          assert.ok(!text.includes(secret), 'no key or hash in GET users');
        }
        assert.deepEqual(Object.keys(listed[slot] ?? {}).sort(), [
          'epoch',
          'flags',
          'name',
          'permissions',
          'slot',
          'type',
        ]);
        assert.equal(listed[slot]?.type, 'api-key');
      }
      assert.ok(listed[keys['read-only']?.slot ?? -1]?.flags.includes('preset:read-only'));
    });

    it('over plain HTTP a key is 401 https-required until the security settings allow it', async () => {
      assertError(await withKey('all', 'http').request('GET', '/api/v1/meters'), 401, 'https-required');
      const allowed = await admin.request('PATCH', '/api/v1/security', { apiKeysOverHttp: true });
      assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
      assert.equal((allowed.body as { apiKeysOverHttp: boolean }).apiKeysOverHttp, true);
      assert.equal((await withKey('all', 'http').request('GET', '/api/v1/meters')).status, 200);
      assert.equal((await withKey('all', 'http').request('GET', '/api/v1/users')).status, 200);

      const refused = await admin.request('PATCH', '/api/v1/security', { apiKeysOverHttp: false });
      assert.equal(refused.status, 200, JSON.stringify(refused.body));
      assertError(await withKey('all', 'http').request('GET', '/api/v1/meters'), 401, 'https-required');
    });

    it('revoking the slot makes the key 401 invalid-api-key at once', async () => {
      const revoked = keys['read-only'];
      assert.ok(revoked);
      const client = withKey('read-only');
      assert.equal((await client.request('GET', '/api/v1/meters')).status, 200);
      const deleted = await admin.request('DELETE', `/api/v1/users/${revoked.slot}`);
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assertError(await client.request('GET', '/api/v1/meters'), 401, 'invalid-api-key');
      assert.equal((await slots())[revoked.slot]?.type, 'empty');
      assert.equal(
        (await withKey('all').request('GET', '/api/v1/meters')).status,
        200,
        'other keys still work',
      );
    });
  });
});

describe('factory-default password session', () => {
  /** Routes a must-change-password session may still use (DESIGN §2, ETSI EN 303 645 5.1-1). */
  const ALLOWED = new Set([
    'GET /api/v1/info',
    'GET /api/v1/permissions',
    'GET /api/v1/openapi.json',
    'POST /api/v1/auth/challenge',
    'POST /api/v1/auth/login',
    'POST /api/v1/auth/logout',
    'GET /api/v1/me',
    'POST /api/v1/me/password',
    // The applications' side of the client registry: public, whoever asks.
    'POST /api/v1/registry/requests',
    'GET /api/v1/registry/requests/{id}',
  ]);
  const NEW_PASSWORD = 'Ablesung 4711!';
  let dataDir: string;
  let device: RunningDevice;
  let https: () => DeviceClient;
  let fingerprint: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'metergate-default-'));
    device = await startDevice(['--data-dir', dataDir]);
    const ca = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');
    fingerprint = new X509Certificate(ca).fingerprint256;
    https = () => new DeviceClient(`https://127.0.0.1:${device.ready.https}`, { ca });
  });
  after(async () => {
    await device?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('may do nothing but set a new password; then the new session uses the API', async () => {
    // The declarations as the firmware makes them: building the app wires handlers and touches no service.
    const { declarations } = createApiApp({} as ApiDeps);
    const key = (d: { method: string; path: string }) => `${d.method} ${d.path}`;
    assert.deepEqual(
      [...ALLOWED].filter((a) => !declarations.some((d) => key(d) === a)),
      [],
      'every exempt route is declared',
    );

    const client = https();
    const me = await client.login('admin', 'CBM_1234');
    assert.equal(me.mustChangePassword, true);
    const other = await rawLogin(https(), 'admin', 'CBM_1234');

    const refused = declarations.filter((d) => !ALLOWED.has(key(d)));
    assert.ok(refused.length > 0);
    for (const route of refused) {
      const path = route.path.replace(/\{[^}]+\}/g, '3');
      const response = await client.request(route.method, path, route.method === 'GET' ? undefined : {});
      const error = (response.body as { error?: { code?: string; permission?: string } }).error;
      assert.equal(response.status, 403, `${key(route)}: ${JSON.stringify(response.body)}`);
      assert.equal(error?.code, 'password-change-required', key(route));
      if (PERMISSIONS.some((p) => p.name === route.requires)) assert.equal(error?.permission, route.requires);
    }
    const stillMe = await client.request<MeBody>('GET', '/api/v1/me');
    assert.equal(stillMe.body.mustChangePassword, true);

    const changed = await client.changeOwnPassword('admin', 'CBM_1234', NEW_PASSWORD);
    assert.equal(changed.mustChangePassword, false);
    assert.equal(changed.kind, 'session');

    // The new session works, and finds that none of the refused requests changed anything.
    const users = await client.request<{ slots: SlotView[] }>('GET', '/api/v1/users');
    assert.equal(users.status, 200, JSON.stringify(users.body));
    assert.deepEqual(
      users.body.slots.map((s) => s.type),
      ['user', 'standard', 'standard', 'empty', 'empty', 'empty', 'empty', 'empty'],
    );
    assert.deepEqual(users.body.slots[0]?.flags, [], 'must-change-password is cleared');
    const meters = await client.request<{ resetAt: string | null }>('GET', '/api/v1/meters');
    assert.equal(meters.body.resetAt, null);
    const config = await client.request<{ measurement: { vtRatio: number } }>('GET', '/api/v1/config');
    assert.equal(config.body.measurement.vtRatio, 1);
    const security = await client.request<{ passwordMinLength: number; apiKeysOverHttp: boolean }>(
      'GET',
      '/api/v1/security',
    );
    assert.equal(security.body.passwordMinLength, 8);
    assert.equal(security.body.apiKeysOverHttp, false);
    const tls = await client.request<{ fingerprint256: string }>('GET', '/api/v1/tls');
    assert.equal(tls.body.fingerprint256, fingerprint);
    const reset = await client.request('POST', '/api/v1/meters/reset');
    assert.ok(isOk(reset), JSON.stringify(reset.body));

    // The change ended the other default-password session, and the default password is gone.
    assert.equal(
      (await https().request<MeBody>('GET', '/api/v1/me', undefined, { cookie: other.cookie })).body.kind,
      'anonymous',
    );
    await assert.rejects(https().login('admin', 'CBM_1234'), { status: 401, code: 'invalid-credentials' });
  });
});
