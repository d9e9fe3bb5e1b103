/**
 * Permission table: the ten permissions of DESIGN §3 (bits, names), names ⇄ bits, the security.write ⇒
 * security.read implication, presets, role templates, hasPermission and the unknown-* errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CoreError } from '../../../firmware/core/core-error.ts';
import {
  ALL_PERMISSIONS,
  AUDIT_READ,
  CONFIG_READ,
  CONFIG_WRITE,
  hasPermission,
  isPresetName,
  MEASUREMENTS_READ,
  METERS_READ,
  METERS_RESET,
  MINMAX_RESET,
  normalizePermissions,
  PERMISSIONS,
  type PermissionName,
  PRESETS,
  permissionBit,
  permissionNames,
  permissionsFromNames,
  presetPermissions,
  ROLE_TEMPLATES,
  rolePermissions,
  SECURITY_READ,
  SECURITY_WRITE,
  SERVICE,
} from '../../../firmware/core/permission-table.ts';
import { REGISTER_MAP } from '../../../firmware/modbus/register-map.ts';

/** DESIGN §3, in table order. */
const DESIGN_NAMES = [
  'measurements.read',
  'meters.read',
  'meters.reset',
  'minmax.reset',
  'config.read',
  'config.write',
  'service',
  'security.read',
  'security.write',
  'audit.read',
] as const;

function coreError(code: string, check?: (error: CoreError) => void): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof CoreError, `expected a CoreError, got ${String(error)}`);
    assert.equal(error.code, code);
    check?.(error);
    return true;
  };
}

/** Every subset of `items` (2^n of them). */
function subsets<T>(items: readonly T[]): T[][] {
  const result: T[][] = [];
  for (let mask = 0; mask < 1 << items.length; mask++) {
    result.push(items.filter((_, index) => (mask & (1 << index)) !== 0));
  }
  return result;
}

/** Sorts names into table order, for comparing name lists. */
function inTableOrder(names: readonly string[]): string[] {
  return DESIGN_NAMES.filter((name) => names.includes(name));
}

describe('PERMISSIONS', () => {
  it('declares exactly the ten permissions of DESIGN §3', () => {
    assert.equal(PERMISSIONS.length, 10);
    assert.deepEqual(
      PERMISSIONS.map((p) => p.name),
      [...DESIGN_NAMES],
    );
  });

  it('gives each a unique single bit that fits 16 bits', () => {
    const bits = new Set<number>();
    for (const p of PERMISSIONS) {
      assert.ok(Number.isInteger(p.bit) && p.bit > 0, `${p.name}: bit ${p.bit}`);
      assert.equal(p.bit & (p.bit - 1), 0, `${p.name}: ${p.bit} is not a single bit`);
      assert.ok(p.bit <= 0xffff, `${p.name}: ${p.bit} does not fit 16 bits`);
      bits.add(p.bit);
    }
    assert.equal(bits.size, PERMISSIONS.length);
    assert.ok(ALL_PERMISSIONS <= 0xffff);
  });

  it('gives each a unique name and a description', () => {
    assert.equal(new Set(PERMISSIONS.map((p) => p.name)).size, PERMISSIONS.length);
    for (const p of PERMISSIONS) assert.ok(p.description.length > 0, p.name);
  });

  it('gives each a unique short label, and flags as writing exactly what a register write needs or is not a .read', () => {
    assert.equal(new Set(PERMISSIONS.map((p) => p.label)).size, PERMISSIONS.length);
    for (const p of PERMISSIONS) assert.ok(p.label.length > 0 && p.label.length <= 20, p.name);
    const registerWrites = new Set(REGISTER_MAP.flatMap((b) => (b.write ? [b.write] : [])));
    for (const p of PERMISSIONS) {
      if (registerWrites.has(p.name))
        assert.equal(p.writes, true, `${p.name}: a Modbus master writes with it`);
      assert.equal(p.writes, !p.name.endsWith('.read'), p.name);
    }
  });

  it('exports a constant per permission matching the table', () => {
    const constants: Record<PermissionName, number> = {
      'measurements.read': MEASUREMENTS_READ,
      'meters.read': METERS_READ,
      'meters.reset': METERS_RESET,
      'minmax.reset': MINMAX_RESET,
      'config.read': CONFIG_READ,
      'config.write': CONFIG_WRITE,
      service: SERVICE,
      'security.read': SECURITY_READ,
      'security.write': SECURITY_WRITE,
      'audit.read': AUDIT_READ,
    };
    for (const p of PERMISSIONS) {
      assert.equal(constants[p.name], p.bit, p.name);
      assert.equal(permissionBit(p.name), p.bit, p.name);
    }
  });

  it('ALL_PERMISSIONS is the union of every declared bit', () => {
    assert.equal(
      ALL_PERMISSIONS,
      PERMISSIONS.reduce((set, p) => set | p.bit, 0),
    );
    assert.deepEqual(permissionNames(ALL_PERMISSIONS), [...DESIGN_NAMES]);
  });
});

