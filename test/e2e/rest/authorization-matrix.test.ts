/**
 * The REST authorization matrix, generated from the route declarations (DESIGN §3): every registered
 * route under /api/ is declared and every declaration registered, the OpenAPI document publishes each
 * declaration as `x-requires`; then, for every permission some route requires, a user holding
 * everything but that permission is refused each such route (403 naming it, nothing changed) and a
 * user holding just that permission (and, for a route that hands out rights, those: SAMPLE_GRANTS,
 * since an actor grants only what it holds) is served (2xx, the change made); and without credentials every
 * route needing a permission `anonymous` lacks answers 401, the rest 200, and user-session routes
 * refuse API keys. A route without a declaration or without a sample request below fails this file.
 */

import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bootDevice } from '../../../firmware/boot/boot-device.ts';
import { type ApiResponse, DeviceClient } from '../../../firmware/client/device-client.ts';
import { PERMISSIONS, type PermissionName } from '../../../firmware/core/permission-table.ts';
import { DEFAULT_SCREEN_SIZE } from '../../../firmware/display/screen-renderer.ts';
import type { RouteDeclaration } from '../../../firmware/http/api-builder.ts';
import { OPENAPI_PATH } from '../../../firmware/http/create-api-app.ts';
import { generateSelfSignedCertificate } from '../../../firmware/tls/self-signed-certificate.ts';
import { SIM_ADAPTERS } from '../../../sim/sim-adapters.ts';
import { REPO_ROOT } from '../../support/device-process.ts';
import { makeCrl } from '../../support/openssl-ca.ts';
import {
  ADMIN_PASSWORD,
  type RestFixture,
  type SlotView,
  startRestFixture,
} from '../../support/rest-fixture.ts';
import { fakeBundle, newLayout } from '../../support/update-fixture.ts';

/** The launcher's layout the matrix device is started over, for the firmware routes. */
const updateLayout = newLayout();
after(() => rmSync(updateLayout.root, { recursive: true, force: true }));

const USER_NAME = 'matrix_user';
const USER_PASSWORD = 'Ablesung 4711!';
const PERMISSION_NAMES: readonly string[] = PERMISSIONS.map((p) => p.name);
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);

/** A certificate the device does not have yet, for the upload sample (its key is ours). */
interface FreshCertificate {
  readonly certificate: string;
  readonly privateKey: string;
  readonly fingerprint256: string;
}

interface SampleEnv {
  /** Logged in as admin; trusts the device's first and the uploaded certificate. */
  readonly admin: DeviceClient;
  readonly freshCertificate: FreshCertificate;
  /** A CA certificate for the Modbus/TCP Security client CA upload. */
  readonly freshCa: FreshCertificate;
  /** Another CA and a CRL it issued, for the CRL upload. */
  readonly crlCa: FreshCertificate;
  readonly crl: string;
  /** The device's current HTTPS certificate, read from its data dir (after a reset no client trusts it). */
  readonly deviceCertificate: () => string;
  /** A new client trusting only the certificate with this SHA-256 fingerprint. */
  readonly pinned: (fingerprint: string) => DeviceClient;
  /** The sequence number of the committed security record, read from the flash image (copy A). */
  readonly flashSequence: () => number;
}

/** One concrete request of a declared route, and how to see what it changes. */
interface PreparedRequest {
  readonly path: string;
  readonly body?: unknown;
  /** Reads (as admin) the state the request would change; compared before and after the call. */
  readonly observe?: () => Promise<unknown>;
  /** After a successful call: asserts the change is there. */
  readonly verifyChange?: (before: unknown, after: unknown, response: ApiResponse) => void;
  /** Undoes the request and its preparation (as admin), whatever the outcome. */
  readonly cleanup?: () => Promise<void>;
  /** What an anonymous caller gets from a public route (default: 200). */
  readonly anonymous?: { readonly status: number; readonly code?: string };
}

type Sample = (env: SampleEnv) => Promise<PreparedRequest>;

const MATRIX_PASSPHRASE = 'authorization matrix backup';
const b64url = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64url');

/**
 * A valid, harmless request for every declared route, keyed `METHOD path` as declared. A declared
 * route missing here fails the first test: a new route must bring its sample.
 */
