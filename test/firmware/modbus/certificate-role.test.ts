/**
 * The role of a Modbus/TCP Security client certificate: exactly one extension with the role OID
 * holding exactly one DER UTF8String names the role (Unicode and long-form lengths included); no such
 * extension is no role; two extensions, or several strings in one, are several roles; a wrong string
 * type, an empty or non-UTF-8 string, trailing or non-DER bytes, and a certificate that does not
 * parse are malformed, and nothing throws.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROLE_TEMPLATES } from '../../../firmware/core/permission-table.ts';
import {
  certificateRoleTemplate,
  MODBUS_ROLE_OID,
  roleFromCertificate,
  roleFromExtensionValue,
  roleTemplateNamed,
} from '../../../firmware/modbus/certificate-role.ts';
import {
  createTestCa,
  derElement,
  derUtf8String,
  makeCertificateWithRoles,
} from '../../support/modbus-certificates.ts';

const bytes = (...parts: (Uint8Array | number[])[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

describe('certificate role', () => {
  it('uses the Modbus/TCP Security role OID', () => {
    assert.equal(MODBUS_ROLE_OID, '1.3.6.1.4.1.50316.802.1');
  });

  it('reads the one role of a certificate, or tells why there is none', async () => {
    const ca = await createTestCa();
    const cases: [string, Promise<{ der: Uint8Array }>, unknown][] = [
      ['one role', makeCertificateWithRoles(ca, ['anonymous']), { role: 'anonymous' }],
      ['Unicode role', makeCertificateWithRoles(ca, ['Zähler_ß']), { role: 'Zähler_ß' }],
      ['no role extension', makeCertificateWithRoles(ca, []), { error: 'no-role' }],
      ['two extensions', makeCertificateWithRoles(ca, ['anonymous', 'admin']), { error: 'several-roles' }],
      [
        'two strings in one extension',
        makeCertificateWithRoles(ca, [], {
          roleValues: [bytes(derUtf8String('anonymous'), derUtf8String('admin'))],
        }),
        { error: 'several-roles' },
      ],
      [
        'a PrintableString',
        makeCertificateWithRoles(ca, [], {
          roleValues: [derElement(0x13, new TextEncoder().encode('admin'))],
        }),
        { error: 'malformed' },
      ],
    ];
    for (const [what, certificate, expected] of cases) {
      assert.deepEqual(roleFromCertificate((await certificate).der), expected, what);
    }
  });

  it('parses the extension value strictly', () => {
    const utf8 = (text: string) => derUtf8String(text);
    const long = 'r'.repeat(200);
    const cases: [string, Uint8Array, unknown][] = [
      ['a UTF8String', utf8('operator'), { role: 'operator' }],
      ['a long-form length', utf8(long), { role: long }],
      [
        'a SEQUENCE of two strings',
        derElement(0x30, bytes(utf8('a1b'), utf8('c2d'))),
        { error: 'several-roles' },
      ],
      ['a SET of two strings', derElement(0x31, bytes(utf8('a1b'), utf8('c2d'))), { error: 'several-roles' }],
      ['a SEQUENCE of one string', derElement(0x30, utf8('a1b')), { error: 'malformed' }],
      ['a string and an integer', bytes(utf8('a1b'), [0x02, 0x01, 0x01]), { error: 'malformed' }],
      ['an empty string', Uint8Array.of(0x0c, 0x00), { error: 'malformed' }],
      ['invalid UTF-8', Uint8Array.of(0x0c, 0x02, 0xc3, 0x28), { error: 'malformed' }],
      ['trailing byte', bytes(utf8('admin'), [0x00]), { error: 'malformed' }],
      ['length past the end', Uint8Array.of(0x0c, 0x09, 0x61), { error: 'malformed' }],
      ['non-minimal long form', Uint8Array.of(0x0c, 0x81, 0x01, 0x61), { error: 'malformed' }],
      ['indefinite length', Uint8Array.of(0x0c, 0x80, 0x61, 0x00, 0x00), { error: 'malformed' }],
      ['nothing', new Uint8Array(0), { error: 'malformed' }],
      ['a tag alone', Uint8Array.of(0x0c), { error: 'malformed' }],
    ];
    for (const [what, value, expected] of cases)
      assert.deepEqual(roleFromExtensionValue(value), expected, what);
  });

  it('maps IEC 62351-8 role names to the role templates, ASCII case ignored, nothing else', () => {
    for (const name of Object.keys(ROLE_TEMPLATES)) {
      assert.equal(roleTemplateNamed(name), name);
      assert.equal(roleTemplateNamed(name.toLowerCase()), name);
    }
    assert.equal(roleTemplateNamed('Engineer'), 'ENGINEER');
    for (const name of [
      'admin',
      'anonymous',
      'localgui',
      'RBACMNT',
      ' VIEWER',
      'VIEWER ',
      'VIEWER\u0000',
      'VİEWER',
      'viewer1',
      'constructor',
      '__proto__',
      '',
    ])
      assert.equal(roleTemplateNamed(name), null, JSON.stringify(name));
  });

  it('a certificate gives a role template, or says why not', async () => {
    const ca = await createTestCa();
    const cases: [string, string[], unknown][] = [
      ['a role', ['Operator'], { role: 'OPERATOR' }],
      ['an entry name', ['admin'], { error: 'unknown-role', claimed: 'admin' }],
      ['no role', [], { error: 'no-role' }],
      ['two roles', ['VIEWER', 'SECAUD'], { error: 'several-roles' }],
    ];
    for (const [what, roles, expected] of cases) {
      const { der } = await makeCertificateWithRoles(ca, roles);
      assert.deepEqual(certificateRoleTemplate(der), expected, what);
    }
  });

  it('calls anything that is not a certificate malformed, and never throws', async () => {
    const ca = await createTestCa();
    const { der } = await makeCertificateWithRoles(ca, ['anonymous']);
    const inputs = [
      new Uint8Array(0),
      Uint8Array.of(0x30),
      Uint8Array.of(0x30, 0x80),
      der.subarray(0, der.length - 20),
      der.subarray(10),
      new TextEncoder().encode('-----BEGIN CERTIFICATE-----'),
    ];
    for (const input of inputs) assert.deepEqual(roleFromCertificate(input), { error: 'malformed' });
    let seed = 7;
    for (let i = 0; i < 300; i++) {
      const mutated = der.slice();
      for (let n = 0; n < 3; n++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        mutated[seed % mutated.length] = seed >>> 24;
      }
      const result = roleFromCertificate(mutated);
      assert.ok('role' in result || ['no-role', 'several-roles', 'malformed'].includes(result.error));
    }
  });
});
