/**
 * Backup and restore of the security settings between two device processes (IEC 62443-4-2 CR 7.3,
 * 7.4): device A is set up and backed up; device B (another data dir, another root and device key)
 * is the replacement meter. Attacks first: a backup over plain HTTP, by a user without security.write,
 * with a weak passphrase; a restore with the wrong passphrase, a changed byte, a cut file, a file of
 * another format version, or by a user without security.write: each refused with its code and B
 * unchanged (table, flash sequence, counter). Then the restore: A's users, passwords, API key,
 * settings, certificate and Modbus CA work on B, every session on B ended, and B's record sequence and
 * anti-rollback counter went forward (a restore never takes a device back).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { ClientError, DeviceClient } from '../../../firmware/client/device-client.ts';
import { createOpensslCa } from '../../support/openssl-ca.ts';
import {
  ADMIN_PASSWORD,
  type RestFixture,
  type SlotView,
  startRestFixture,
} from '../../support/rest-fixture.ts';

const PASSPHRASE = 'Feeder 7 spare meter, cabinet B';
const ENGINEER = 'field.eng';
const ENGINEER_PASSWORD = 'Feeder-Bay-4471';
const VIEWER = 'night.watch';
const VIEWER_PASSWORD = 'Substation-View-93';
/** security.write, but not every permission the admin holds. */
const SECADM = 'sec.officer';
const SECADM_PASSWORD = 'Relay-Cabinet-3307';

interface BackupFile {
  format: string;
  fileName: string;
  backup: string;
}

/** The sequence number of security record copy A (block 0, offset 8) in B's flash image. */
function flashSequence(dataDir: string): number {
  return readFileSync(join(dataDir, 'flash.img')).readUInt32BE(8);
}

function counter(dataDir: string): number {
  return Number(readFileSync(join(dataDir, 'keys', 'rollback.counter'), 'ascii').trim());
}