const SAMPLE_REQUESTS: Record<string, Sample> = {
  'GET /api/v1/info': async () => ({ path: '/api/v1/info' }),
  'GET /api/v1/permissions': async () => ({ path: '/api/v1/permissions' }),
  'GET /api/v1/openapi.json': async () => ({ path: OPENAPI_PATH }),
  'GET /api/v1/me': async () => ({ path: '/api/v1/me' }),
  'POST /api/v1/auth/challenge': async () => ({
    path: '/api/v1/auth/challenge',
    body: { username: 'admin' },
  }),
  // A well-formed proof over a nonce never issued: the route answers, the login fails.
  'POST /api/v1/auth/login': async () => ({
    path: '/api/v1/auth/login',
    body: { username: 'matrix_nobody', nonce: b64url(32), signature: b64url(64) },
    anonymous: { status: 401, code: 'challenge-expired' },
  }),
  'POST /api/v1/auth/logout': async () => ({ path: '/api/v1/auth/logout' }),
  'POST /api/v1/me/password': async () => ({
    path: '/api/v1/me/password',
    body: {
      nonce: b64url(32),
      signature: b64url(64),
      newPassword: { epk: b64url(32), nonce: b64url(24), box: b64url(80) },
    },
  }),
  'GET /api/v1/measurements': async () => ({ path: '/api/v1/measurements' }),
  'GET /api/v1/measurements/history': async () => ({ path: '/api/v1/measurements/history?resolution=1min' }),
  'GET /api/v1/meters': async () => ({ path: '/api/v1/meters' }),
  'POST /api/v1/meters/reset': async ({ admin }) => ({
    path: '/api/v1/meters/reset',
    observe: async () => (await get<{ resetAt: string | null }>(admin, '/api/v1/meters')).resetAt,
    verifyChange: (before, after) => {
      assert.equal(typeof after, 'string', 'the meters carry a reset time');
      assert.notEqual(after, before);
    },
  }),
  'GET /api/v1/minmax': async () => ({ path: '/api/v1/minmax' }),
  'POST /api/v1/minmax/reset': async ({ admin }) => ({
    path: '/api/v1/minmax/reset',
    observe: async () => (await get<{ since: string }>(admin, '/api/v1/minmax')).since,
    verifyChange: (before, after) => assert.notEqual(after, before, 'min/max start again'),
  }),
  'GET /api/v1/config': async () => ({ path: '/api/v1/config' }),
  'GET /api/v1/status': async () => ({ path: '/api/v1/status' }),
  'PATCH /api/v1/config': async ({ admin }) => {
    const vtRatio = async () =>
      (await get<{ measurement: { vtRatio: number } }>(admin, '/api/v1/config')).measurement.vtRatio;
    const original = await vtRatio();
    const next = original === 1 ? 2 : 1;
    return {
      path: '/api/v1/config',
      body: { measurement: { vtRatio: next } },
      observe: vtRatio,
      verifyChange: (_before, after) => assert.equal(after, next),
      cleanup: async () => {
        await send(admin, 'PATCH', '/api/v1/config', { measurement: { vtRatio: original } }, 200);
      },
    };
  },
  'GET /api/v1/users': async () => ({ path: '/api/v1/users' }),
  // Users without permissions: an actor grants only what it holds, and changes only entries it outranks.
  'POST /api/v1/users': async ({ admin }) => ({
    path: '/api/v1/users',
    body: {
      type: 'user',
      name: 'matrix_created',
      password: await admin.seal('matrix_created', USER_PASSWORD),
      permissions: [],
    },
    observe: () => slotNames(admin),
    verifyChange: (before, after, response) => {
      const created = response.body as { slot: number };
      assert.ok(!(before as (string | null)[]).includes('matrix_created'));
      assert.equal((after as (string | null)[])[created.slot], 'matrix_created');
    },
    cleanup: () => deleteNamed(admin, 'matrix_created'),
  }),
  'PATCH /api/v1/users/{slot}': async ({ admin }) => {
    const slot = await createBareUser(admin, 'matrix_patch');
    return {
      path: `/api/v1/users/${slot}`,
      body: { name: 'matrix_patched' },
      observe: async () => (await slotNames(admin))[slot],
      verifyChange: (before, after) => {
        assert.equal(before, 'matrix_patch');
        assert.equal(after, 'matrix_patched');
      },
      cleanup: () => deleteSlot(admin, slot),
    };
  },
  'DELETE /api/v1/users/{slot}': async ({ admin }) => {
    const slot = await createBareUser(admin, 'matrix_doomed');
    return {
      path: `/api/v1/users/${slot}`,
      observe: async () => (await slots(admin))[slot]?.type,
      verifyChange: (before, after) => {
        assert.equal(before, 'user');
        assert.equal(after, 'empty');
      },
      cleanup: () => deleteSlot(admin, slot),
    };
  },
  'GET /api/v1/security': async () => ({ path: '/api/v1/security' }),
  'PATCH /api/v1/security': async ({ admin }) => {
    const minLength = async () =>
      (await get<{ passwordMinLength: number }>(admin, '/api/v1/security')).passwordMinLength;
    const original = await minLength();
    const next = original === 12 ? 13 : 12;
    return {
      path: '/api/v1/security',
      body: { passwordMinLength: next },
      observe: minLength,
      verifyChange: (_before, after) => assert.equal(after, next),
      cleanup: async () => {
        await send(admin, 'PATCH', '/api/v1/security', { passwordMinLength: original }, 200);
      },
    };
  },
  'GET /api/v1/audit': async () => ({ path: '/api/v1/audit?limit=5' }),
  'GET /api/v1/sessions': async () => ({ path: '/api/v1/sessions' }),
  'DELETE /api/v1/sessions': async () => ({
    path: '/api/v1/sessions?id=no-such-session',
    anonymous: { status: 401 },
  }),
  'GET /api/v1/users/{slot}/sessions': async () => ({ path: '/api/v1/users/2/sessions' }),
  'DELETE /api/v1/users/{slot}/sessions': async ({ admin }) => {
    const slot = await createBareUser(admin, 'matrix_sessions');
    return { path: `/api/v1/users/${slot}/sessions`, cleanup: () => deleteSlot(admin, slot) };
  },
  'GET /api/v1/firmware': async () => ({ path: '/api/v1/firmware' }),
  // The installed version again (a reinstall is allowed), kept for the next start: no restart.
  'POST /api/v1/firmware': async ({ admin }) => ({
    path: '/api/v1/firmware?restart=later',
    body: fakeBundle('1.0.0'),
    observe: async () => (await get<{ pending: boolean }>(admin, '/api/v1/firmware')).pending,
    verifyChange: (before, after) => {
      assert.equal(before, false);
      assert.equal(after, true);
    },
    cleanup: async () => rmSync(join(updateLayout.spool, 'pending.mgb'), { force: true }),
  }),
  'GET /api/v1/tls': async () => ({ path: '/api/v1/tls' }),
  // The device's own key is not to be had, so a certificate made here replaces it; clients trust both.
  'PUT /api/v1/tls': async ({ admin, freshCertificate }) => ({
    path: '/api/v1/tls',
    body: { certificate: freshCertificate.certificate, privateKey: freshCertificate.privateKey },
    observe: async () => (await get<{ fingerprint256: string }>(admin, '/api/v1/tls')).fingerprint256,
    verifyChange: (before, after) => {
      assert.notEqual(before, freshCertificate.fingerprint256);
      assert.equal(after, freshCertificate.fingerprint256);
    },
  }),
  // A reset gives the device a key nobody knows yet: the cleanup pins the new certificate by its
  // fingerprint and puts back the one the matrix clients trust.
  'DELETE /api/v1/tls': async ({ admin: trusting, freshCertificate, deviceCertificate, pinned }) => {
    const initial = new X509Certificate(deviceCertificate()).fingerprint256;
    return {
      path: '/api/v1/tls',
      observe: async () => new X509Certificate(deviceCertificate()).fingerprint256,
      verifyChange: (before, after, response) => {
        assert.notEqual(after, before);
        assert.equal((response.body as { fingerprint256: string }).fingerprint256, after);
      },
      cleanup: async () => {
        const current = new X509Certificate(deviceCertificate()).fingerprint256;
        if (current === initial) return;
        const admin = pinned(current);
        await admin.login('admin', ADMIN_PASSWORD);
        await send(
          admin,
          'PUT',
          '/api/v1/tls',
          { certificate: freshCertificate.certificate, privateKey: freshCertificate.privateKey },
          200,
        );
        // No logout: that client trusts only the certificate just replaced. The listener serves the
        // uploaded one before the answer (setSecureContext in the change signal), so the matrix
        // clients trust the device again at once.
        await trusting.request('GET', '/api/v1/info');
      },
    };
  },
  'POST /api/v1/backup': async () => ({ path: '/api/v1/backup', body: { passphrase: MATRIX_PASSPHRASE } }),
  // A restore of the table as it is: every session ends, so the cleanup logs the admin in again.
  'POST /api/v1/restore': async ({ admin, flashSequence }) => {
    const made = await send(admin, 'POST', '/api/v1/backup', { passphrase: MATRIX_PASSPHRASE }, 200);
    return {
      path: '/api/v1/restore',
      body: { passphrase: MATRIX_PASSPHRASE, backup: (made.body as { backup: string }).backup },
      observe: async () => flashSequence(),
      verifyChange: (before, after) => assert.ok((after as number) > (before as number)),
      cleanup: async () => {
        await admin.login('admin', ADMIN_PASSWORD);
      },
    };
  },
  'GET /api/v1/registry': async () => ({ path: '/api/v1/registry' }),
  'POST /api/v1/registry/open': async ({ admin }) => ({
    path: '/api/v1/registry/open',
    observe: () => registryOpen(admin),
    verifyChange: (before, after) => {
      assert.equal(before, false);
      assert.equal(after, true);
    },
    cleanup: () => closeRegistry(admin),
  }),
  'POST /api/v1/registry/close': async ({ admin }) => {
    await send(admin, 'POST', '/api/v1/registry/open', undefined, 200);
    return {
      path: '/api/v1/registry/close',
      observe: () => registryOpen(admin),
      verifyChange: (before, after) => {
        assert.equal(before, true);
        assert.equal(after, false);
      },
      cleanup: () => closeRegistry(admin),
    };
  },
  'POST /api/v1/registry/requests': async ({ admin }) => {
    await send(admin, 'POST', '/api/v1/registry/open', undefined, 200);
    return {
      path: '/api/v1/registry/requests',
      body: registryRequestBody(),
      anonymous: { status: 202 },
      cleanup: () => closeRegistry(admin),
    };
  },
  'GET /api/v1/registry/requests/{id}': async ({ admin }) => {
    const id = await pendingRequest(admin);
    return {
      path: `/api/v1/registry/requests/${id}`,
      anonymous: { status: 202 },
      cleanup: () => closeRegistry(admin),
    };
  },
  'POST /api/v1/registry/requests/{id}/allow': async ({ admin }) => {
    const id = await pendingRequest(admin, 'matrix_allowed');
    return {
      path: `/api/v1/registry/requests/${id}/allow`,
      body: { preset: 'read-only' },
      observe: () => slotNames(admin),
      verifyChange: (before, after) => {
        assert.ok(!(before as (string | null)[]).includes('matrix_allowed'));
        assert.ok((after as (string | null)[]).includes('matrix_allowed'));
      },
      cleanup: async () => {
        await deleteNamed(admin, 'matrix_allowed');
        await closeRegistry(admin);
      },
    };
  },
  'POST /api/v1/registry/requests/{id}/deny': async ({ admin }) => {
    const id = await pendingRequest(admin);
    return {
      path: `/api/v1/registry/requests/${id}/deny`,
      observe: async () =>
        (await get<{ pending: { id: string }[] }>(admin, '/api/v1/registry')).pending.some(
          (r) => r.id === id,
        ),
      verifyChange: (before, after) => {
        assert.equal(before, true);
        assert.equal(after, false);
      },
      cleanup: () => closeRegistry(admin),
    };
  },
  'GET /api/v1/modbus/ca': async () => ({ path: '/api/v1/modbus/ca' }),
  'GET /api/v1/modbus/crl': async () => ({ path: '/api/v1/modbus/crl' }),
  // The CRL's own CA first (which drops any CRL); uploading that CA again afterwards drops this one.
  'PUT /api/v1/modbus/crl': async ({ admin, crlCa, crl }) => {
    await send(admin, 'PUT', '/api/v1/modbus/ca', { ca: crlCa.certificate }, 200);
    return {
      path: '/api/v1/modbus/crl',
      body: { crl },
      observe: async () =>
        (await get<{ crl: { thisUpdate: string } | null }>(admin, '/api/v1/modbus/crl')).crl,
      verifyChange: (before, after) => {
        assert.equal(before, null);
        assert.notEqual(after, null);
      },
      cleanup: async () => {
        await send(admin, 'PUT', '/api/v1/modbus/ca', { ca: crlCa.certificate }, 200);
      },
    };
  },
  'PUT /api/v1/modbus/ca': async ({ admin, freshCa }) => ({
    path: '/api/v1/modbus/ca',
    body: { ca: freshCa.certificate },
    observe: async () =>
      (await get<{ ca: { fingerprint256: string } | null }>(admin, '/api/v1/modbus/ca')).ca?.fingerprint256,
    verifyChange: (before, after) => {
      assert.notEqual(before, freshCa.fingerprint256);
      assert.equal(after, freshCa.fingerprint256);
    },
  }),
};

