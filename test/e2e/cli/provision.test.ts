/**
 * `metergate provision` end to end, with the built CLI (dist/cli.mjs) and the real device process:
 * a provisioned data dir boots without a first boot of its own, the admin logs in with the declared
 * password and is not forced to change it, the declared users log in with their permissions (a
 * local-only one does not over the network), an API key works over HTTPS, and the standard users,
 * whitelist and Modbus enables are as declared. A bad file names the field and the line and creates
 * nothing; a data dir that already holds a flash image or keys is refused untouched; the example in
 * docs/examples provisions and boots, with a generated admin password shown once.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClientError, DeviceClient, type MeBody } from '../../../firmware/client/device-client.ts';
import { permissionNames, ROLE_TEMPLATES } from '../../../firmware/core/permission-table.ts';
import { REPO_ROOT, type RunningDevice, runCli, startDevice } from '../../support/device-process.ts';
import type { SlotView } from '../../support/rest-fixture.ts';

const ADMIN_PASSWORD = 'Zähler-Wart 2026!';
const ENGINEER_PASSWORD = 'Tulpen-Feld 77';
const AUDITOR_PASSWORD = 'Kupfer Draht 9x';
const ELECTRICIAN_PASSWORD = 'Kabel-Trommel 51';

const COMMISSIONING = `version: 1
admin:
  password: "${ADMIN_PASSWORD}"
users:
  - name: engineer1
    password: "${ENGINEER_PASSWORD}"
    role: ENGINEER
  - name: auditor
    password: "${AUDITOR_PASSWORD}"
    permissions: [audit.read, security.read]
  - name: electrician
    password: "${ELECTRICIAN_PASSWORD}"
    role: OPERATOR
    localOnly: true
apiKeys:
  - name: scada
    preset: read-only
standardUsers:
  localgui: [measurements.read]
  anonymous: []
whitelist: [127.0.0.1, 192.0.2.0/24]
modbus:
  tcp: true
passwordMinLength: 10
lockout:
  lockSeconds: 600
`;

/** Modbus TCP is enabled by the files: on any free port, like every other listener. */
const DEVICE_ARGS = ['--modbus-port', '0', '--modbus-tls-port', '0'];

interface Booted {
  readonly device: RunningDevice;
  readonly ca: string;
  readonly httpUrl: string;
  readonly httpsUrl: string;
}

async function boot(dataDir: string, stop: (fn: () => Promise<unknown>) => void): Promise<Booted> {
  const device = await startDevice(['--data-dir', dataDir, ...DEVICE_ARGS]);
  stop(() => device.stop());
  return {
    device,
    ca: readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8'),
    httpUrl: `http://127.0.0.1:${device.ready.http}`,
    httpsUrl: `https://127.0.0.1:${device.ready.https}`,
  };
}

