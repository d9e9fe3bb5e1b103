/**
 * The IEC 62351-8 role a user was created from is kept on flash and shown (REST flags, `users list`):
 * `role:NAME` while the permissions are the template's, `from-role:NAME` once they were changed.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { startDevice } from '../../support/device-process.ts';
import { cli } from './cli-process.ts';

const ADMIN_PASSWORD = 'Substation-Key-4410';

interface Slot {
  slot: number;
  name: string | null;
  flags: string[];
}

test('the role a user was created from is kept across a reboot and shown', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'metergate-cli-role-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'device');
  let device = await startDevice(['--data-dir', dir]);
  t.after(() => device.stop());
  const fingerprint = new X509Certificate(readFileSync(join(dir, 'tls', 'cert.pem'))).fingerprint256;
  const url = () => `https://127.0.0.1:${device.ready.https}`;
  let admin = new DeviceClient(url(), { fingerprint });
  await admin.login('admin', 'CBM_1234');
  await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);

  const passwordFile = join(root, 'op.pw');
  writeFileSync(passwordFile, 'Ring-Main-Unit 73\n', { mode: 0o600 });
  const connection = ['--url', url(), '--fingerprint', fingerprint];
  const add = await cli(
    ['users', 'add', 'op_role', '--role', 'OPERATOR', '--new-password-file', passwordFile, ...connection],
    { METERGATE_PASSWORD: ADMIN_PASSWORD },
  );
  assert.equal(add.code, 0, add.stderr);
  const list = await cli(['users', 'list', ...connection], { METERGATE_PASSWORD: ADMIN_PASSWORD });
  assert.match(list.stdout, /^\d\s+user\s+op_role\s+\S+\s+role:OPERATOR$/m);

  const slots = async () =>
    (await admin.request<{ slots: Slot[] }>('GET', '/api/v1/users')).body.slots.find(
      (s) => s.name === 'op_role',
    );
  const entry = await slots();
  assert.ok(entry?.flags.includes('role:OPERATOR'), 'the role is shown');
  if (!entry) return;
  const patch = await admin.request('PATCH', `/api/v1/users/${entry.slot}`, {
    permissions: ['measurements.read'],
  });
  assert.equal(patch.status, 200);
  assert.ok((await slots())?.flags.includes('from-role:OPERATOR'), 'changed permissions: the origin is kept');

  await device.stop();
  device = await startDevice(['--data-dir', dir]);
  admin = new DeviceClient(url(), { fingerprint });
  await admin.login('admin', ADMIN_PASSWORD);
  assert.ok((await slots())?.flags.includes('from-role:OPERATOR'), 'kept on flash across a reboot');
});
