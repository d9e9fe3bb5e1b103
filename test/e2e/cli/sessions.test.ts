/**
 * Sessions as a resource, through the CLI and REST against the device process: a user lists its own
 * sessions and logs out everywhere; an administrator lists and ends another user's; a less privileged
 * security administrator cannot end the sessions of the admin (climbing rule), and that is logged.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { type RunningDevice, startDevice } from '../../support/device-process.ts';
import { cli } from './cli-process.ts';

const ADMIN_PASSWORD = 'Substation-Key-4410';
const SECADM_PASSWORD = 'Ring-Main-Unit 73';

describe('metergate sessions and /api/v1/sessions', () => {
  let root: string;
  let device: RunningDevice;
  let httpsUrl: string;
  let fingerprint: string;
  let admin: DeviceClient;
  let secadmSlot: number;

  const client = () => new DeviceClient(httpsUrl, { fingerprint });

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'metergate-cli-sessions-'));
    device = await startDevice(['--data-dir', join(root, 'device')]);
    httpsUrl = `https://127.0.0.1:${device.ready.https}`;
    fingerprint = new X509Certificate(readFileSync(join(root, 'device', 'tls', 'cert.pem'))).fingerprint256;
    admin = client();
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
    const created = await admin.request<{ slot: number }>('POST', '/api/v1/users', {
      type: 'user',
      name: 'secadm1',
      role: 'SECADM',
      password: await admin.seal('secadm1', SECADM_PASSWORD),
    });
    assert.equal(created.status, 201);
    secadmSlot = created.body.slot;
  });

  after(async () => {
    await device?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** secadm1 logged in, its password no longer must-change (set by the admin: must change first). */
  async function secadm(): Promise<DeviceClient> {
    const c = client();
    const me = await c.login('secadm1', SECADM_PASSWORD);
    if (me.mustChangePassword)
      await c.changeOwnPassword('secadm1', SECADM_PASSWORD, SECADM_PASSWORD.replace('73', '74'));
    return c;
  }

  it("a less privileged security administrator cannot end the admin's sessions (attack); the admin stays logged in", async () => {
    const attacker = await secadm();
    const attempt = await attacker.request<{ error: { code: string } }>('DELETE', '/api/v1/users/0/sessions');
    assert.equal(attempt.status, 403);
    assert.equal(attempt.body.error.code, 'entry-more-privileged');
    const still = await admin.request<{ kind: string }>('GET', '/api/v1/me');
    assert.equal(still.body.kind, 'session', 'the admin session survived');
    const list = await attacker.request('GET', '/api/v1/users/0/sessions');
    assert.equal(list.status, 200, 'seeing them is security.read');
    const audit = await admin.request<{ events: { type: string; result: string; slot?: number }[] }>(
      'GET',
      '/api/v1/audit?type=sessions.end',
    );
    assert.ok(
      audit.body.events.some((e) => e.result === 'denied' && e.slot === secadmSlot),
      'the attempt is logged',
    );
  });

  it('CLI: list your sessions, log out everywhere (the kept session file goes too)', async () => {
    const other = client();
    await other.login('admin', ADMIN_PASSWORD);
    const file = join(root, 'admin.session');
    const login = await cli(
      ['login', '--url', httpsUrl, '--fingerprint', fingerprint, '--session-file', file],
      {
        METERGATE_PASSWORD: ADMIN_PASSWORD,
      },
    );
    assert.equal(login.code, 0, login.stderr);
    const list = await cli(['sessions', 'list', '--session-file', file]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout.trim().split('\n').length, 3, list.stdout);
    assert.match(list.stdout, /\(this one\)/);
    assert.doesNotMatch(
      list.stdout,
      new RegExp(JSON.parse(readFileSync(file, 'utf8')).cookie.split('=')[1]),
      'no token shown',
    );
    const end = await cli(['sessions', 'end', '--session-file', file]);
    assert.equal(end.code, 0, end.stderr);
    assert.match(end.stdout, /3 sessions of admin ended/);
    assert.equal(existsSync(file), false);
    assert.equal(
      (await other.request<{ kind: string }>('GET', '/api/v1/me')).body.kind,
      'anonymous',
      'ended everywhere',
    );
    assert.equal((await admin.request<{ kind: string }>('GET', '/api/v1/me')).body.kind, 'anonymous');
    admin = client();
    await admin.login('admin', ADMIN_PASSWORD);
  });

  it("CLI: the admin lists and ends a user's sessions", async () => {
    const user = await secadm();
    const keyless = await cli(
      ['sessions', 'list', 'secadm1', '--url', httpsUrl, '--fingerprint', fingerprint],
      {
        METERGATE_PASSWORD: ADMIN_PASSWORD,
      },
    );
    assert.equal(keyless.code, 0, keyless.stderr);
    assert.match(keyless.stdout, /https\s+127\.0\.0\.1/);
    const end = await cli(['sessions', 'end', 'secadm1', '--url', httpsUrl, '--fingerprint', fingerprint], {
      METERGATE_PASSWORD: ADMIN_PASSWORD,
    });
    assert.equal(end.code, 0, end.stderr);
    assert.equal((await user.request<{ kind: string }>('GET', '/api/v1/me')).body.kind, 'anonymous');
  });
});