async function get<T>(client: DeviceClient, path: string): Promise<T> {
  const response = await client.request<T>('GET', path);
  assert.equal(response.status, 200, `GET ${path}: ${JSON.stringify(response.body)}`);
  return response.body;
}

async function send(
  client: DeviceClient,
  method: string,
  path: string,
  body: unknown,
  status: number,
): Promise<ApiResponse> {
  const response = await client.request(method, path, body);
  assert.equal(response.status, status, `${method} ${path}: ${JSON.stringify(response.body)}`);
  return response;
}

async function slots(admin: DeviceClient): Promise<SlotView[]> {
  return (await get<{ slots: SlotView[] }>(admin, '/api/v1/users')).slots;
}

async function slotNames(admin: DeviceClient): Promise<(string | null)[]> {
  return (await slots(admin)).map((s) => s.name);
}

/** A user holding no permission: any security.write actor outranks it. */
async function createBareUser(admin: DeviceClient, name: string): Promise<number> {
  const response = await send(
    admin,
    'POST',
    '/api/v1/users',
    { type: 'user', name, password: await admin.seal(name, USER_PASSWORD), permissions: [] },
    201,
  );
  return (response.body as { slot: number }).slot;
}

/**
 * Permissions a route's sample hands out besides the one the route requires: an actor grants only
 * what it holds, so the user "holding just the route's permission" holds these too for that route.
 * (Every API-key preset holds something; the registry's allow creates a `read-only` key.)
 */
