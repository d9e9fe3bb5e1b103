/**
 * `metergate export --commissioning` round trip, with the real CLI and two device processes: a
 * configured device is exported, a new data dir is provisioned from the file, and the new device has
 * the same users (roles, permissions, local-only), API keys (presets), standard users' rights and
 * security settings, with new generated passwords and keys, none of the old secrets in the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { type RunningDevice, startDevice } from '../../support/device-process.ts';
import type { SlotView } from '../../support/rest-fixture.ts';
import { cli } from './cli-process.ts';

const ADMIN_PASSWORD = 'Umspann-Werk 2026!';
const ENGINEER_PASSWORD = 'Feeder-Bay-4471';
const ELECTRICIAN_PASSWORD = 'Kabel-Trommel 51';

describe('export --commissioning, then provision a new device from it', () => {
  let root: string;
  let source: RunningDevice;
  let admin: DeviceClient;
  let apiKey: string;
  const devices: RunningDevice[] = [];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'metergate-export-'));
    source = await startDevice(['--data-dir', join(root, 'source')]);
    devices.push(source);
    admin = new DeviceClient(`https://127.0.0.1:${source.ready.https}`, {
      ca: readFileSync(join(root, 'source', 'tls', 'cert.pem'), 'utf8'),
    });
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
    const ok = async (method: string, path: string, body: unknown, status = 200) => {
      const response = await admin.request(method, path, body);
      assert.equal(response.status, status, `${method} ${path}: ${JSON.stringify(response.body)}`);
      return response;
    };
    await ok(
      'POST',
      '/api/v1/users',
      {
        type: 'user',
        name: 'engineer1',
        password: await admin.seal('engineer1', ENGINEER_PASSWORD),
        role: 'ENGINEER',
      },
      201,
    );
    await ok(
      'POST',
      '/api/v1/users',
      {
        type: 'user',
        name: 'electrician',
        password: await admin.seal('electrician', ELECTRICIAN_PASSWORD),
        permissions: ['measurements.read', 'meters.read', 'meters.reset'],
        localOnly: true,
      },
      201,
    );
    const key = await ok(
      'POST',
      '/api/v1/users',
      { type: 'api-key', name: 'scada', preset: 'read-only' },
      201,
    );
    apiKey = (key.body as { key: string }).key;
    await ok('PATCH', '/api/v1/users/2', { permissions: ['measurements.read'] });
    await ok('PATCH', '/api/v1/security', {
      whitelist: ['127.0.0.1', '10.20.0.0/16'],
      hostnames: ['meter-17.plant.example'],
      passwordMinLength: 11,
      lockout: { lockSeconds: 600 },
    });
    await ok('PATCH', '/api/v1/config', { communication: { modbusTcp: true } });
  });

  after(async () => {
    for (const device of devices) await device.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('the new device has the same users, keys and settings, with new secrets', async () => {
    const file = join(root, 'exported.yaml');
    const url = `https://127.0.0.1:${source.ready.https}`;
    const exported = await cli(
      [
        'export',
        '--commissioning',
        '--out',
        file,
        '--url',
        url,
        '--ca',
        join(root, 'source', 'tls', 'cert.pem'),
      ],
      { METERGATE_PASSWORD: ADMIN_PASSWORD },
    );
    assert.equal(exported.code, 0, exported.stderr);
    const text = readFileSync(file, 'utf8');
    for (const secret of [ADMIN_PASSWORD, ENGINEER_PASSWORD, ELECTRICIAN_PASSWORD, apiKey]) {
      assert.ok(!text.includes(secret), 'a secret is in the exported file');
    }
    assert.doesNotMatch(text, /password:/);
    assert.match(text, /^# Commissioning file exported from /);

    const target = join(root, 'target');
    const provisioned = await cli(['provision', '--data-dir', target, '--file', file]);
    assert.equal(provisioned.code, 0, `${provisioned.stderr}\n${text}`);
    const generated = (name: string) =>
      new RegExp(
        `${name === 'admin' ? 'admin password' : `password of ${name}`} \\(generated[^:]*: (\\S+)`,
      ).exec(provisioned.stdout)?.[1];
    const newAdminPassword = generated('admin');
    const newEngineerPassword = generated('engineer1');
    assert.ok(newAdminPassword && newEngineerPassword && generated('electrician'), provisioned.stdout);
    assert.match(provisioned.stdout, /API key scada \(read-only, shown only now\): \S+/);

    const copy = await startDevice(['--data-dir', target]);
    devices.push(copy);
    const newAdmin = new DeviceClient(`https://127.0.0.1:${copy.ready.https}`, {
      ca: readFileSync(join(target, 'tls', 'cert.pem'), 'utf8'),
    });
    await newAdmin.login('admin', newAdminPassword);
    const slotsOf = async (client: DeviceClient) =>
      (await client.request<{ slots: SlotView[] }>('GET', '/api/v1/users')).body.slots.map(
        ({ epoch: _epoch, flags, ...rest }) => ({
          ...rest,
          // Generated passwords are to be changed at first login: the one difference, and meant.
          flags: flags.filter((flag) => flag !== 'must-change-password').sort(),
        }),
      );
    assert.deepEqual(await slotsOf(newAdmin), await slotsOf(admin));
    const newSlots = (await newAdmin.request<{ slots: SlotView[] }>('GET', '/api/v1/users')).body.slots;
    assert.ok(newSlots.find((s) => s.name === 'engineer1')?.flags.includes('must-change-password'));
    assert.deepEqual(
      (await newAdmin.request('GET', '/api/v1/security')).body,
      (await admin.request('GET', '/api/v1/security')).body,
    );
    const modbus = async (client: DeviceClient) =>
      (await client.request<{ communication: { modbusTcp: boolean } }>('GET', '/api/v1/config')).body
        .communication.modbusTcp;
    assert.equal(await modbus(newAdmin), true);
    // The old secrets do not work there; the new ones do.
    await assert.rejects(
      new DeviceClient(`https://127.0.0.1:${copy.ready.https}`, {
        ca: readFileSync(join(target, 'tls', 'cert.pem'), 'utf8'),
      }).login('engineer1', ENGINEER_PASSWORD),
    );
    const engineer = new DeviceClient(`https://127.0.0.1:${copy.ready.https}`, {
      ca: readFileSync(join(target, 'tls', 'cert.pem'), 'utf8'),
    });
    const me = await engineer.login('engineer1', newEngineerPassword);
    assert.equal(me.mustChangePassword, true);
  });
});
