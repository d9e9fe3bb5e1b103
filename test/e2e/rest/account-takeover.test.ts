/**
 * Nobody takes over a more privileged account (issue 14 §3). The attacker is a user holding only
 * `security.write` (an IEC 62351-8 SECADM without the operator's rights), logged in over HTTPS on the
 * real device process. It tries to grant itself every permission, to set the admin's password, to
 * make the admin local-only, to rename the admin and create its own `admin` (or `Admin`), and to
 * open the user table and the log to everyone through `anonymous`. Each is refused with a stable
 * code and changes nothing; what stays allowed (granting what it holds, managing lesser entries) is
 * shown too, and a password set for someone else must be changed at that user's next login.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ApiResponse, DeviceClient } from '../../../firmware/client/device-client.ts';
import { PERMISSIONS } from '../../../firmware/core/permission-table.ts';
import {
  ADMIN_PASSWORD,
  type RestFixture,
  type SlotView,
  startRestFixture,
} from '../../support/rest-fixture.ts';

const SECADM = 'sec_admin';
const SECADM_PASSWORD = 'Schlüsselwart 2026!';
const TAKEOVER_PASSWORD = 'Übernahme-Versuch 99';
const ALL = PERMISSIONS.map((p) => p.name);

function assertError(response: ApiResponse, status: number, code: string): void {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(
    (response.body as { error: { code: string } }).error.code,
    code,
    JSON.stringify(response.body),
  );
}

describe('a security.write user cannot climb to a more privileged account', () => {
  let fx: RestFixture;
  let attacker: DeviceClient;
  let attackerSlot: number;

  const slots = async () =>
    (await fx.admin.request<{ slots: SlotView[] }>('GET', '/api/v1/users')).body.slots;
  const addUser = (client: DeviceClient, name: string, password: string, permissions: string[]) =>
    client.seal(name, password).then((sealed) =>
      client.request<{ slot: number }>('POST', '/api/v1/users', {
        type: 'user',
        name,
        password: sealed,
        permissions,
      }),
    );

  before(async () => {
    fx = await startRestFixture();
    const created = await addUser(fx.admin, SECADM, SECADM_PASSWORD, ['security.write']);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    attackerSlot = created.body.slot;
  });
  /** Each attack starts from a fresh session of the SECADM-like user, holding security.write alone. */
  beforeEach(async () => {
    const reset = await fx.admin.request('PATCH', `/api/v1/users/${attackerSlot}`, {
      permissions: ['security.write'],
    });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    attacker = fx.https();
    const me = await attacker.login(SECADM, SECADM_PASSWORD);
    assert.deepEqual(me.permissions, ['security.read', 'security.write']);
  });
  after(async () => {
    await fx?.close();
  });

  it('cannot grant itself every permission', async () => {
    const grab = await attacker.request('PATCH', `/api/v1/users/${attackerSlot}`, { permissions: ALL });
    assertError(grab, 403, 'permission-not-held');
    assert.deepEqual((await slots())[attackerSlot]?.permissions, ['security.read', 'security.write']);
  });

  it('cannot create an entry with rights it does not hold, but may with rights it holds', async () => {
    assertError(await addUser(attacker, 'accomplice', TAKEOVER_PASSWORD, ALL), 403, 'permission-not-held');
    const key = await attacker.request('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'all_key',
      preset: 'all',
    });
    assertError(key, 403, 'permission-not-held');
    assert.ok(!(await slots()).some((s) => s.name === 'accomplice' || s.name === 'all_key'));

    const auditor = await addUser(attacker, 'sec_reader', TAKEOVER_PASSWORD, ['security.read']);
    assert.equal(auditor.status, 201, JSON.stringify(auditor.body));
    const renamed = await attacker.request('PATCH', `/api/v1/users/${auditor.body.slot}`, {
      name: 'sec_viewer',
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal((await attacker.request('DELETE', `/api/v1/users/${auditor.body.slot}`)).status, 200);
  });

  it("cannot set the admin's password", async () => {
    const sealed = await attacker.seal('admin', TAKEOVER_PASSWORD);
    assertError(
      await attacker.request('PATCH', '/api/v1/users/0', { password: sealed }),
      403,
      'entry-more-privileged',
    );
    await assert.rejects(fx.https().login('admin', TAKEOVER_PASSWORD));
    const me = await fx.https().login('admin', ADMIN_PASSWORD);
    assert.equal(me.mustChangePassword, false);
  });

  it('cannot make the admin local-only; nor can the admin itself (slot 0 keeps the network)', async () => {
    assertError(
      await attacker.request('PATCH', '/api/v1/users/0', { localOnly: true }),
      403,
      'entry-more-privileged',
    );
    assertError(
      await fx.admin.request('PATCH', '/api/v1/users/0', { localOnly: true }),
      409,
      'protected-slot',
    );
    assert.deepEqual((await slots())[0]?.flags, []);
    await fx.https().login('admin', ADMIN_PASSWORD);
  });

  it("cannot rename the admin, nor create an 'admin' in any case", async () => {
    assertError(
      await attacker.request('PATCH', '/api/v1/users/0', { name: 'old_admin' }),
      403,
      'entry-more-privileged',
    );
    assert.equal((await slots())[0]?.name, 'admin');
    for (const name of ['Admin', 'ADMIN', 'aDmIn']) {
      assertError(await addUser(attacker, name, TAKEOVER_PASSWORD, ['security.read']), 409, 'name-taken');
      assertError(await addUser(fx.admin, name, TAKEOVER_PASSWORD, []), 409, 'name-taken');
    }
    // Not even by renaming an entry it may manage.
    const own = await addUser(attacker, 'sec_helper', TAKEOVER_PASSWORD, ['security.read']);
    assert.equal(own.status, 201, JSON.stringify(own.body));
    assertError(
      await attacker.request('PATCH', `/api/v1/users/${own.body.slot}`, { name: 'Admin' }),
      409,
      'name-taken',
    );
    assert.equal((await attacker.request('DELETE', `/api/v1/users/${own.body.slot}`)).status, 200);
    assert.deepEqual(
      (await slots()).filter((s) => s.name?.toLowerCase() === 'admin').map((s) => s.slot),
      [0],
    );
  });

  it("cannot change a more privileged user's password, name, flags or rights", async () => {
    const engineer = await addUser(fx.admin, 'engineer', TAKEOVER_PASSWORD, ['config.read', 'config.write']);
    assert.equal(engineer.status, 201, JSON.stringify(engineer.body));
    const slot = engineer.body.slot;
    try {
      const sealed = await attacker.seal('engineer', 'Gekapert 12345!');
      for (const patch of [
        { password: sealed },
        { name: 'engineer2' },
        { localOnly: true },
        { permissions: [] },
      ]) {
        assertError(
          await attacker.request('PATCH', `/api/v1/users/${slot}`, patch),
          403,
          'entry-more-privileged',
        );
      }
      assertError(await attacker.request('DELETE', `/api/v1/users/${slot}`), 403, 'entry-more-privileged');
      const view = (await slots())[slot];
      assert.equal(view?.name, 'engineer');
      assert.deepEqual(view?.flags, []);
      await fx.https().login('engineer', TAKEOVER_PASSWORD);
    } finally {
      await fx.admin.request('DELETE', `/api/v1/users/${slot}`);
    }
  });

  it('a password set for someone else must be changed at their next login', async () => {
    const user = await addUser(fx.admin, 'meter_reader', TAKEOVER_PASSWORD, ['measurements.read']);
    assert.equal(user.status, 201, JSON.stringify(user.body));
    try {
      const reset = await fx.admin.request('PATCH', `/api/v1/users/${user.body.slot}`, {
        password: await fx.admin.seal('meter_reader', 'Neu gesetzt 4711!'),
      });
      assert.equal(reset.status, 200, JSON.stringify(reset.body));
      assert.ok((await slots())[user.body.slot]?.flags.includes('must-change-password'));
      const client = fx.https();
      const me = await client.login('meter_reader', 'Neu gesetzt 4711!');
      assert.equal(me.mustChangePassword, true);
      assertError(await client.request('GET', '/api/v1/measurements'), 403, 'password-change-required');
      await client.changeOwnPassword('meter_reader', 'Neu gesetzt 4711!', 'Selbst gewählt 0815!');
      assert.equal((await client.request('GET', '/api/v1/measurements')).status, 200);
    } finally {
      await fx.admin.request('DELETE', `/api/v1/users/${user.body.slot}`);
    }
  });

  it('anonymous cannot be given security.read or audit.read', async () => {
    for (const grant of ['security.read', 'audit.read']) {
      const response = await fx.admin.request('PATCH', '/api/v1/users/2', {
        permissions: ['measurements.read', grant],
      });
      assertError(response, 400, 'invalid-setting');
      assert.equal((response.body as { error: { field?: string } }).error.field, 'permissions');
    }
    assert.deepEqual((await slots())[2]?.permissions, ['measurements.read', 'meters.read']);
    assert.equal((await fx.https().request('GET', '/api/v1/users')).status, 401);
  });
});