describe('names ⇄ bits', () => {
  const representativeSets: readonly (readonly PermissionName[])[] = [
    ['measurements.read', 'meters.read', 'config.read', 'audit.read'],
    ['meters.reset', 'minmax.reset', 'config.write', 'service'],
    ['security.read', 'security.write', 'audit.read', 'measurements.read'],
    ['service', 'security.write', 'config.read'],
  ];

  for (const set of representativeSets) {
    it(`round-trips every subset of [${set.join(', ')}]`, () => {
      for (const subset of subsets(set)) {
        // security.write implies security.read, so the expected names carry it too.
        const expected = subset.includes('security.write')
          ? inTableOrder([...subset, 'security.read'])
          : inTableOrder(subset);
        const bits = permissionsFromNames(subset);
        assert.deepEqual(permissionNames(bits), expected, `subset [${subset.join(', ')}]`);
        assert.equal(permissionsFromNames(permissionNames(bits)), bits);
        // Order and duplicates in the input do not matter.
        assert.equal(permissionsFromNames([...subset].reverse().concat(subset)), bits);
      }
    });
  }

  it('maps the empty list to 0 and 0 to the empty list', () => {
    assert.equal(permissionsFromNames([]), 0);
    assert.deepEqual(permissionNames(0), []);
  });

  it('lists names in table order and drops undeclared bits', () => {
    assert.deepEqual(permissionNames(AUDIT_READ | MEASUREMENTS_READ | SERVICE), [
      'measurements.read',
      'service',
      'audit.read',
    ]);
    assert.deepEqual(permissionNames(0x8000 | 0x400 | METERS_READ), ['meters.read']);
  });

  it('round-trips every single permission', () => {
    for (const p of PERMISSIONS) {
      if (p.name === 'security.write') continue;
      assert.equal(permissionsFromNames([p.name]), p.bit);
      assert.deepEqual(permissionNames(p.bit), [p.name]);
    }
  });
});

describe('security.write implies security.read', () => {
  it('permissionsFromNames adds security.read', () => {
    assert.equal(permissionsFromNames(['security.write']), SECURITY_WRITE | SECURITY_READ);
    assert.deepEqual(permissionNames(permissionsFromNames(['security.write'])), [
      'security.read',
      'security.write',
    ]);
  });

  it('normalizePermissions adds security.read and drops undeclared bits', () => {
    assert.equal(normalizePermissions(SECURITY_WRITE), SECURITY_WRITE | SECURITY_READ);
    assert.equal(
      normalizePermissions(SECURITY_WRITE | CONFIG_READ),
      SECURITY_WRITE | SECURITY_READ | CONFIG_READ,
    );
    assert.equal(normalizePermissions(SECURITY_READ), SECURITY_READ);
    assert.equal(normalizePermissions(0), 0);
    assert.equal(normalizePermissions(0xffff), ALL_PERMISSIONS);
    assert.equal(normalizePermissions(0x8000 | METERS_READ), METERS_READ);
  });

  it('security.read alone does not imply security.write', () => {
    assert.equal(permissionsFromNames(['security.read']), SECURITY_READ);
  });

  it('is idempotent', () => {
    for (let set = 0; set <= ALL_PERMISSIONS; set++) {
      const once = normalizePermissions(set);
      assert.equal(normalizePermissions(once), once);
      if (once & SECURITY_WRITE) assert.ok(once & SECURITY_READ);
    }
  });
});

describe('unknown permission', () => {
  for (const name of ['security.admin', 'Measurements.read', '', 'toString', '__proto__', 'meters.read ']) {
    it(`rejects ${JSON.stringify(name)} naming it and listing the known names`, () => {
      const check = (error: CoreError): void => {
        assert.ok(error.message.includes(`'${name}'`), error.message);
        assert.deepEqual(error.details.known, [...DESIGN_NAMES]);
      };
      assert.throws(() => permissionBit(name), coreError('unknown-permission', check));
      assert.throws(
        () => permissionsFromNames(['meters.read', name]),
        coreError('unknown-permission', check),
      );
    });
  }
});

