/**
 * The commissioning file of `metergate provision`: a valid file (YAML and the same in JSON) becomes a
 * plan; each kind of mistake is reported with the line and the field path, all of them at once; JSON
 * syntax errors carry a line and never quote the file; the examples in docs/ are valid.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  type CommissioningError,
  type CommissioningOptions,
  type CommissioningPlan,
  formatCommissioningError,
  parseCommissioningFile,
} from '../../../firmware/cli/commissioning-file.ts';
import { permissionNames, ROLE_TEMPLATES } from '../../../firmware/core/permission-table.ts';
import { DEFAULT_SECURITY_SETTINGS } from '../../../firmware/core/security-settings.ts';

const DOCS = join(import.meta.dirname, '..', '..', '..', 'docs');

const VALID_YAML = `# a plant's meter
version: 1
admin:
  password: "Zähler-Wart 2026"
users:
  - name: engineer1
    password: "Tulpen-Feld 77"
    role: ENGINEER
  - name: reader.2
    password: "Kupfer Draht 9"
    permissions: [measurements.read, meters.read]
    localOnly: true
apiKeys:
  - name: scada
    preset: read-only
standardUsers:
  localgui: [measurements.read]
  anonymous: []
whitelist: [127.0.0.1, 192.0.2.0/24, "2001:db8::/32"]
modbus: { tcp: true, rtu: false }
passwordMinLength: 10
lockout:
  lockSeconds: 600
`;

const VALID_JSON = JSON.stringify(
  {
    version: 1,
    admin: { password: 'Zähler-Wart 2026' },
    users: [
      { name: 'engineer1', password: 'Tulpen-Feld 77', role: 'ENGINEER' },
      {
        name: 'reader.2',
        password: 'Kupfer Draht 9',
        permissions: ['measurements.read', 'meters.read'],
        localOnly: true,
      },
    ],
    apiKeys: [{ name: 'scada', preset: 'read-only' }],
    standardUsers: { localgui: ['measurements.read'], anonymous: [] },
    whitelist: ['127.0.0.1', '192.0.2.0/24', '2001:db8::/32'],
    modbus: { tcp: true, rtu: false },
    passwordMinLength: 10,
    lockout: { lockSeconds: 600 },
  },
  null,
  2,
);

function plan(text: string, options: Partial<CommissioningOptions> = {}): CommissioningPlan {
  const result = parseCommissioningFile(text, { fileName: 'commissioning.yaml', ...options });
  if (!result.ok) assert.fail(result.errors.map(formatCommissioningError).join('\n'));
  return result.plan;
}

/** The formatted errors of a file that must not pass. */
function errors(text: string, options: Partial<CommissioningOptions> = {}): string[] {
  const result = parseCommissioningFile(text, { fileName: 'commissioning.yaml', ...options });
  assert.equal(result.ok, false, 'the file must be refused');
  return result.ok ? [] : result.errors.map(formatCommissioningError);
}

/** A valid file with `lines` in place of its users. */
function withUsers(lines: string): string {
  return `version: 1\nusers:\n${lines}`;
}