const EVERY_OTHER_THAN_SECURITY_WRITE = PERMISSIONS.map((p) => p.name).filter((p) => p !== 'security.write');

const SAMPLE_GRANTS: Record<string, readonly PermissionName[]> = {
  // Backup and restore touch every entry: the actor must hold every permission any entry holds.
  'POST /api/v1/backup': EVERY_OTHER_THAN_SECURITY_WRITE,
  'POST /api/v1/restore': EVERY_OTHER_THAN_SECURITY_WRITE,
  'POST /api/v1/registry/requests/{id}/allow': ['measurements.read', 'meters.read', 'config.read'],
};

async function deleteSlot(admin: DeviceClient, slot: number): Promise<void> {
  if ((await slots(admin))[slot]?.type !== 'empty')
    await send(admin, 'DELETE', `/api/v1/users/${slot}`, undefined, 200);
}

async function deleteNamed(admin: DeviceClient, name: string): Promise<void> {
  const slot = (await slotNames(admin)).indexOf(name);
  if (slot >= 0) await send(admin, 'DELETE', `/api/v1/users/${slot}`, undefined, 200);
}

let registryRequests = 0;

/** A registry request of a new application (a fresh key pair's public half). */
function registryRequestBody(name = `matrix_app${++registryRequests}`) {
  return { name, publicKey: randomBytes(32).toString('base64url') };
}