describe('presets', () => {
  it('are exactly read-only, all-except-security and all', () => {
    assert.deepEqual(Object.keys(PRESETS).sort(), ['all', 'all-except-security', 'read-only']);
  });

  it('read-only = measurements.read, meters.read, config.read', () => {
    assert.deepEqual(permissionNames(presetPermissions('read-only')), [
      'measurements.read',
      'meters.read',
      'config.read',
    ]);
  });

  it('all-except-security = all but security.* and audit.read', () => {
    assert.deepEqual(permissionNames(presetPermissions('all-except-security')), [
      'measurements.read',
      'meters.read',
      'meters.reset',
      'minmax.reset',
      'config.read',
      'config.write',
      'service',
    ]);
  });

  it('all = everything', () => {
    assert.deepEqual(permissionNames(presetPermissions('all')), [...DESIGN_NAMES]);
    assert.equal(presetPermissions('all'), ALL_PERMISSIONS);
  });

  it('are already normalized', () => {
    for (const set of Object.values(PRESETS)) assert.equal(normalizePermissions(set), set);
  });

  it('isPresetName knows only the presets', () => {
    for (const name of Object.keys(PRESETS)) assert.equal(isPresetName(name), true);
    for (const name of ['All', 'readonly', 'toString', '__proto__', 'constructor', '']) {
      assert.equal(isPresetName(name), false, name);
    }
  });

  for (const name of ['admin', 'All', 'toString', '__proto__', '']) {
    it(`rejects unknown preset ${JSON.stringify(name)}`, () => {
      assert.throws(
        () => presetPermissions(name),
        coreError('unknown-preset', (error) => {
          assert.ok(error.message.includes(`'${name}'`), error.message);
          assert.deepEqual([...(error.details.known ?? [])].sort(), [
            'all',
            'all-except-security',
            'read-only',
          ]);
        }),
      );
    });
  }
});

describe('role templates', () => {
  const roles = ['VIEWER', 'OPERATOR', 'ENGINEER', 'INSTALLER', 'SECADM', 'SECAUD'];

  it('offer exactly the IEC 62351-8 roles of DESIGN §3', () => {
    assert.deepEqual(Object.keys(ROLE_TEMPLATES), roles);
  });

  for (const role of roles) {
    it(`${role} is a non-empty, normalized subset of ALL with a description`, () => {
      const set = rolePermissions(role);
      assert.ok(set !== 0);
      assert.equal(set & ~ALL_PERMISSIONS, 0);
      assert.ok(hasPermission(ALL_PERMISSIONS, set));
      assert.equal(normalizePermissions(set), set);
      assert.ok(ROLE_TEMPLATES[role as keyof typeof ROLE_TEMPLATES].description.length > 0);
    });
  }

  it('SECADM administers security and SECAUD only reads it', () => {
    assert.ok(hasPermission(rolePermissions('SECADM'), SECURITY_WRITE | SECURITY_READ | AUDIT_READ));
    assert.ok(hasPermission(rolePermissions('SECAUD'), SECURITY_READ | AUDIT_READ));
    assert.ok(!hasPermission(rolePermissions('SECAUD'), SECURITY_WRITE));
    for (const role of ['VIEWER', 'OPERATOR', 'ENGINEER', 'INSTALLER']) {
      assert.equal(rolePermissions(role) & (SECURITY_READ | SECURITY_WRITE | AUDIT_READ), 0, role);
    }
  });

  for (const name of ['viewer', 'ADMIN', 'toString', '__proto__', '']) {
    it(`rejects unknown role ${JSON.stringify(name)}`, () => {
      assert.throws(
        () => rolePermissions(name),
        coreError('unknown-role', (error) => {
          assert.ok(error.message.includes(`'${name}'`), error.message);
          assert.deepEqual(error.details.known, roles);
        }),
      );
    });
  }
});

describe('hasPermission', () => {
  it('is true exactly when the set holds every required bit', () => {
    assert.equal(hasPermission(METERS_READ | CONFIG_READ, METERS_READ), true);
    assert.equal(hasPermission(METERS_READ | CONFIG_READ, METERS_READ | CONFIG_READ), true);
    assert.equal(hasPermission(METERS_READ, METERS_READ | CONFIG_READ), false);
    assert.equal(hasPermission(0, METERS_READ), false);
    assert.equal(hasPermission(ALL_PERMISSIONS, ALL_PERMISSIONS), true);
    assert.equal(hasPermission(ALL_PERMISSIONS & ~SERVICE, ALL_PERMISSIONS), false);
  });

  it('requiring nothing is always granted', () => {
    assert.equal(hasPermission(0, 0), true);
    assert.equal(hasPermission(ALL_PERMISSIONS, 0), true);
  });

  it('agrees with a per-bit check for every single permission against every preset and role', () => {
    const sets = [...Object.values(PRESETS), ...Object.values(ROLE_TEMPLATES).map((r) => r.permissions), 0];
    for (const set of sets) {
      for (const p of PERMISSIONS) {
        assert.equal(hasPermission(set, p.bit), permissionNames(set).includes(p.name));
      }
    }
  });
});