describe('commissioning file: a valid file becomes a plan', () => {
  it('reads users, keys, standard users and settings from YAML', () => {
    const result = plan(VALID_YAML);
    assert.equal(result.adminPassword, 'Zähler-Wart 2026');
    assert.deepEqual(
      result.users.map((u) => ({ ...u, permissions: permissionNames(u.permissions) })),
      [
        {
          name: 'engineer1',
          password: 'Tulpen-Feld 77',
          permissions: permissionNames(ROLE_TEMPLATES.ENGINEER.permissions),
          localOnly: false,
          role: 'ENGINEER',
        },
        {
          name: 'reader.2',
          password: 'Kupfer Draht 9',
          permissions: ['measurements.read', 'meters.read'],
          localOnly: true,
        },
      ],
    );
    assert.deepEqual(result.apiKeys, [{ name: 'scada', preset: 'read-only' }]);
    assert.deepEqual(permissionNames(result.standardUsers.localgui ?? -1), ['measurements.read']);
    assert.equal(result.standardUsers.anonymous, 0);
    assert.deepEqual(result.settings, {
      ...DEFAULT_SECURITY_SETTINGS,
      passwordMinLength: 10,
      lockout: { ...DEFAULT_SECURITY_SETTINGS.lockout, lockSeconds: 600 },
      whitelist: ['127.0.0.1', '192.0.2.0/24', '2001:db8::/32'],
      communication: { ...DEFAULT_SECURITY_SETTINGS.communication, modbusTcp: true, modbusRtu: false },
    });
  });

  it('a user without a password (an exported file) is planned with none: provision generates it', () => {
    const result = plan('version: 1\nusers:\n  - name: engineer1\n    role: ENGINEER\n');
    assert.equal(result.users[0]?.password, null);
    assert.equal(result.users[0]?.role, 'ENGINEER');
  });

  it('reads the same from JSON', () => {
    assert.deepEqual(plan(VALID_JSON, { fileName: 'commissioning.json' }), plan(VALID_YAML));
  });

  it('needs only the version: no admin password (generated later), factory settings, nothing else', () => {
    assert.deepEqual(plan('version: 1\n'), {
      adminPassword: null,
      users: [],
      apiKeys: [],
      standardUsers: {},
      settings: DEFAULT_SECURITY_SETTINGS,
      meter: null,
    });
  });

  it('takes the meter source (the --meter syntax, checked by its parser), with its line', () => {
    const source = 'modbus-tcp://192.0.2.10:502?unit=1&profile=eastron-sdm630';
    assert.deepEqual(plan(`version: 1\n\nmeter: "${source}"\n`).meter, { source, line: 3 });
    const result = parseCommissioningFile(
      'version: 1\nmeter: "modbus-rtu:/dev/ttyUSB0?baud=96000&profile=eastron-sdm630"\n',
      { fileName: 'c.yaml' },
    );
    assert.equal(result.ok, false);
    const [error] = result.ok ? [] : result.errors;
    assert.match(formatCommissioningError(error as CommissioningError), /^c\.yaml:2: meter: .*baud/);
  });

  it('takes the admin password from a flag instead of the file', () => {
    const result = plan('version: 1\n', {
      adminPassword: { value: 'Ein-Eigenes 42!', source: 'admin.pw' },
    });
    assert.equal(result.adminPassword, 'Ein-Eigenes 42!');
  });

  it('accepts the example in docs/examples/commissioning.yaml', () => {
    const result = plan(readFileSync(join(DOCS, 'examples', 'commissioning.yaml'), 'utf8'));
    assert.ok(result.users.length > 0 && result.apiKeys.length > 0);
  });

  it('takes plain HTTP and the host names into the security settings', () => {
    const result = plan('version: 1\nhttp: off\nhostnames: [meter-17.plant.example, 192.0.2.17]\n');
    assert.equal(result.settings.http, 'off');
    assert.deepEqual(result.settings.hostnames, ['meter-17.plant.example', '192.0.2.17']);
    assert.deepEqual(errors('version: 1\nhttp: sometimes\nhostnames: [ok.example, "bad name"]\n'), [
      "commissioning.yaml:2: http: must be 'on', 'redirect' or 'off'",
      "commissioning.yaml:3: hostnames[1]: 'bad name' is not a host name (letters, digits, '-' and '.', at most 100) or an IP address",
    ]);
  });

  it('accepts the example in docs/operations.md (Provisioning)', () => {
    const operations = readFileSync(join(DOCS, 'operations.md'), 'utf8');
    const section = operations.slice(operations.indexOf('## Provisioning'));
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(example, 'a YAML example in the Provisioning section');
    assert.ok(plan(example).users.length > 0);
  });
});