async function addUser(client: DeviceClient, name: string, password: string, role: string) {
  const created = await client.request('POST', '/api/v1/users', {
    type: 'user',
    name,
    password: await client.seal(name, password),
    role,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
}

describe('backup and restore to a replacement meter (two device processes)', () => {
  let a: RestFixture;
  let b: RestFixture;
  let apiKey: string;
  let file: BackupFile;
  let caPem: string;
  const cleanups: (() => unknown)[] = [];
  const t = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;

  before(async () => {
    [a, b] = await Promise.all([startRestFixture(), startRestFixture()]);
    await addUser(a.admin, ENGINEER, ENGINEER_PASSWORD, 'ENGINEER');
    await addUser(a.admin, VIEWER, VIEWER_PASSWORD, 'VIEWER');
    const key = await a.admin.request<{ key: string }>('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'scada.feed',
      preset: 'read-only',
    });
    assert.equal(key.status, 201);
    apiKey = key.body.key;
    const security = await a.admin.request('PATCH', '/api/v1/security', {
      passwordMinLength: 10,
      lockout: { lockSeconds: 900 },
    });
    assert.equal(security.status, 200, JSON.stringify(security.body));
    caPem = createOpensslCa(t).cert;
    const ca = await a.admin.request('PUT', '/api/v1/modbus/ca', { ca: caPem });
    assert.equal(ca.status, 200, JSON.stringify(ca.body));
    await addUser(b.admin, VIEWER, VIEWER_PASSWORD, 'VIEWER');
    await addUser(b.admin, SECADM, SECADM_PASSWORD, 'SECADM');
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    for (const cleanup of cleanups) await cleanup();
  });

  it('refuses a backup over plain HTTP, by a user without security.write, or with a weak passphrase', async () => {
    const overHttp = a.http();
    await overHttp.login('admin', ADMIN_PASSWORD);
    const http = await overHttp.request<{ error: { code: string } }>('POST', '/api/v1/backup', {
      passphrase: PASSPHRASE,
    });
    assert.equal(http.status, 403);
    assert.equal(http.body.error.code, 'https-required');
    const viewer = a.https();
    await viewer.login(VIEWER, VIEWER_PASSWORD);
    const denied = await viewer.request<{ error: { code: string } }>('POST', '/api/v1/backup', {
      passphrase: PASSPHRASE,
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'permission-denied');
    const weak = await a.admin.request<{ error: { code: string; field: string } }>('POST', '/api/v1/backup', {
      passphrase: 'short one',
    });
    assert.equal(weak.status, 400);
    assert.deepEqual([weak.body.error.code, weak.body.error.field], ['weak-passphrase', 'passphrase']);
  });

  it('makes a backup that names its format and holds no secret in plain text', async () => {
    const made = await a.admin.request<BackupFile>('POST', '/api/v1/backup', { passphrase: PASSPHRASE });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    file = made.body;
    assert.equal(file.format, 'metergate-backup/1');
    const bytes = Buffer.from(file.backup, 'base64');
    assert.equal(bytes.subarray(0, 16).toString('ascii'), 'metergate-backup');
    for (const secret of [ENGINEER, VIEWER, 'scada.feed', 'PRIVATE KEY', 'BEGIN CERTIFICATE']) {
      assert.ok(!bytes.includes(Buffer.from(secret)), `${secret} in plain text`);
    }
  });

  it('refuses a wrong passphrase, a changed byte, a cut file, another version, a user without security.write: B unchanged', async () => {
    const before = {
      users: (await b.admin.request('GET', '/api/v1/users')).body,
      sequence: flashSequence(b.dataDir),
      counter: counter(b.dataDir),
    };
    const bytes = Buffer.from(file.backup, 'base64');
    const changed = Buffer.from(bytes);
    changed[changed.length - 40] = (changed[changed.length - 40] as number) ^ 0x01;
    const otherVersion = Buffer.from(bytes);
    otherVersion[16] = 2;
    const attempts: [string, string, string][] = [
      ['wrong passphrase', file.backup, 'backup-wrong-passphrase'],
      ['changed byte', changed.toString('base64'), 'backup-damaged'],
      ['cut file', bytes.subarray(0, bytes.length - 100).toString('base64'), 'backup-truncated'],
      ['cut header', bytes.subarray(0, 30).toString('base64'), 'backup-truncated'],
      ['format version 2', otherVersion.toString('base64'), 'backup-format'],
      ['not a backup', Buffer.from('hello, meter').toString('base64'), 'backup-format'],
      // Larger than other bodies may be (a backup holds certificates at their upload limits): read.
      ['150 KB that are no backup', Buffer.alloc(150_000, 7).toString('base64'), 'backup-format'],
    ];
    for (const [what, backup, code] of attempts) {
      const passphrase = what === 'wrong passphrase' ? `${PASSPHRASE}!` : PASSPHRASE;
      const refused = await b.admin.request<{ error: { code: string; message: string } }>(
        'POST',
        '/api/v1/restore',
        { passphrase, backup },
      );
      assert.equal(refused.status, 400, `${what}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.error.code, code, `${what}: ${refused.body.error.message}`);
    }
    const viewer = b.https();
    await viewer.login(VIEWER, VIEWER_PASSWORD);
    const denied = await viewer.request<{ error: { code: string } }>('POST', '/api/v1/restore', {
      passphrase: PASSPHRASE,
      backup: file.backup,
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'permission-denied');
    const huge = await b.admin.request<{ error: { code: string } }>('POST', '/api/v1/restore', {
      passphrase: PASSPHRASE,
      backup: 'A'.repeat(300_000),
    });
    assert.equal(huge.status, 413, JSON.stringify(huge.body));
    // security.write alone does not replace entries holding more (the admin): no way up that way.
    const secadm = b.https();
    await secadm.login(SECADM, SECADM_PASSWORD);
    for (const path of ['/api/v1/restore', '/api/v1/backup']) {
      const lesser = await secadm.request<{ error: { code: string } }>('POST', path, {
        passphrase: PASSPHRASE,
        ...(path.endsWith('restore') && { backup: file.backup }),
      });
      assert.equal(lesser.status, 403, `${path}: ${JSON.stringify(lesser.body)}`);
      assert.equal(lesser.body.error.code, 'entry-more-privileged');
    }
    const overHttp = b.http();
    await overHttp.login('admin', ADMIN_PASSWORD);
    const http = await overHttp.request<{ error: { code: string } }>('POST', '/api/v1/restore', {
      passphrase: PASSPHRASE,
      backup: file.backup,
    });
    assert.equal(http.body.error.code, 'https-required');

    assert.deepEqual((await b.admin.request('GET', '/api/v1/users')).body, before.users);
    assert.equal(flashSequence(b.dataDir), before.sequence);
    assert.equal(counter(b.dataDir), before.counter);
    const audit = await b.admin.request<{ events: { type: string; result: string; detail?: string }[] }>(
      'GET',
      '/api/v1/audit?type=backup.restore',
    );
    assert.deepEqual(audit.body.events.map((e) => `${e.result} ${e.detail}`).reverse(), [
      'failed backup-wrong-passphrase',
      'failed backup-damaged',
      'failed backup-truncated',
      'failed backup-truncated',
      'failed backup-format',
      'failed backup-format',
      'failed backup-format',
      'denied entry-more-privileged',
    ]);
  });

  it('restores onto B: A’s users, key, settings and certificates work there, B’s sessions end, its counter goes forward', async () => {
    const before = { sequence: flashSequence(b.dataDir), counter: counter(b.dataDir) };
    const viewer = b.https();
    await viewer.login(VIEWER, VIEWER_PASSWORD);
    // The way the sessions are probed below sees them alive before the restore.
    for (const client of [b.admin, viewer]) {
      const probe = b.https();
      probe.resumeSession(client.session as { cookie: string; csrfToken: string });
      assert.equal((await probe.request<{ kind: string }>('GET', '/api/v1/me')).body.kind, 'session');
    }
    const restored = await b.admin.request<{ restored: boolean; from: string; sessionEnded: boolean }>(
      'POST',
      '/api/v1/restore',
      { passphrase: PASSPHRASE, backup: file.backup },
    );
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(restored.body.sessionEnded, true);

    // A new commit under B's own counter: both moved forward, never back to A's.
    assert.ok(flashSequence(b.dataDir) > before.sequence, 'the record sequence went forward');
    assert.ok(counter(b.dataDir) > before.counter, 'the anti-rollback counter went forward');

    // B now serves A's certificate: clients that trust A's reach B.
    const onB = (options = {}) => new DeviceClient(b.httpsUrl, { ca: a.ca, ...options });
    const tls = await onB().request<{ fingerprint256: string }>('GET', '/api/v1/info');
    assert.equal(tls.status, 200);
    // Every session on B ended (the admin's who restored, the viewer's).
    for (const [who, client] of [
      ['admin', b.admin],
      ['viewer', viewer],
    ] as const) {
      const fresh = onB();
      fresh.resumeSession(client.session as { cookie: string; csrfToken: string });
      const me = await fresh.request<{ kind: string }>('GET', '/api/v1/me');
      assert.equal(me.body.kind, 'anonymous', `${who}: ${JSON.stringify(me.body)}`);
    }

    const admin = onB();
    await admin.login('admin', ADMIN_PASSWORD);
    await onB().login(ENGINEER, ENGINEER_PASSWORD);
    assert.equal((await onB({ apiKey }).request('GET', '/api/v1/measurements')).status, 200);
    const usersA = (await a.admin.request<{ slots: SlotView[] }>('GET', '/api/v1/users')).body.slots;
    const usersB = (await admin.request<{ slots: SlotView[] }>('GET', '/api/v1/users')).body.slots;
    const view = (slots: SlotView[]) => slots.map(({ epoch: _epoch, ...rest }) => rest);
    assert.deepEqual(view(usersB), view(usersA));
    assert.deepEqual(
      (await admin.request('GET', '/api/v1/security')).body,
      (await a.admin.request('GET', '/api/v1/security')).body,
    );
    const tlsA = await a.admin.request<{ fingerprint256: string }>('GET', '/api/v1/tls');
    const tlsB = await admin.request<{ fingerprint256: string }>('GET', '/api/v1/tls');
    assert.equal(tlsB.body.fingerprint256, tlsA.body.fingerprint256);
    const caB = await admin.request<{ ca: { fingerprint256: string } | null }>('GET', '/api/v1/modbus/ca');
    const caA = await a.admin.request<{ ca: { fingerprint256: string } | null }>('GET', '/api/v1/modbus/ca');
    assert.equal(caB.body.ca?.fingerprint256, caA.body.ca?.fingerprint256);
    assert.ok(caB.body.ca);

    const audit = await admin.request<{ events: { type: string; result: string; detail?: string }[] }>(
      'GET',
      '/api/v1/audit?type=backup.restore',
    );
    const info = await a.admin.request<{ serialNumber: string }>('GET', '/api/v1/info');
    assert.equal(audit.body.events[0]?.result, 'ok');
    assert.match(audit.body.events[0]?.detail ?? '', new RegExp(`^from=${info.body.serialNumber} `));
    // The passwords B had are gone with its table: B's viewer had the same name, now A's entry.
    await assert.rejects(onB().login('admin', 'CBM_1234'), ClientError);
  });
});
