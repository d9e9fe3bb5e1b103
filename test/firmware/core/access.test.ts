/**
 * The one access decision (firmware/core/access.ts): every interface, every permission, the
 * must-change and local-only rules and their order, an actor that is no entry (slot null), and the
 * typed errors the services throw from it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AccessActor,
  allows,
  authorize,
  authorizeRights,
  decide,
  type InterfaceName,
} from '../../../firmware/core/access.ts';
import { isCoreError } from '../../../firmware/core/core-error.ts';
import { ALL_PERMISSIONS, PERMISSIONS, permissionBit } from '../../../firmware/core/permission-table.ts';

const INTERFACES: readonly InterfaceName[] = [
  'http',
  'https',
  'modbus-tcp',
  'modbus-tls',
  'modbus-rtu',
  'display',
  'cli',
  'system',
];
const NETWORK = INTERFACES.filter((via) => via !== 'display');

const actor = (overrides: Partial<AccessActor> = {}): AccessActor => ({
  slot: 3,
  permissions: ALL_PERMISSIONS,
  mustChangePassword: false,
  localOnly: false,
  ...overrides,
});

describe('decide', () => {
  it('allows exactly the permissions held, on every interface', () => {
    for (const held of PERMISSIONS) {
      const who = actor({ permissions: held.bit });
      for (const via of INTERFACES) {
        for (const p of PERMISSIONS) {
          const decision = decide(who, p.name, via);
          if ((held.bit & p.bit) === p.bit) assert.deepEqual(decision, { allowed: true }, `${p.name} ${via}`);
          else
            assert.deepEqual(decision, {
              allowed: false,
              code: 'permission-denied',
              message: `permission '${p.name}' is required`,
              permission: p.name,
            });
        }
      }
    }
  });

  it('a local-only actor acts at the display only, whatever it holds and whatever is asked', () => {
    const local = actor({ localOnly: true });
    for (const via of NETWORK) {
      for (const need of [...PERMISSIONS.map((p) => p.name), 'act', 'own-password', 'public'] as const) {
        const decision = decide(local, need, via);
        assert.equal(decision.allowed, false, `${need} through ${via}`);
        assert.equal(!decision.allowed && decision.code, 'local-only');
        assert.match(!decision.allowed ? decision.message : '', new RegExp(via));
      }
    }
    for (const p of PERMISSIONS) assert.ok(allows(local, p.name, 'display'), p.name);
  });

  it('the local-only rule comes first: a local-only must-change actor off the display is local-only', () => {
    const decision = decide(
      actor({ localOnly: true, mustChangePassword: true }),
      'meters.read',
      'modbus-tcp',
    );
    assert.equal(!decision.allowed && decision.code, 'local-only');
  });

  it('a must-change actor may set its own password and read public registers, nothing else', () => {
    const forced = actor({ mustChangePassword: true });
    for (const via of INTERFACES) {
      assert.ok(allows(forced, 'own-password', via));
      assert.ok(allows(forced, 'public', via));
      const act = decide(forced, 'act', via);
      assert.equal(!act.allowed && act.code, 'password-change-required');
      assert.equal(!act.allowed && act.permission, undefined);
      for (const p of PERMISSIONS) {
        const decision = decide(forced, p.name, via);
        assert.equal(!decision.allowed && decision.code, 'password-change-required');
        assert.equal(!decision.allowed && decision.permission, p.name);
      }
    }
  });

  it('needs no slot: a role-template actor (slot null) is decided by its set alone', () => {
    const role = actor({ slot: null, permissions: permissionBit('meters.read') });
    assert.ok(allows(role, 'meters.read', 'modbus-tls'));
    assert.equal(allows(role, 'meters.reset', 'modbus-tls'), false);
    assert.ok(allows(role, 'act', 'modbus-tls'));
  });
});

describe('authorize', () => {
  it('throws the refusal as a CoreError with its code and permission', () => {
    assert.doesNotThrow(() => authorize(actor(), 'security.write', 'https'));
    assert.throws(
      () => authorize(actor({ permissions: 0 }), 'audit.read', 'https'),
      (error: unknown) =>
        isCoreError(error, 'permission-denied') && error.details.permission === 'audit.read',
    );
    assert.throws(
      () => authorize(actor({ localOnly: true }), 'measurements.read', 'modbus-rtu'),
      (error: unknown) => isCoreError(error, 'local-only'),
    );
  });

  it('authorizeRights applies the password and permission rules without the interface', () => {
    assert.doesNotThrow(() => authorizeRights(actor({ localOnly: true }), 'security.write'));
    assert.throws(
      () => authorizeRights(actor({ mustChangePassword: true }), 'security.write'),
      (error: unknown) => isCoreError(error, 'password-change-required'),
    );
    assert.doesNotThrow(() => authorizeRights(actor({ mustChangePassword: true }), 'own-password'));
  });
});
