/**
 * Log in once per shell: `metergate login --session-file F` keeps the session in a 0600 file, the
 * commands after it reuse it (one `login` event in the device's audit log, no logout pairs), a session
 * the device has ended is one clear line, `metergate logout` ends it. Against the real device process.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { type RunningDevice, startDevice } from '../../support/device-process.ts';
import { cli } from './cli-process.ts';

const ADMIN_PASSWORD = 'Substation-Key-4410';
const OPERATOR_PASSWORD = 'Ring-Main-Unit 73';

interface AuditEvent {
  id: number;
  type: string;
  slot?: number;
  result: string;
}

describe('metergate login --session-file: one login per shell', () => {
  let root: string;
  let device: RunningDevice;
  let connection: string[];
  let admin: DeviceClient;

  /** The events of `type` newer than `after`, read with the test's own admin session. */
  async function events(type: string, afterId: number): Promise<AuditEvent[]> {
    const page = await admin.request<{ events: AuditEvent[] }>('GET', `/api/v1/audit?limit=200&type=${type}`);
    assert.equal(page.status, 200);
    return page.body.events.filter((e) => e.id > afterId && e.type === type);
  }

  async function newestEventId(): Promise<number> {
    const page = await admin.request<{ events: AuditEvent[] }>('GET', '/api/v1/audit?limit=1');
    return page.body.events[0]?.id ?? 0;
  }

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'metergate-cli-session-'));
    device = await startDevice(['--data-dir', join(root, 'device')]);
    const httpsUrl = `https://127.0.0.1:${device.ready.https}`;
    const fingerprint = new X509Certificate(readFileSync(join(root, 'device', 'tls', 'cert.pem')))
      .fingerprint256;
    connection = ['--url', httpsUrl, '--fingerprint', fingerprint];
    admin = new DeviceClient(httpsUrl, { fingerprint });
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
  });

  after(async () => {
    await device?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('login keeps a 0600 session; two commands after it add one login event and no logout', async () => {
    const file = join(root, 'admin.session');
    const since = await newestEventId();
    const login = await cli(['login', ...connection, '--session-file', file], {
      METERGATE_PASSWORD: ADMIN_PASSWORD,
    });
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, new RegExp(`session kept in ${file}`));
    assert.equal(statSync(file).mode & 0o777, 0o600, 'the session file is readable by its owner only');
    assert.doesNotMatch(readFileSync(file, 'utf8'), /Substation/, 'no password in the session file');

    // No password and no --url: everything comes from the kept session ($METERGATE_SESSION here).
    const first = await cli(['users', 'list'], { METERGATE_SESSION: file });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^0\s+user\s+admin/m);
    assert.doesNotMatch(first.stderr, /deriving the key/, 'no new key derivation');
    const second = await cli(['keys', 'add', 'k_session', '--preset', 'read-only', '--session-file', file]);
    assert.equal(second.code, 0, second.stderr);

    assert.equal((await events('login', since)).filter((e) => e.slot === 0).length, 1, 'one login event');
    assert.equal((await events('logout', since)).length, 0, 'no logout in between');

    const logout = await cli(['logout', '--session-file', file]);
    assert.equal(logout.code, 0, logout.stderr);
    assert.equal(existsSync(file), false, 'logout removes the file');
    assert.equal((await events('logout', since)).length, 1);
    const afterLogout = await cli(['users', 'list', '--session-file', file]);
    assert.equal(afterLogout.code, 1);
    assert.match(afterLogout.stderr.trim(), /^metergate users: no session in .*: log in first/);
    await cli(['keys', 'rm', 'k_session', ...connection], { METERGATE_PASSWORD: ADMIN_PASSWORD });
  });

  it('a session the device ended (its user changed) is one clear line, and the file goes', async () => {
    const passwordFile = join(root, 'operator.pw');
    writeFileSync(passwordFile, `${OPERATOR_PASSWORD}\n`, { mode: 0o600 });
    const add = await cli(
      ['users', 'add', 'op_kept', '--role', 'SECAUD', '--new-password-file', passwordFile, ...connection],
      { METERGATE_PASSWORD: ADMIN_PASSWORD },
    );
    assert.equal(add.code, 0, add.stderr);
    const file = join(root, 'operator.session');
    const login = await cli(['login', ...connection, '--user', 'op_kept', '--password-file', passwordFile], {
      METERGATE_SESSION: file,
    });
    assert.equal(login.code, 0, login.stderr);
    const slot = Number(/slot (\d)/.exec(login.stdout)?.[1]);
    // The administrator changes the operator's rights: the device ends the operator's sessions.
    const patch = await admin.request('PATCH', `/api/v1/users/${slot}`, { permissions: ['audit.read'] });
    assert.equal(patch.status, 200);
    const run = await cli(['users', 'list'], { METERGATE_SESSION: file });
    assert.equal(run.code, 1);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0] as string,
      /session of op_kept kept in .* has expired or ended .*: log in again with 'metergate login/,
    );
    assert.equal(existsSync(file), false, 'the dead session file is removed');
    await cli(['users', 'rm', 'op_kept', ...connection], { METERGATE_PASSWORD: ADMIN_PASSWORD });
  });

  it('renaming yourself keeps your session (REST and the kept session of the CLI)', async () => {
    const passwordFile = join(root, 'secadm.pw');
    writeFileSync(passwordFile, `${OPERATOR_PASSWORD}\n`, { mode: 0o600 });
    const add = await cli(
      ['users', 'add', 'sec_old', '--role', 'SECADM', '--new-password-file', passwordFile, ...connection],
      { METERGATE_PASSWORD: ADMIN_PASSWORD },
    );
    assert.equal(add.code, 0, add.stderr);
    const file = join(root, 'secadm.session');
    const login = await cli(['login', ...connection, '--user', 'sec_old', '--password-file', passwordFile], {
      METERGATE_SESSION: file,
    });
    assert.equal(login.code, 0, login.stderr);
    const rename = await cli(['users', 'rename', 'sec_old', 'sec_new'], { METERGATE_SESSION: file });
    assert.equal(rename.code, 0, rename.stderr);
    assert.match(rename.stdout, /sec_old \(slot \d\) renamed to sec_new; you stay logged in as sec_new/);
    const list = await cli(['users', 'list'], { METERGATE_SESSION: file });
    assert.equal(list.code, 0, `the session goes on after the rename: ${list.stderr}`);
    assert.match(list.stdout, /sec_new/);
    assert.match(readFileSync(file, 'utf8'), /"user": "sec_new"/);
    // The renewed session also changes state (its new CSRF token): rename back.
    const back = await cli(['users', 'rename', 'sec_new', 'sec_old'], { METERGATE_SESSION: file });
    assert.equal(back.code, 0, back.stderr);
    assert.equal((await cli(['logout'], { METERGATE_SESSION: file })).code, 0);
    await cli(['users', 'rm', 'sec_old', ...connection], { METERGATE_PASSWORD: ADMIN_PASSWORD });
  });

  it('a session file others can read is refused; so is one for another device or user', async () => {
    const file = join(root, 'loose.session');
    const login = await cli(['login', ...connection, '--session-file', file], {
      METERGATE_PASSWORD: ADMIN_PASSWORD,
    });
    assert.equal(login.code, 0, login.stderr);
    chmodSync(file, 0o644);
    const loose = await cli(['users', 'list', '--session-file', file]);
    assert.equal(loose.code, 1);
    assert.match(loose.stderr, /readable by others \(mode 644\): not using it/);
    chmodSync(file, 0o600);
    const otherDevice = await cli(['users', 'list', '--session-file', file, '--url', 'https://127.0.0.1:1']);
    assert.equal(otherDevice.code, 2);
    assert.match(otherDevice.stderr, /is for https:\/\/127\.0\.0\.1:\d+, not https:\/\/127\.0\.0\.1:1/);
    const otherUser = await cli(['users', 'list', '--session-file', file, '--user', 'someone']);
    assert.equal(otherUser.code, 2);
    assert.match(otherUser.stderr, /is admin's, not someone's/);
    assert.equal((await cli(['logout', '--session-file', file])).code, 0);
  });

  it('an API key file acts without any login', async () => {
    const keyFile = join(root, 'reader.key');
    const add = await cli(
      ['keys', 'add', 'k_reader', '--preset', 'all', '--key-file', keyFile, ...connection],
      {
        METERGATE_PASSWORD: ADMIN_PASSWORD,
      },
    );
    assert.equal(add.code, 0, add.stderr);
    const since = await newestEventId();
    const list = await cli(['users', 'list', ...connection, '--api-key-file', keyFile]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /k_reader/);
    assert.equal((await events('login', since)).length, 0);
    assert.equal(
      (await cli(['keys', 'rm', 'k_reader', ...connection], { METERGATE_PASSWORD: ADMIN_PASSWORD })).code,
      0,
    );
  });
});
