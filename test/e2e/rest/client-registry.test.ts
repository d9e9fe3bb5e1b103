/**
 * The client registry end to end over HTTPS with the device's own certificate, on a device booted in
 * this process with an injected clock (so the 5-minute window expires without waiting): closed → 423,
 * open → 202 with the fingerprint, allowed → 201 with a key sealed to the client that opens and works,
 * never handed over twice, denied → 403, expiry, a full table → 409, and a flood from one source →
 * 429 while another source still gets through, and one source holds at most 2 pending requests.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nacl from 'tweetnacl';
import { bootDevice, type Device } from '../../../firmware/boot/boot-device.ts';
import { parseDeviceOptions } from '../../../firmware/boot/device-options.ts';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { requestApiKey } from '../../../firmware/client/registry-client.ts';
import { SIM_ADAPTERS } from '../../../sim/sim-adapters.ts';
import { REPO_ROOT } from '../../support/device-process.ts';

const ADMIN_PASSWORD = 'Registry-Keeper-77';

interface Answer {
  state: string;
  id: string;
  fingerprint: string;
  slot?: number;
  sealedKey?: { epk: string; nonce: string; box: string };
}

describe('client registry over HTTPS', () => {
  let root: string;
  let device: Device;
  let time = Date.now();
  let httpsUrl: string;
  let ca: string;
  let admin: DeviceClient;
  const client = (source = '127.0.0.1', apiKey?: string) =>
    new DeviceClient(httpsUrl, { ca, localAddress: source, apiKey });
  const application = () => {
    const keyPair = nacl.box.keyPair();
    return { keyPair, publicKey: Buffer.from(keyPair.publicKey).toString('base64url') };
  };
  const ask = (name: string, publicKey: string, source?: string) =>
    client(source).request<Answer & { error?: { code: string } }>('POST', '/api/v1/registry/requests', {
      name,
      publicKey,
    });
  const adminCall = async <T = unknown>(method: string, path: string, body?: unknown, status = 200) => {
    const response = await admin.request<T>(method, path, body);
    assert.equal(response.status, status, `${method} ${path}: ${JSON.stringify(response.body)}`);
    return response.body;
  };

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'metergate-registry-'));
    const options = parseDeviceOptions(
      ['--data-dir', root, '--http-port', '0', '--https-port', '0', '--display', 'none', '--sim'],
      { isTTY: false, webDir: join(REPO_ROOT, 'dist', 'web') },
    );
    assert.notEqual(options, 'help');
    if (options === 'help') return;
    device = await bootDevice(options, { ...SIM_ADAPTERS, log: () => {}, now: () => time });
    httpsUrl = `https://127.0.0.1:${device.ready.https}`;
    ca = readFileSync(join(root, 'tls', 'cert.pem'), 'utf8');
    admin = client();
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
  });

  after(async () => {
    await device?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('closed by default: 423 registry-closed', async () => {
    const { publicKey } = application();
    const response = await ask('scada_closed', publicKey);
    assert.equal(response.status, 423);
    assert.equal(response.body.error?.code, 'registry-closed');
  });

  it('open: 202 pending with the fingerprint; allowed: 201 with a key sealed to the client, once', async () => {
    const window = await adminCall<{ open: boolean; remainingSeconds: number }>(
      'POST',
      '/api/v1/registry/open',
    );
    assert.equal(window.open, true);
    assert.equal(window.remainingSeconds, 300);
    const { keyPair, publicKey } = application();
    const first = await ask('scada_one', publicKey);
    assert.equal(first.status, 202);
    assert.equal(first.body.state, 'pending');
    const expected = (
      createHash('sha256').update(keyPair.publicKey).digest('hex').slice(0, 20).match(/.{4}/g) ?? []
    ).join('-');
    assert.equal(first.body.fingerprint, expected);

    const status = await adminCall<{
      pending: { id: string; name: string; source: string; fingerprint: string }[];
    }>('GET', '/api/v1/registry');
    assert.deepEqual(
      status.pending.map(({ id, name, source, fingerprint }) => ({ id, name, source, fingerprint })),
      [{ id: first.body.id, name: 'scada_one', source: '127.0.0.1', fingerprint: expected }],
    );
    const again = await ask('scada_one', publicKey);
    assert.equal(again.status, 202);
    assert.equal(again.body.id, first.body.id, 'asking again is the same request');

    const { slot } = await adminCall<{ slot: number }>(
      'POST',
      `/api/v1/registry/requests/${first.body.id}/allow`,
      { preset: 'read-only' },
    );
    const granted = await ask('scada_one', publicKey);
    assert.equal(granted.status, 201);
    assert.equal(granted.body.slot, slot);
    const sealed = granted.body.sealedKey;
    assert.ok(sealed);
    const opened = nacl.box.open(
      Buffer.from(sealed.box, 'base64url'),
      Buffer.from(sealed.nonce, 'base64url'),
      Buffer.from(sealed.epk, 'base64url'),
      keyPair.secretKey,
    );
    assert.ok(opened, 'the key opens with the client secret key');
    const key = new TextDecoder().decode(opened);
    assert.match(key, /^mgk_/);
    assert.equal(
      nacl.box.open(
        Buffer.from(sealed.box, 'base64url'),
        Buffer.from(sealed.nonce, 'base64url'),
        Buffer.from(sealed.epk, 'base64url'),
        nacl.box.keyPair().secretKey,
      ),
      null,
      'nobody else opens it',
    );

    const withKey = client('127.0.0.1', key);
    assert.equal((await withKey.request('GET', '/api/v1/measurements')).status, 200);
    const reset = await withKey.request<{ error: { code: string } }>('POST', '/api/v1/meters/reset');
    assert.equal(reset.status, 403, 'read-only preset');

    const poll = await client().request('GET', `/api/v1/registry/requests/${first.body.id}`);
    assert.equal(poll.status, 404, 'handed over once: the request is gone');
    const repeated = await ask('scada_one', publicKey);
    assert.equal(repeated.status, 202, 'asking again starts over, without a key');
    assert.equal(repeated.body.sealedKey, undefined);
    await adminCall('POST', `/api/v1/registry/requests/${repeated.body.id}/deny`);
    await adminCall('DELETE', `/api/v1/users/${slot}`);

    const log = await adminCall<{ events: { type: string; result: string }[] }>(
      'GET',
      '/api/v1/audit?type=registry&limit=50',
    );
    const types = log.events.map((e) => e.type);
    for (const type of [
      'registry.open',
      'registry.request',
      'registry.allow',
      'registry.collect',
      'registry.deny',
    ]) {
      assert.ok(types.includes(type), `${type} in the security log: ${types.join(',')}`);
    }
  });

  it('denied: 403 request-denied, also when polled by id', async () => {
    await adminCall('POST', '/api/v1/registry/open');
    const { publicKey } = application();
    const pending = await ask('scada_denied', publicKey);
    assert.equal(pending.status, 202);
    await adminCall('POST', `/api/v1/registry/requests/${pending.body.id}/deny`);
    const denied = await ask('scada_denied', publicKey);
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error?.code, 'request-denied');
    const polled = await client().request<{ error: { code: string } }>(
      'GET',
      `/api/v1/registry/requests/${pending.body.id}`,
    );
    assert.equal(polled.status, 403);
  });

  it('the window closes after 5 minutes (injected clock): pending requests are dropped, new ones get 423', async () => {
    await adminCall('POST', '/api/v1/registry/open');
    const { publicKey } = application();
    const pending = await ask('scada_late', publicKey);
    assert.equal(pending.status, 202);
    time += 5 * 60_000 - 1000;
    assert.equal((await ask('scada_late', publicKey)).status, 202);
    time += 1000;
    const late = await ask('scada_late', publicKey);
    assert.equal(late.status, 423);
    const status = await adminCall<{ open: boolean; pending: unknown[] }>('GET', '/api/v1/registry');
    assert.equal(status.open, false);
    assert.deepEqual(status.pending, []);
    const allow = await admin.request('POST', `/api/v1/registry/requests/${pending.body.id}/allow`, {
      preset: 'all',
    });
    assert.equal(allow.status, 404);
  });

  it('a full table: allow answers 409 table-full and the request stays pending', async () => {
    const filled: number[] = [];
    for (let i = 0; ; i++) {
      const response = await admin.request<{ slot: number }>('POST', '/api/v1/users', {
        type: 'api-key',
        name: `filler_${i}`,
        preset: 'read-only',
      });
      if (response.status === 409) break;
      assert.equal(response.status, 201);
      filled.push(response.body.slot);
    }
    try {
      await adminCall('POST', '/api/v1/registry/open');
      const { publicKey } = application();
      const pending = await ask('scada_full', publicKey);
      const allow = await admin.request<{ error: { code: string } }>(
        'POST',
        `/api/v1/registry/requests/${pending.body.id}/allow`,
        { preset: 'read-only' },
      );
      assert.equal(allow.status, 409);
      assert.equal(allow.body.error.code, 'table-full');
      assert.equal((await ask('scada_full', publicKey)).status, 202, 'still pending');
    } finally {
      for (const slot of filled) await adminCall('DELETE', `/api/v1/users/${slot}`);
      await adminCall('POST', '/api/v1/registry/close');
    }
  });

  it('a flood from one source is slowed down (429) while another source still gets through', async () => {
    await adminCall('POST', '/api/v1/registry/open');
    const { publicKey } = application();
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await ask('scada_flood', publicKey, '127.0.0.3')).status);
    assert.ok(statuses.includes(429), statuses.join(','));
    assert.ok(
      statuses.slice(0, 10).every((s) => s === 202),
      'the burst passes',
    );
    const limited = await ask('scada_flood', publicKey, '127.0.0.3');
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    const other = application();
    assert.equal((await ask('scada_other', other.publicKey, '127.0.0.4')).status, 202);
    time += 2000;
    assert.equal((await ask('scada_flood', publicKey, '127.0.0.3')).status, 202, 'refilled after 2 s');
    await adminCall('POST', '/api/v1/registry/close');
  });

  it('at most 8 pending requests: the 9th gets 429 registry-full', async () => {
    await adminCall('POST', '/api/v1/registry/open');
    for (let i = 0; i < 8; i++) {
      assert.equal((await ask(`scada_p${i}`, application().publicKey, `127.0.1.${i + 1}`)).status, 202);
    }
    const ninth = await ask('scada_p8', application().publicKey, '127.0.1.20');
    assert.equal(ninth.status, 429);
    assert.equal(ninth.body.error?.code, 'registry-full');
    await adminCall('POST', '/api/v1/registry/close');
  });

  it('one source cannot fill the pending requests: its 3rd gets 429 registry-source-full, another source still asks', async () => {
    await adminCall('POST', '/api/v1/registry/open');
    try {
      const statuses: number[] = [];
      let refused: Awaited<ReturnType<typeof ask>> | undefined;
      for (let i = 0; i < 8; i++) {
        const response = await ask(`scada_hog${i}`, application().publicKey, '127.0.2.1');
        statuses.push(response.status);
        if (i >= 2) refused = response;
      }
      assert.deepEqual(statuses, [202, 202, 429, 429, 429, 429, 429, 429]);
      assert.equal(refused?.body.error?.code, 'registry-source-full');
      assert.ok(Number(refused?.headers['retry-after']) >= 1);
      const pending = await adminCall<{ pending: { source: string }[] }>('GET', '/api/v1/registry');
      assert.deepEqual(
        pending.pending.map((r) => r.source),
        ['127.0.2.1', '127.0.2.1'],
      );
      assert.equal((await ask('scada_polite', application().publicKey, '127.0.2.2')).status, 202);
    } finally {
      await adminCall('POST', '/api/v1/registry/close');
    }
  });

  it('the reference client (requestApiKey) gets a working key while the admin allows it', async () => {
    await adminCall('POST', '/api/v1/registry/open');
    let seen: { id: string; fingerprint: string } | null = null;
    const registering = requestApiKey(client('127.0.0.5'), 'scada_ref', {
      pollMs: 50,
      onPending: (pending) => {
        seen = pending;
      },
    });
    while (!seen) await new Promise((resolve) => setTimeout(resolve, 20));
    const pending = seen as { id: string; fingerprint: string };
    const listed = await adminCall<{ pending: { id: string; fingerprint: string }[] }>(
      'GET',
      '/api/v1/registry',
    );
    assert.equal(listed.pending.find((r) => r.id === pending.id)?.fingerprint, pending.fingerprint);
    time += 10_000;
    await adminCall('POST', `/api/v1/registry/requests/${pending.id}/allow`, {
      preset: 'all-except-security',
    });
    const { key, slot } = await registering;
    assert.equal((await client('127.0.0.5', key).request('POST', '/api/v1/meters/reset')).status, 200);
    await adminCall('DELETE', `/api/v1/users/${slot}`);
    await adminCall('POST', '/api/v1/registry/close');
  });

  it('a request whose name is taken is allowed under another label', async () => {
    await adminCall('POST', '/api/v1/registry/open');
    const taken = await adminCall<{ slot: number }>(
      'POST',
      '/api/v1/users',
      { type: 'api-key', name: 'scada_twin', preset: 'read-only' },
      201,
    );
    const { publicKey } = application();
    const pending = await ask('scada_twin', publicKey);
    const refused = await admin.request<{ error: { code: string } }>(
      'POST',
      `/api/v1/registry/requests/${pending.body.id}/allow`,
      {
        preset: 'read-only',
      },
    );
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'name-taken');
    const { slot } = await adminCall<{ slot: number }>(
      'POST',
      `/api/v1/registry/requests/${pending.body.id}/allow`,
      {
        preset: 'read-only',
        name: 'scada_twin_2',
      },
    );
    const granted = await ask('scada_twin', publicKey);
    assert.equal(granted.status, 201);
    const slots = await adminCall<{ slots: { slot: number; name: string | null }[] }>('GET', '/api/v1/users');
    assert.equal(slots.slots[slot]?.name, 'scada_twin_2');
    await adminCall('DELETE', `/api/v1/users/${slot}`);
    await adminCall('DELETE', `/api/v1/users/${taken.slot}`);
    await adminCall('POST', '/api/v1/registry/close');
  });
});