describe('commissioning file: errors name the line and the field', () => {
  it('a password that breaks the device rules', () => {
    assert.deepEqual(
      errors(
        withUsers(
          '  - name: alice\n    password: "Tulpen-Feld 77"\n    role: VIEWER\n  - name: bob\n    password: short\n    role: VIEWER\n',
        ),
      ),
      ['commissioning.yaml:7: users[1].password: password must be at least 8 characters'],
    );
    assert.deepEqual(errors(withUsers('  - name: alice\n    password: "alice2026"\n    role: VIEWER\n')), [
      'commissioning.yaml:4: users[0].password: password must not be the same as or similar to the username',
    ]);
    assert.deepEqual(errors('version: 1\nadmin:\n  password: CBM_1234\n'), [
      'commissioning.yaml:3: admin.password: password must not be the same as or similar to the factory default password',
    ]);
  });

  it("passwords are judged by the file's own passwordMinLength", () => {
    assert.deepEqual(
      errors(
        `passwordMinLength: 16\n${withUsers('  - name: alice\n    password: "Tulpen-Feld 77"\n    role: VIEWER\n')}`,
      ),
      ['commissioning.yaml:5: users[0].password: password must be at least 16 characters'],
    );
  });

  it('a username, role, permission or preset the device does not know', () => {
    const found = errors(
      [
        'version: 1',
        'users:',
        '  - name: -bad',
        '    password: "Tulpen-Feld 77"',
        '    role: viewer',
        '  - name: carl',
        '    password: "Tulpen-Feld 77"',
        '    permissions: [measurements.read, meter.read]',
        'apiKeys:',
        '  - name: scada',
        '    preset: readonly',
        '',
      ].join('\n'),
    );
    assert.equal(found.length, 4, found.join('\n'));
    assert.match(
      found[0] ?? '',
      /^commissioning\.yaml:3: users\[0\]\.name: username may contain only letters/,
    );
    assert.match(
      found[1] ?? '',
      /^commissioning\.yaml:5: users\[0\]\.role: unknown role 'viewer'; known: VIEWER, /,
    );
    assert.match(
      found[2] ?? '',
      /^commissioning\.yaml:8: users\[1\]\.permissions\[1\]: unknown permission 'meter\.read'; known: measurements\.read/,
    );
    assert.match(
      found[3] ?? '',
      /^commissioning\.yaml:11: apiKeys\[0\]\.preset: unknown preset 'readonly'; known: read-only, all-except-security, all$/,
    );
  });

  it('role and permissions: exactly one of them', () => {
    assert.deepEqual(
      errors(
        withUsers(
          '  - name: alice\n    password: "Tulpen-Feld 77"\n  - name: bob\n    password: "Tulpen-Feld 77"\n    role: VIEWER\n    permissions: []\n',
        ),
      ),
      [
        'commissioning.yaml:3: users[0]: a user needs a role (VIEWER, OPERATOR, ENGINEER, INSTALLER, SECADM, SECAUD) or permissions',
        'commissioning.yaml:7: users[1].role: give either role or permissions, not both',
      ],
    );
  });

  it('wrong types, missing and unknown fields', () => {
    assert.deepEqual(
      errors(
        [
          'version: 1',
          'users:',
          '  - name: alice',
          '    password: 12345678',
          '    role: VIEWER',
          '  - name: bob',
          '    role: VIEWER',
          '    pasword: "Tulpen-Feld 77"',
          'modbus:',
          '  tcp: yes',
          'lockout:',
          '  lockSeconds: 1.5',
          'whitelist:',
          '',
        ].join('\n'),
      ),
      [
        'commissioning.yaml:4: users[0].password: expected a string, got a number (put it in quotes)',
        "commissioning.yaml:8: users[1].pasword: unknown field 'pasword'",
        'commissioning.yaml:10: modbus.tcp: expected true or false, got a string',
        'commissioning.yaml:12: lockout.lockSeconds: must be a whole number',
        'commissioning.yaml:13: whitelist: expected a list, got an empty value',
      ],
    );
  });

  it('the version: required, and only 1', () => {
    assert.deepEqual(errors('users: []\n'), [
      "commissioning.yaml:1: version: required: add 'version: 1' to the file",
    ]);
    assert.deepEqual(errors('# new format\nversion: 2\n'), [
      'commissioning.yaml:2: version: this firmware reads commissioning files of version 1',
    ]);
    assert.deepEqual(errors(''), ["commissioning.yaml:1: the file is empty; it needs at least 'version: 1'"]);
    assert.deepEqual(errors('- version: 1\n'), [
      'commissioning.yaml:1: expected a mapping (key: value), got a list',
    ]);
  });

  it("whitelist entries and settings out of the device's ranges", () => {
    assert.deepEqual(
      errors('version: 1\nwhitelist:\n  - 127.0.0.1\n  - 10.0.0.0/33\n  - localhost\npasswordMinLength: 6\n'),
      [
        "commissioning.yaml:4: whitelist[1]: '10.0.0.0/33' is not an IPv4/IPv6 address or CIDR range",
        "commissioning.yaml:5: whitelist[2]: 'localhost' is not an IPv4/IPv6 address or CIDR range",
        // Settings as a whole are judged once every field has the right form.
      ],
    );
    assert.deepEqual(errors('version: 1\npasswordMinLength: 6\n'), [
      'commissioning.yaml:2: passwordMinLength: must be a whole number from 8 to 64',
    ]);
    // A rule between two fields, one of them left at its default: reported at the section.
    assert.deepEqual(errors('version: 1\nlockout:\n  delayAfterFailures: 50\n'), [
      'commissioning.yaml:2: lockout.lockAfterFailures: must be a whole number from 50 to 100',
    ]);
    const many = Array.from({ length: 17 }, (_, i) => `  - 192.0.2.${i}`).join('\n');
    assert.deepEqual(errors(`version: 1\nwhitelist:\n${many}\n`), [
      'commissioning.yaml:2: whitelist: at most 16 entries',
    ]);
  });

  it('names: predefined, repeated across users and keys', () => {
    assert.deepEqual(
      errors(
        [
          'version: 1',
          'users:',
          '  - { name: admin, password: "Tulpen-Feld 77", role: VIEWER }',
          '  - { name: alice, password: "Tulpen-Feld 77", role: VIEWER }',
          'apiKeys:',
          '  - { name: alice, preset: all }',
          '',
        ].join('\n'),
      ),
      [
        "commissioning.yaml:3: users[0].name: 'admin' is a predefined user; choose another name",
        "commissioning.yaml:6: apiKeys[0].name: the name 'alice' is already used by users[1]",
      ],
    );
  });

  it('at most five users and API keys', () => {
    const users = ['aa1', 'aa2', 'aa3'].map(
      (n) => `  - { name: ${n}, password: "Tulpen-Feld 77", role: VIEWER }`,
    );
    const keys = ['kk1', 'kk2', 'kk3'].map((n) => `  - { name: ${n}, preset: read-only }`);
    assert.deepEqual(errors(['version: 1', 'users:', ...users, 'apiKeys:', ...keys, ''].join('\n')), [
      'commissioning.yaml:9: apiKeys[2]: at most 5 users and API keys in all (slots 3–7); this is entry 6',
    ]);
  });

  it('what the user table itself refuses: security.write for a standard user', () => {
    assert.deepEqual(
      errors('version: 1\nstandardUsers:\n  anonymous: [measurements.read, security.write]\n'),
      [
        "commissioning.yaml:3: standardUsers.anonymous: 'anonymous' has no credentials and cannot be given security.write",
      ],
    );
  });

  it('what the user table itself refuses: security.read or audit.read for anonymous', () => {
    assert.deepEqual(errors('version: 1\nstandardUsers:\n  anonymous: [measurements.read, audit.read]\n'), [
      "commissioning.yaml:3: standardUsers.anonymous: 'anonymous' is everyone on the network and cannot be given audit.read",
    ]);
  });

  it('names unique regardless of case, the predefined ones included', () => {
    const result = errors(
      [
        'version: 1',
        'users:',
        '  - { name: Admin, password: "Tulpen-Feld 77", role: VIEWER }',
        '  - { name: alice, password: "Tulpen-Feld 77", role: VIEWER }',
        'apiKeys:',
        '  - { name: ALICE, preset: all }',
        '',
      ].join('\n'),
    );
    assert.equal(result.length, 2, result.join('\n'));
    assert.match(result[0] ?? '', /^commissioning\.yaml:3: users\[0\]\.name: .*'Admin'/);
    assert.match(result[1] ?? '', /^commissioning\.yaml:6: apiKeys\[0\]\.name: .*'ALICE'/);
  });

  it('the admin password from a flag: checked too, and not also in the file', () => {
    assert.deepEqual(
      errors('version: 1\nadmin:\n  password: "Zähler-Wart 2026"\n', {
        adminPassword: { value: 'short', source: 'admin.pw' },
      }),
      [
        'admin.pw: password must be at least 8 characters',
        'commissioning.yaml:3: admin.password: give the admin password here or with admin.pw, not both',
      ],
    );
  });

  it('YAML syntax errors carry their line', () => {
    assert.deepEqual(errors('version: 1\nusers:\n  - name: alice\n   role: VIEWER\n'), [
      'commissioning.yaml:4: Sequence item without - indicator',
    ]);
    assert.deepEqual(errors('version: 1\nversion: 1\n'), ['commissioning.yaml:2: Map keys must be unique']);
  });

  it('a password is never part of an error message', () => {
    const secret = 'Geheim-Wort-Nr-7';
    const found = [
      ...errors(withUsers(`  - name: alice\n    password: "${secret}"\n    role: NOBODY\n`)),
      ...errors(`{"version": 1, "users": [{"name": "alice", "password": ${secret}}]}`, {
        fileName: 'c.json',
      }),
      ...errors(`{"version": 1,\n "admin": {"password": "${secret}"\n}`, { fileName: 'c.json' }),
    ];
    for (const line of found) assert.doesNotMatch(line, /Geheim/);
  });
});