async function registryOpen(admin: DeviceClient): Promise<boolean> {
  return (await get<{ open: boolean }>(admin, '/api/v1/registry')).open;
}

async function closeRegistry(admin: DeviceClient): Promise<void> {
  await send(admin, 'POST', '/api/v1/registry/close', undefined, 200);
}

/** Opens the registry and files a request; returns its id. */
async function pendingRequest(admin: DeviceClient, name?: string): Promise<string> {
  await send(admin, 'POST', '/api/v1/registry/open', undefined, 200);
  const response = await send(admin, 'POST', '/api/v1/registry/requests', registryRequestBody(name), 202);
  return (response.body as { id: string }).id;
}

const routeKey = (d: { method: string; path: string }) => `${d.method} ${d.path}`;

function isPermission(requires: string): requires is PermissionName {
  return PERMISSION_NAMES.includes(requires);
}

function sampleFor(declaration: RouteDeclaration): Sample {
  const sample = SAMPLE_REQUESTS[routeKey(declaration)];
  if (!sample) assert.fail(`no sample request for ${routeKey(declaration)}: add one to SAMPLE_REQUESTS`);
  return sample;
}

/** A self-signed certificate for 127.0.0.1 (or a CA), made as the device makes its own. */
async function makeCertificate(options: { ca?: boolean } = {}): Promise<FreshCertificate> {
  const now = Date.now();
  const made = await generateSelfSignedCertificate({
    subject: 'CN=metergate matrix test, O=metergate',
    ipAddresses: ['127.0.0.1'],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 24 * 3600_000),
    ca: options.ca,
  });
  return { certificate: made.cert, privateKey: made.key, fingerprint256: made.fingerprint256 };
}

