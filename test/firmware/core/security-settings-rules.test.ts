/**
 * Security settings validation: the factory defaults pass, every field passes at its boundaries, and
 * every rule (password length, each lockout figure, Modbus principals, whitelist size and entries)
 * refuses with CoreError 'invalid-setting' naming its field in details and at the message's start.
 * Given the settings a change replaces, only what it changes is checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PasswordVerifier } from '../../../firmware/auth/password-verifier.ts';
import { CoreError } from '../../../firmware/core/core-error.ts';
import {
  DEFAULT_SECURITY_SETTINGS,
  type LockoutPolicy,
  type SecuritySettings,
} from '../../../firmware/core/security-settings.ts';
import {
  MAX_DENIED_CERTIFICATES,
  MAX_WHITELIST_ENTRIES,
  principalAt,
  validateSecuritySettings,
} from '../../../firmware/core/security-settings-rules.ts';
import { ADMIN_SLOT } from '../../../firmware/core/slots.ts';
import { actorFor, addUser, createDefaultTable } from '../../../firmware/core/user-table.ts';

const VERIFIER: PasswordVerifier = {
  kdf: 'pbkdf2-sha256',
  iterations: 600_000,
  salt: new Uint8Array(16),
  publicKey: new Uint8Array(32),
};
const TABLE = createDefaultTable(VERIFIER);

interface Patch {
  passwordMinLength?: number;
  lockout?: Partial<LockoutPolicy>;
  communication?: Partial<SecuritySettings['communication']>;
  whitelist?: readonly string[];
  deniedCertificates?: readonly string[];
}

function settingsWith(patch: Patch): SecuritySettings {
  const d = DEFAULT_SECURITY_SETTINGS;
  return {
    ...d,
    ...patch,
    lockout: { ...d.lockout, ...patch.lockout },
    communication: { ...d.communication, ...patch.communication },
  } as SecuritySettings;
}

function rejects(patch: Patch, field: string): void {
  assert.throws(
    () => validateSecuritySettings(settingsWith(patch), TABLE),
    (error: unknown) => {
      assert.ok(error instanceof CoreError);
      assert.equal(error.code, 'invalid-setting');
      assert.deepEqual(error.details, { field });
      assert.ok(error.message.startsWith(`${field}: `), error.message);
      return true;
    },
    `${JSON.stringify(patch)} should be refused naming ${field}`,
  );
}

function accepts(patch: Patch): void {
  const settings = settingsWith(patch);
  assert.equal(validateSecuritySettings(settings, TABLE), settings);
}

describe('validateSecuritySettings', () => {
  it('accepts the factory defaults', () => {
    assert.equal(validateSecuritySettings(DEFAULT_SECURITY_SETTINGS, TABLE), DEFAULT_SECURITY_SETTINGS);
  });

  it('passwordMinLength: whole numbers from 8 to 64', () => {
    for (const value of [8, 64]) accepts({ passwordMinLength: value });
    for (const value of [7, 65, 8.5, Number.NaN]) rejects({ passwordMinLength: value }, 'passwordMinLength');
  });

  it('lockout.delayAfterFailures: 1 to 100 (and not above lockAfterFailures)', () => {
    for (const value of [1, 10]) accepts({ lockout: { delayAfterFailures: value } });
    accepts({ lockout: { delayAfterFailures: 100, lockAfterFailures: 100 } });
    for (const value of [0, 101, 2.5]) {
      rejects(
        { lockout: { delayAfterFailures: value, lockAfterFailures: 100 } },
        'lockout.delayAfterFailures',
      );
    }
    rejects({ lockout: { delayAfterFailures: 11, lockAfterFailures: 10 } }, 'lockout.lockAfterFailures');
  });

  it('lockout.baseDelayMs: 0 to 60000', () => {
    for (const value of [0, 60_000]) accepts({ lockout: { baseDelayMs: value } });
    for (const value of [-1, 60_001, 0.5])
      rejects({ lockout: { baseDelayMs: value } }, 'lockout.baseDelayMs');
  });

  it('lockout.lockAfterFailures: delayAfterFailures to 100', () => {
    for (const value of [3, 100]) accepts({ lockout: { lockAfterFailures: value } });
    for (const value of [2, 101, 9.5])
      rejects({ lockout: { lockAfterFailures: value } }, 'lockout.lockAfterFailures');
  });

  it('lockout.lockSeconds: 1 to 86400', () => {
    for (const value of [1, 86_400]) accepts({ lockout: { lockSeconds: value } });
    for (const value of [0, 86_401, 1.5]) rejects({ lockout: { lockSeconds: value } }, 'lockout.lockSeconds');
  });

  it('lockout.accountLockAfterFailures: 1 to 100 (NIST SP 800-63B)', () => {
    for (const value of [1, 100]) accepts({ lockout: { accountLockAfterFailures: value } });
    for (const value of [0, 101, 50.5]) {
      rejects({ lockout: { accountLockAfterFailures: value } }, 'lockout.accountLockAfterFailures');
    }
  });

  it('the Modbus principals: the identity of an entry in the table, named by slot in errors', () => {
    const fields = [
      ['modbusPrincipal', 'modbusSlot'],
      ['rtuPrincipal', 'rtuSlot'],
    ] as const;
    for (const [stored, field] of fields) {
      for (const id of [0, 2]) accepts({ communication: { [stored]: id } });
      // 1: localgui, the display's rights. 3–7: no entry has these identities in the factory table;
      // 8 is the next one to be made.
      for (const id of [1, 3, 7, 8, -1, 1.5])
        rejects({ communication: { [stored]: id } }, `communication.${field}`);
    }
  });

  it('principalAt: the identity of the entry in an occupied slot; empty, out of range and local-only refused', () => {
    const admin = actorFor(TABLE, ADMIN_SLOT);
    const withUser = addUser(
      TABLE,
      { ...admin, mustChangePassword: false },
      {
        name: 'panel1',
        verifier: VERIFIER,
        permissions: 0,
        localOnly: true,
      },
    );
    assert.equal(principalAt(TABLE, 2, 'communication.modbusSlot'), 2);
    assert.throws(() => principalAt(TABLE, 1, 'communication.modbusSlot'), /localgui \(slot 1\)/);
    for (const slot of [3, 8, -1, 1.5]) {
      assert.throws(() => principalAt(TABLE, slot, 'communication.modbusSlot'), /must name an occupied slot/);
    }
    assert.throws(
      () => principalAt(withUser.table, withUser.slot, 'communication.rtuSlot'),
      (error: unknown) =>
        error instanceof CoreError &&
        error.code === 'invalid-setting' &&
        error.details.field === 'communication.rtuSlot' &&
        /'panel1' \(slot 3\) is local-only/.test(error.message),
    );
  });

  it('with the settings it replaces, only what a change changes is checked (a bad stored value blocks nothing else)', () => {
    // Stored by an older firmware or under a looser rule: no longer valid, but already there.
    const stored = settingsWith({
      passwordMinLength: 7,
      lockout: { lockSeconds: 0 },
      communication: { modbusPrincipal: 9 },
      whitelist: ['not-an-address'],
    });
    const cleared = { ...stored, whitelist: [] };
    assert.equal(validateSecuritySettings(cleared, TABLE, stored), cleared);
    const modbusOff = { ...stored, communication: { ...stored.communication, modbusTcp: false } };
    assert.equal(validateSecuritySettings(modbusOff, TABLE, stored), modbusOff);
    // What the change touches is still checked, and without `previous` everything is.
    assert.throws(
      () => validateSecuritySettings({ ...stored, whitelist: ['also bad'] }, TABLE, stored),
      /whitelist\[0\]/,
    );
    assert.throws(
      () =>
        validateSecuritySettings(
          { ...stored, lockout: { ...stored.lockout, lockSeconds: 2, baseDelayMs: -1 } },
          TABLE,
          stored,
        ),
      /lockout.baseDelayMs/,
    );
    assert.throws(() => validateSecuritySettings(cleared, TABLE), /passwordMinLength/);
  });

  it(`whitelist: at most ${MAX_WHITELIST_ENTRIES} entries, each an address or a CIDR range`, () => {
    const many = Array.from({ length: MAX_WHITELIST_ENTRIES }, (_, i) => `10.0.0.${i}`);
    accepts({ whitelist: many });
    accepts({ whitelist: ['192.0.2.1', '10.0.0.0/8', '2001:db8::/32', '::1'] });
    rejects({ whitelist: [...many, '10.0.1.0'] }, 'whitelist');
    rejects({ whitelist: ['10.0.0.0/8', '10.0.0.0/33'] }, 'whitelist[1]');
    rejects({ whitelist: ['localhost'] }, 'whitelist[0]');
  });

  it(`deniedCertificates: at most ${MAX_DENIED_CERTIFICATES} SHA-256 fingerprints, stored as upper-case hex without colons`, () => {
    const hex = (i: number) => i.toString(16).padStart(2, '0').repeat(32).toUpperCase();
    const many = Array.from({ length: MAX_DENIED_CERTIFICATES }, (_, i) => hex(i));
    accepts({ deniedCertificates: many });
    const colons = hex(0xab).toLowerCase().match(/../g)?.join(':') ?? '';
    assert.deepEqual(
      validateSecuritySettings(settingsWith({ deniedCertificates: [colons, hex(0xab)] }), TABLE)
        .deniedCertificates,
      [hex(0xab)],
      'normalized, duplicates dropped',
    );
    rejects({ deniedCertificates: [...many, hex(0xff)] }, 'deniedCertificates');
    rejects({ deniedCertificates: [hex(1), 'xyz'] }, 'deniedCertificates[1]');
    rejects({ deniedCertificates: [hex(1).slice(2)] }, 'deniedCertificates[0]');
    rejects({ deniedCertificates: [`${hex(1)}00`] }, 'deniedCertificates[0]');
  });

  it('names the first wrong field when several are wrong', () => {
    rejects({ passwordMinLength: 7, lockout: { lockSeconds: 0 } }, 'passwordMinLength');
  });
});