describe('commissioning file: JSON', () => {
  it('syntax errors name the line, in JSON terms', () => {
    const json = (text: string) => errors(text, { fileName: 'commissioning.json' });
    assert.deepEqual(json('{\n  "version": 1,\n  "users": [],\n}\n'), [
      'commissioning.json:4: invalid JSON: Expected double-quoted property name',
    ]);
    // A missing comma is found at the token after it.
    assert.deepEqual(json('{\n  "version": 1\n  "users": []\n}\n'), [
      "commissioning.json:3: invalid JSON: Expected ',' or '}' after property value",
    ]);
    assert.deepEqual(json('{\n  "version": 1,\n  "users": [{"name": alice}]\n}\n'), [
      'commissioning.json:3: invalid JSON: Unexpected token',
    ]);
    assert.deepEqual(json('{\n  "version": 1,\n  "users": [\n'), [
      'commissioning.json:4: invalid JSON: Unexpected end of JSON input',
    ]);
    // YAML that is not JSON is refused in a .json file.
    assert.deepEqual(json('version: 1\n'), ['commissioning.json:1: invalid JSON: Unexpected token']);
  });

  it('a key given twice is an error, not the last one silently', () => {
    assert.deepEqual(errors('{\n  "version": 1,\n  "version": 1\n}', { fileName: 'c.json' }), [
      'c.json:3: duplicate key',
    ]);
  });

  it('schema and device errors name the line in the JSON file', () => {
    const text = JSON.stringify(
      { version: 1, users: [{ name: 'alice', password: 'short', role: 'VIEWER' }], modbus: { tcp: 'yes' } },
      null,
      2,
    );
    assert.deepEqual(errors(text, { fileName: 'commissioning.json' }), [
      'commissioning.json:6: users[0].password: password must be at least 8 characters',
      'commissioning.json:11: modbus.tcp: expected true or false, got a string',
    ]);
  });
});