function assertError(response: ApiResponse, status: number, code: string, context: string): void {
  const body = response.body as { error?: { code?: string; permission?: string } };
  assert.equal(response.status, status, `${context}: ${JSON.stringify(response.body)}`);
  assert.equal(body.error?.code, code, context);
  assert.deepEqual(Object.keys(body), ['error'], `${context}: an error carries nothing else`);
}

/** Prepares the sample, calls it, and checks status, body and the state it would change. */
async function exercise(
  env: SampleEnv,
  client: DeviceClient,
  declaration: RouteDeclaration,
  expect: (response: ApiResponse, context: string) => void,
  changes: boolean,
): Promise<ApiResponse> {
  const prepared = await sampleFor(declaration)(env);
  const context = `${routeKey(declaration)} (requires ${declaration.requires})`;
  try {
    const before = await prepared.observe?.();
    const response = await client.request(declaration.method, prepared.path, prepared.body);
    expect(response, context);
    if (prepared.observe) {
      const after = await prepared.observe();
      if (changes) prepared.verifyChange?.(before, after, response);
      else assert.deepEqual(after, before, `${context}: a refused request changed nothing`);
    }
    return response;
  } finally {
    await prepared.cleanup?.();
  }
}

describe('REST authorization matrix', () => {
  let root: string;
  let declared: readonly RouteDeclaration[] = [];
  let registered: readonly string[] = [];
  let fixture: RestFixture;
  let trust: string;
  let env: SampleEnv;
  let anonymousPermissions: string[];
  let userSlot: number;

  const https = (options: { apiKey?: string } = {}) => fixture.https({ ca: trust, ...options });
  const requiring = (permission: string) => declared.filter((d) => d.requires === permission);
  const setUserPermissions = (permissions: readonly string[]) =>
    send(env.admin, 'PATCH', `/api/v1/users/${userSlot}`, { permissions }, 200);

  const crlCleanups: (() => void | Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of crlCleanups) await cleanup();
  });

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'metergate-matrix-'));
    const device = await bootDevice(
      {
        dataDir: join(root, 'in-process'),
        host: '127.0.0.1',
        httpPort: 0,
        httpsPort: 0,
        modbusPort: null,
        modbusTlsPort: null,
        rtu: null,
        display: 'none',
        displaySize: DEFAULT_SCREEN_SIZE,
        sim: true,
        webDir: join(REPO_ROOT, 'dist', 'web'),
        simPowercutAfterBytes: null,
      },
      { ...SIM_ADAPTERS, log: () => {}, now: Date.now },
    );
    try {
      assert.ok(device.routes, 'a normal boot exposes its routes');
      declared = device.routes.declared;
      registered = device.routes.registered;
    } finally {
      await device.stop();
    }

    const [started, freshCertificate, freshCa, crlCa] = await Promise.all([
      startRestFixture(['--firmware-dir', updateLayout.firmware, '--update-spool', updateLayout.spool]),
      makeCertificate(),
      makeCertificate({ ca: true }),
      makeCertificate({ ca: true }),
    ]);
    const crl = makeCrl({ after: (fn) => void crlCleanups.push(fn) }, crlCa.certificate, crlCa.privateKey);
    fixture = started;
    trust = `${fixture.ca}\n${freshCertificate.certificate}`;
    const admin = https();
    await admin.login('admin', ADMIN_PASSWORD);
    env = {
      admin,
      freshCertificate,
      freshCa,
      crlCa,
      crl,
      deviceCertificate: () => readFileSync(join(fixture.dataDir, 'tls', 'cert.pem'), 'utf8'),
      pinned: (fingerprint) => new DeviceClient(fixture.httpsUrl, { fingerprint }),
      flashSequence: () => readFileSync(join(fixture.dataDir, 'flash.img')).readUInt32BE(8),
    };
    anonymousPermissions = (await slots(admin))[2]?.permissions ?? [];
    const created = await send(
      admin,
      'POST',
      '/api/v1/users',
      {
        type: 'user',
        name: USER_NAME,
        password: await admin.seal(USER_NAME, USER_PASSWORD),
        permissions: [],
      },
      201,
    );
    userSlot = (created.body as { slot: number }).slot;
  });

  after(async () => {
    await fixture?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  describe('declarations', () => {
    it('every registered /api/ route is declared, and every declaration is registered', () => {
      assert.ok(declared.length > 0);
      const routes = new Set(
        registered
          .map((r) => r.replace(/\/:([A-Za-z0-9_]+)/g, '/{$1}'))
          .filter((r) => r.split(' ')[1]?.startsWith('/api/')),
      );
      const declarations = new Set(declared.map(routeKey));
      assert.equal(declarations.size, declared.length, 'no route is declared twice');
      assert.deepEqual(
        [...routes].filter((r) => !declarations.has(r)),
        [],
        'registered without a declaration',
      );
      assert.deepEqual(
        [...declarations].filter((d) => !routes.has(d)),
        [],
        'declared but not registered',
      );
      for (const d of declared) {
        assert.ok(
          ['public', 'authenticated', 'user-session', 'user'].includes(d.requires) ||
            isPermission(d.requires),
          `${routeKey(d)} requires '${d.requires}', which is neither a permission nor a known requirement`,
        );
      }
    });

    it('every declared route has a sample request, and every sample a declared route', () => {
      const declarations = declared.map(routeKey).sort();
      assert.deepEqual(
        declarations.filter((d) => !(d in SAMPLE_REQUESTS)),
        [],
        'declared routes without a sample in SAMPLE_REQUESTS',
      );
      assert.deepEqual(
        Object.keys(SAMPLE_REQUESTS).filter((s) => !declarations.includes(s)),
        [],
        'samples of routes that are not declared',
      );
    });

    it("the device's OpenAPI document carries each declaration as x-requires", async () => {
      const response = await https().request<{ paths: Record<string, Record<string, unknown>> }>(
        'GET',
        OPENAPI_PATH,
      );
      assert.equal(response.status, 200);
      const operations = new Map<string, unknown>();
      for (const [path, item] of Object.entries(response.body.paths)) {
        for (const [method, operation] of Object.entries(item)) {
          if (HTTP_METHODS.has(method)) {
            operations.set(
              `${method.toUpperCase()} ${path}`,
              (operation as Record<string, unknown>)['x-requires'],
            );
          }
        }
      }
      const documented = declared.filter((d) => d.path !== OPENAPI_PATH);
      assert.deepEqual(
        [...operations.keys()].sort(),
        documented.map(routeKey).sort(),
        'the document lists exactly the declared routes',
      );
      for (const d of documented)
        assert.equal(operations.get(routeKey(d)), d.requires, `x-requires of ${routeKey(d)}`);
    });
  });

  /** Permissions that no REST route needs (yet). */
  const NOT_ON_REST: readonly string[] = [];

  describe('each permission, from its declarations', () => {
    for (const { name: permission } of PERMISSIONS) {
      it(`'${permission}': refused without it (403 naming it), served with only it`, async (t) => {
        const routes = requiring(permission);
        if (routes.length === 0) {
          // A permission no REST route needs must be listed in NOT_ON_REST: fail if one loses its
          // routes unnoticed.
          assert.ok(NOT_ON_REST.includes(permission), `no REST route requires '${permission}'`);
          t.diagnostic(`no REST route requires '${permission}' (expected)`);
          return;
        }
        // security.write implies security.read: a set without security.read lacks both.
        const lacking = permission === 'security.read' ? ['security.read', 'security.write'] : [permission];
        await setUserPermissions(PERMISSION_NAMES.filter((p) => !lacking.includes(p)));
        const without = https();
        const me = await without.login(USER_NAME, USER_PASSWORD);
        assert.ok(!me.permissions.includes(permission));
        for (const route of routes) {
          await exercise(
            env,
            without,
            route,
            (response, context) => {
              assertError(response, 403, 'permission-denied', context);
              assert.equal(
                (response.body as { error: { permission?: string } }).error.permission,
                permission,
              );
            },
            false,
          );
        }

        // A route the old session may use and anonymous may not: it answers 401 once the rights change.
        const probe = declared.find(
          (d) =>
            d.method === 'GET' &&
            isPermission(d.requires) &&
            !lacking.includes(d.requires) &&
            !anonymousPermissions.includes(d.requires),
        );
        assert.ok(probe, 'some GET route needs a permission anonymous lacks');
        const probePath = (await sampleFor(probe)(env)).path;
        assert.equal((await without.request('GET', probePath)).status, 200, `${probePath} before the change`);

        await setUserPermissions([permission]);
        assertError(await without.request('GET', probePath), 401, 'authentication-required', 'old session');
        assert.equal((await without.request<{ kind: string }>('GET', '/api/v1/me')).body.kind, 'anonymous');

        let only = https();
        const meOnly = await only.login(USER_NAME, USER_PASSWORD);
        assert.ok(meOnly.permissions.includes(permission));
        const plain = routes.filter((route) => !(routeKey(route) in SAMPLE_GRANTS));
        const granting = routes.filter((route) => routeKey(route) in SAMPLE_GRANTS);
        for (const route of [...plain, ...granting]) {
          const grants = SAMPLE_GRANTS[routeKey(route)];
          if (grants) {
            await setUserPermissions([permission, ...grants]);
            only = https();
            await only.login(USER_NAME, USER_PASSWORD);
          }
          await exercise(
            env,
            only,
            route,
            (response, context) =>
              assert.ok(
                response.status >= 200 && response.status < 300,
                `${context}: ${response.status} ${JSON.stringify(response.body)}`,
              ),
            true,
          );
        }
      });
    }
  });

  describe('without credentials', () => {
    it('routes needing a permission anonymous lacks answer 401, the others 200', async () => {
      const anonymous = https();
      const guarded = declared.filter((d) => isPermission(d.requires));
      assert.ok(guarded.some((d) => anonymousPermissions.includes(d.requires)));
      assert.ok(guarded.some((d) => !anonymousPermissions.includes(d.requires)));
      for (const route of guarded) {
        if (anonymousPermissions.includes(route.requires)) {
          await exercise(
            env,
            anonymous,
            route,
            (response, context) =>
              assert.equal(response.status, 200, `${context}: ${JSON.stringify(response.body)}`),
            true,
          );
        } else {
          await exercise(
            env,
            anonymous,
            route,
            (response, context) => {
              assertError(response, 401, 'authentication-required', context);
              assert.equal(
                (response.body as { error: { permission?: string } }).error.permission,
                route.requires,
              );
            },
            false,
          );
        }
      }
    });

    it('public routes answer anyone', async () => {
      const anonymous = https();
      for (const route of declared.filter((d) => d.requires === 'public')) {
        const prepared = await sampleFor(route)(env);
        const expected = prepared.anonymous ?? { status: 200 };
        try {
          const response = await anonymous.request(route.method, prepared.path, prepared.body);
          const context = `${routeKey(route)}: ${JSON.stringify(response.body)}`;
          assert.equal(response.status, expected.status, context);
          if (expected.code)
            assert.equal((response.body as { error: { code: string } }).error.code, expected.code);
        } finally {
          await prepared.cleanup?.();
        }
      }
    });

    it('user-session and authenticated routes: 401 with nothing; user-session refuses an API key (403)', async () => {
      const routes = declared.filter((d) => d.requires === 'user-session' || d.requires === 'authenticated');
      assert.ok(routes.some((d) => d.requires === 'user-session'));
      const key = (
        await send(
          env.admin,
          'POST',
          '/api/v1/users',
          { type: 'api-key', name: 'matrix_key', preset: 'all' },
          201,
        )
      ).body as { slot: number; key: string };
      try {
        const anonymous = https();
        const withKey = https({ apiKey: key.key });
        for (const route of routes) {
          await exercise(
            env,
            anonymous,
            route,
            (response, context) => assertError(response, 401, 'authentication-required', context),
            false,
          );
          if (route.requires === 'user-session') {
            await exercise(
              env,
              withKey,
              route,
              (response, context) => assertError(response, 403, 'user-session-required', context),
              false,
            );
          } else {
            await exercise(
              env,
              withKey,
              route,
              (response, context) => assert.ok(response.status >= 200 && response.status < 300, context),
              true,
            );
          }
        }
      } finally {
        await deleteSlot(env.admin, key.slot);
      }
    });
  });
});