async function get<T>(client: DeviceClient, path: string): Promise<T> {
  const response = await client.request<T>('GET', path);
  assert.equal(response.status, 200, `${path}: ${JSON.stringify(response.body)}`);
  return response.body;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('metergate provision', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'metergate-provision-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('builds a data dir the device boots with the declared users, keys and settings', async (t) => {
    const file = join(root, 'commissioning.yaml');
    const dataDir = join(root, 'device1');
    const keysFile = join(root, 'keys.json');
    writeFileSync(file, COMMISSIONING);

    const result = runCli(
      ['provision', '--data-dir', dataDir, '--file', file, '--keys-file', keysFile],
      60_000,
    );
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /deriving password verifiers \(4\)…/);
    assert.match(result.stdout, /^provisioned .*device1 \(serial MG\d{8}\): admin, 3 users, 1 API key/m);
    for (const secret of [ADMIN_PASSWORD, ENGINEER_PASSWORD, AUDITOR_PASSWORD, ELECTRICIAN_PASSWORD]) {
      assert.ok(
        !result.stdout.includes(secret) && !result.stderr.includes(secret),
        'no declared password is shown',
      );
    }
    assert.doesNotMatch(result.stdout, /admin password/, 'a declared admin password is not echoed');
    const apiKey = /^API key scada \(read-only, shown only now\): (mgk_\S+)$/m.exec(result.stdout)?.[1];
    assert.ok(apiKey, result.stdout);
    assert.deepEqual(JSON.parse(readFileSync(keysFile, 'utf8')), { scada: apiKey });
    assert.equal(statSync(keysFile).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'keys', 'root.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'flash.img')).size, 128 * 1024);
    assert.ok(!existsSync(join(dataDir, 'metergate.pid')), 'the lock is released');

    const { device, ca, httpUrl, httpsUrl } = await boot(dataDir, t.after.bind(t));
    assert.equal(device.ready.mode, 'normal');
    assert.doesNotMatch(device.stderr(), /first boot/, 'provisioning did the first boot');
    assert.equal(typeof device.ready.modbusTcp, 'number', 'Modbus TCP enabled by the file');
    assert.equal(device.ready.modbusTls, null);

    const admin = new DeviceClient(httpsUrl, { ca });
    const me = await admin.login('admin', ADMIN_PASSWORD);
    assert.equal(me.mustChangePassword, false, 'the per-device admin password need not be changed');
    const { slots } = await get<{ slots: SlotView[] }>(admin, '/api/v1/users');
    assert.deepEqual(
      slots.map((s) => [s.slot, s.type, s.name, s.permissions, s.flags]),
      [
        [0, 'user', 'admin', permissionNames(0xffff), []],
        [1, 'standard', 'localgui', ['measurements.read'], []],
        [2, 'standard', 'anonymous', [], []],
        [3, 'user', 'engineer1', permissionNames(ROLE_TEMPLATES.ENGINEER.permissions), ['role:ENGINEER']],
        [4, 'user', 'auditor', ['security.read', 'audit.read'], []],
        [
          5,
          'user',
          'electrician',
          permissionNames(ROLE_TEMPLATES.OPERATOR.permissions),
          ['local-only', 'role:OPERATOR'],
        ],
        [6, 'api-key', 'scada', ['measurements.read', 'meters.read', 'config.read'], ['preset:read-only']],
        [7, 'empty', null, [], []],
      ],
    );
    const security = await get<{
      passwordMinLength: number;
      lockout: { lockSeconds: number };
      whitelist: string[];
    }>(admin, '/api/v1/security');
    assert.equal(security.passwordMinLength, 10);
    assert.equal(security.lockout.lockSeconds, 600);
    assert.deepEqual(security.whitelist, ['127.0.0.1', '192.0.2.0/24']);
    const config = await get<{
      communication: { modbusTcp: boolean; modbusRtu: boolean; modbusTls: boolean };
    }>(admin, '/api/v1/config');
    assert.deepEqual(
      [config.communication.modbusTcp, config.communication.modbusRtu, config.communication.modbusTls],
      [true, false, false],
    );

    for (const [name, password, expected] of [
      ['engineer1', ENGINEER_PASSWORD, permissionNames(ROLE_TEMPLATES.ENGINEER.permissions)],
      ['auditor', AUDITOR_PASSWORD, ['security.read', 'audit.read']],
    ] as const) {
      const client = new DeviceClient(httpsUrl, { ca });
      const login = await client.login(name, password);
      assert.equal(login.mustChangePassword, false, name);
      const whoami = await get<MeBody>(client, '/api/v1/me');
      assert.equal(whoami.name, name);
      assert.deepEqual(whoami.permissions, expected, name);
    }
    await assert.rejects(
      new DeviceClient(httpsUrl, { ca }).login('electrician', ELECTRICIAN_PASSWORD),
      (error: unknown) => error instanceof ClientError && error.code === 'local-only',
      'a local-only user does not log in over the network',
    );

    const scada = new DeviceClient(httpsUrl, { ca, apiKey });
    await get(scada, '/api/v1/measurements');
    assert.equal((await scada.request('GET', '/api/v1/users')).status, 403, 'read-only: no security.read');
    assert.equal(
      (await new DeviceClient(httpUrl, { apiKey }).request('GET', '/api/v1/measurements')).status,
      401,
    );

    const anonymous = new DeviceClient(httpUrl);
    assert.equal(
      (await anonymous.request('GET', '/api/v1/measurements')).status,
      401,
      'anonymous has no rights',
    );
    // The whitelist applies: another loopback source is dropped before anything is answered.
    await assert.rejects(
      new DeviceClient(httpUrl, { localAddress: '127.0.0.2' }).request('GET', '/api/v1/info'),
    );
  });

  it('a bad file names the field and the line, and creates nothing', () => {
    const file = join(root, 'bad.yaml');
    const dataDir = join(root, 'bad-device');
    writeFileSync(
      file,
      COMMISSIONING.replace(`password: "${AUDITOR_PASSWORD}"`, 'password: short').replace(
        'preset: read-only',
        'preset: readonly',
      ),
    );
    const result = runCli(['provision', '--data-dir', dataDir, '--file', file]);
    assert.equal(result.status, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.deepEqual(lines, [
      `${file}:9: users[1].password: password must be at least 10 characters`,
      `${file}:17: apiKeys[0].preset: unknown preset 'readonly'; known: read-only, all-except-security, all`,
      `metergate provision: 2 errors in ${file}; nothing was created`,
    ]);
    assert.equal(result.stdout, '');
    assert.ok(!existsSync(dataDir), 'no data dir');

    const json = join(root, 'bad.json');
    writeFileSync(
      json,
      '{\n  "version": 1,\n  "users": [\n    {"name": "x", "password": "Tulpen-Feld 77", "role": "VIEWER"}\n  ]\n}\n',
    );
    const fromJson = runCli(['provision', '--data-dir', dataDir, '--file', json]);
    assert.equal(fromJson.status, 2);
    assert.match(
      fromJson.stderr,
      new RegExp(`^${json}:4: users\\[0\\]\\.name: username must be at least 3 characters$`, 'm'),
    );
    writeFileSync(json, '{\n  "version": 1,\n  "users": []\n  "apiKeys": []\n}\n');
    const syntax = runCli(['provision', '--data-dir', dataDir, '--file', json]);
    assert.equal(syntax.status, 2);
    assert.match(
      syntax.stderr,
      new RegExp(`^${json}:4: invalid JSON: Expected ',' or '}' after property value$`, 'm'),
    );

    // An empty data dir made beforehand stays empty.
    mkdirSync(dataDir);
    assert.equal(runCli(['provision', '--data-dir', dataDir, '--file', file]).status, 2);
    assert.deepEqual(readdir(dataDir), []);
  });

  it('reports every error of a file in one pass: fields, names across entries, the meter profile', () => {
    const file = join(root, 'many-errors.yaml');
    const dataDir = join(root, 'many-errors-device');
    writeFileSync(
      file,
      `${COMMISSIONING.replace(`password: "${AUDITOR_PASSWORD}"`, 'password: short')
        .replace('name: electrician', 'name: Engineer1')
        .replace(
          'preset: read-only',
          'preset: readonly',
        )}meter: modbus-tcp://127.0.0.1:502?unit=1&profile=${join(root, 'no-such-profile.json')}\n`,
    );
    const result = runCli(['provision', '--data-dir', dataDir, '--file', file]);
    assert.equal(result.status, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.match(lines.join('\n'), /users\[1\]\.password: password must be at least 10 characters/);
    assert.match(lines.join('\n'), /apiKeys\[0\]\.preset: unknown preset 'readonly'/);
    assert.match(lines.join('\n'), /users\[2\]\.name: the name 'Engineer1' is already used by users\[0\]/);
    assert.match(lines.join('\n'), /:\d+: meter: profile '.*no-such-profile\.json'/);
    assert.equal(lines.at(-1), `metergate provision: 4 errors in ${file}; nothing was created`);
    assert.ok(!existsSync(dataDir), 'no data dir');
  });

  it('refuses a data dir that already holds a flash image or keys, and changes nothing', () => {
    const file = join(root, 'minimal.yaml');
    writeFileSync(file, `version: 1\nadmin:\n  password: "${ADMIN_PASSWORD}"\n`);
    const dataDir = join(root, 'used');
    assert.equal(runCli(['provision', '--data-dir', dataDir, '--file', file]).status, 0);
    const before = [sha256(join(dataDir, 'flash.img')), sha256(join(dataDir, 'keys', 'root.key'))];
    const again = runCli(['provision', '--data-dir', dataDir, '--file', file]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already holds a flash image \(flash\.img\)/);
    assert.deepEqual([sha256(join(dataDir, 'flash.img')), sha256(join(dataDir, 'keys', 'root.key'))], before);

    const keysOnly = join(root, 'keys-only');
    mkdirSync(join(keysOnly, 'keys'), { recursive: true });
    writeFileSync(join(keysOnly, 'keys', 'root.key'), Buffer.alloc(32), { mode: 0o600 });
    const refused = runCli(['provision', '--data-dir', keysOnly, '--file', file]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /already holds device keys/);
    assert.deepEqual(readdir(keysOnly), ['keys']);
  });

  it('provisions docs/examples/commissioning.yaml, with a generated admin password shown once', async (t) => {
    const dataDir = join(root, 'example');
    const example = join(REPO_ROOT, 'docs', 'examples', 'commissioning.yaml');
    const result = runCli(['provision', '--data-dir', dataDir, '--file', example], 60_000);
    assert.equal(result.status, 0, result.stderr);
    const generated = /^admin password \(generated, shown only now\): (\S+)$/m.exec(result.stdout)?.[1];
    assert.ok(generated && generated.length >= 20, result.stdout);
    assert.equal(result.stdout.split(generated).length, 2, 'shown exactly once');
    assert.ok(!result.stderr.includes(generated));

    const { ca, httpsUrl } = await boot(dataDir, t.after.bind(t));
    const admin = new DeviceClient(httpsUrl, { ca });
    assert.equal((await admin.login('admin', generated)).mustChangePassword, false);
    const { slots } = await get<{ slots: SlotView[] }>(admin, '/api/v1/users');
    assert.deepEqual(
      slots.filter((s) => s.slot >= 3 && s.type !== 'empty').map((s) => s.name),
      ['engineer1', 'security.officer', 'electrician', 'scada'],
    );
    assert.deepEqual(slots[2]?.permissions, ['measurements.read']);
    const engineer = new DeviceClient(httpsUrl, { ca });
    await engineer.login('engineer1', 'Schalt-Schrank 2026');
    assert.deepEqual(
      (await get<MeBody>(engineer, '/api/v1/me')).permissions,
      permissionNames(ROLE_TEMPLATES.ENGINEER.permissions),
    );
  });

  it('--help prints the usage; missing flags and stray arguments are usage errors', () => {
    const help = runCli(['provision', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: metergate provision --data-dir DIR --file FILE/);
    assert.match(runCli(['--help']).stdout, /provision {7,}build a new device data dir/);
    const missing = runCli(['provision', '--data-dir', join(root, 'nothing')]);
    assert.equal(missing.status, 2);
    assert.equal(
      missing.stderr,
      'metergate provision: --file is required: the commissioning file (YAML or JSON)\n',
    );
    const positional = runCli(['provision', '--data-dir', join(root, 'nothing'), 'commissioning.yaml']);
    assert.equal(positional.status, 2);
    assert.equal(positional.stderr, "metergate provision: unexpected argument 'commissioning.yaml'\n");
  });
});

function readdir(path: string): string[] {
  return existsSync(path) ? readdirSync(path).sort() : [];
}
