/**
 * The CLI for the REST resources, against the real device process, in one kept session: settings and
 * security get|set (what the device then reports), users disable|enable, audit list / export (JSON lines, CSV) / follow.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { CLI_ENTRY, type RunningDevice, startDevice } from '../../support/device-process.ts';
import { createOpensslCa, makeServerCertificate } from '../../support/openssl-ca.ts';
import { cli } from './cli-process.ts';

const ADMIN_PASSWORD = 'Substation-Key-4410';

describe('metergate settings, security, audit against a running device', () => {
  let root: string;
  let device: RunningDevice;
  let session: Record<string, string>;
  let httpsUrl: string;
  let fingerprint: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'metergate-cli-admin-'));
    device = await startDevice([
      '--data-dir',
      join(root, 'device'),
      '--modbus-port',
      '0',
      '--modbus-tls-port',
      '0',
    ]);
    httpsUrl = `https://127.0.0.1:${device.ready.https}`;
    fingerprint = new X509Certificate(readFileSync(join(root, 'device', 'tls', 'cert.pem'))).fingerprint256;
    const admin = new DeviceClient(httpsUrl, { fingerprint });
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
    session = { METERGATE_SESSION: join(root, 'admin.session') };
    const login = await cli(['login', '--url', httpsUrl, '--fingerprint', fingerprint], {
      ...session,
      METERGATE_PASSWORD: ADMIN_PASSWORD,
    });
    assert.equal(login.code, 0, login.stderr);
  });

  after(async () => {
    await device?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('users disable|enable: the entry stays listed, its logins are refused until enabled; never the admin', async () => {
    const password = 'Kilowatt-Lantern-5120';
    const add = await cli(['users', 'add', 'meter.reader', '--role', 'VIEWER'], {
      ...session,
      METERGATE_NEW_PASSWORD: password,
    });
    assert.equal(add.code, 0, add.stderr);
    const disable = await cli(['users', 'disable', 'meter.reader'], session);
    assert.equal(disable.code, 0, disable.stderr);
    assert.match(disable.stdout, /meter\.reader \(slot \d\) disabled/);
    assert.match((await cli(['users', 'list'], session)).stdout, /meter\.reader .*disabled/);
    await assert.rejects(new DeviceClient(httpsUrl, { fingerprint }).login('meter.reader', password), {
      code: 'invalid-credentials',
    });
    const enable = await cli(['users', 'enable', 'meter.reader'], session);
    assert.equal(enable.code, 0, enable.stderr);
    await new DeviceClient(httpsUrl, { fingerprint }).login('meter.reader', password);
    const admin = await cli(['users', 'disable', 'admin'], session);
    assert.equal(admin.code, 1);
    assert.match(admin.stderr, /recovery account.*\(HTTP 409 protected-slot\)/);
  });

  it('settings get|set: the config resource, whole or by key; a bad value is the device error', async () => {
    const set = await cli(['settings', 'set', 'measurement.ctRatio=200', 'communication.unitId=7'], session);
    assert.equal(set.code, 0, set.stderr);
    const ct = await cli(['settings', 'get', 'measurement.ctRatio'], session);
    assert.equal(ct.stdout.trim(), '200');
    const all = JSON.parse((await cli(['settings', 'get'], session)).stdout);
    assert.equal(all.communication.unitId, 7);
    const bad = await cli(['settings', 'set', 'communication.unitId=0'], session);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /communication\.unitId.*\(HTTP 400/);
    const unknown = await cli(['settings', 'get', 'nope'], session);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no setting 'nope'/);
  });

  it('security get|set: lockout and whitelist change on the device', async () => {
    const set = await cli(
      ['security', 'set', 'lockout.lockSeconds=900', 'whitelist=["127.0.0.1","192.0.2.0/24"]'],
      session,
    );
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await cli(['security', 'get', 'lockout.lockSeconds'], session)).stdout.trim(), '900');
    assert.deepEqual(JSON.parse((await cli(['security', 'get', 'whitelist'], session)).stdout), [
      '127.0.0.1',
      '192.0.2.0/24',
    ]);
    const lockOut = await cli(['security', 'set', 'whitelist=["192.0.2.0/24"]'], session);
    assert.equal(lockOut.code, 1);
    assert.match(lockOut.stderr, /whitelist would drop your own connection/);
    assert.equal((await cli(['security', 'set', 'whitelist=[]'], session)).code, 0);
  });

  it('modbus enable, principal, unit id, CA and CRL upload; show reports them', async (t) => {
    assert.equal((await cli(['modbus', 'enable', 'tcp'], session)).code, 0);
    const display = await cli(['modbus', 'principal', 'localgui'], session);
    assert.equal(display.code, 1, 'localgui is the display’s slot, never a Modbus principal');
    assert.match(display.stderr, /localgui \(slot 1\) is what the display may do/);
    const principal = await cli(['modbus', 'principal', 'admin'], session);
    assert.equal(principal.code, 0, principal.stderr);
    assert.match(principal.stdout, /act as slot 0 \(admin\)/);
    assert.equal((await cli(['modbus', 'unit-id', '9'], session)).code, 0);
    const ca = createOpensslCa(t);
    const caFile = join(root, 'modbus-ca.pem');
    writeFileSync(caFile, ca.cert);
    const upload = await cli(['modbus', 'ca', caFile], session);
    assert.equal(upload.code, 0, upload.stderr);
    const crlFile = join(root, 'modbus.crl');
    writeFileSync(crlFile, ca.crl());
    const crl = await cli(['modbus', 'crl', crlFile], session);
    assert.equal(crl.code, 0, crl.stderr);
    assert.match(crl.stdout, /CRL installed: 0 revoked/);
    const show = JSON.parse((await cli(['modbus', 'show'], session)).stdout);
    assert.equal(show.modbusTcp, true);
    assert.equal(show.modbusSlot, 0);
    assert.equal(show.unitId, 9);
    assert.ok(show.ca?.fingerprint256);
    assert.equal(show.crl?.revoked, 0);
    const bad = await cli(['modbus', 'unit-id', '300'], session);
    assert.equal(bad.code, 2);
    assert.equal((await cli(['modbus', 'principal', 'nobody_here'], session)).code, 1);
    assert.equal((await cli(['modbus', 'disable', 'tcp'], session)).code, 0);
  });

  it('registry open, list, deny, close', async () => {
    assert.equal((await cli(['registry', 'open'], session)).code, 0);
    const request = await fetch(`http://127.0.0.1:${device.ready.http}/api/v1/registry/requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'scada_cli', publicKey: Buffer.alloc(32, 7).toString('base64url') }),
    });
    assert.ok(request.status < 300, await request.text());
    const list = await cli(['registry', 'list'], session);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^open, \d+ s left/);
    const id = /^(\S+)\s+scada_cli\s/m.exec(list.stdout)?.[1];
    assert.ok(id, list.stdout);
    assert.equal((await cli(['registry', 'deny', id], session)).code, 0);
    assert.doesNotMatch((await cli(['registry', 'list'], session)).stdout, /scada_cli/);
    assert.equal((await cli(['registry', 'close'], session)).code, 0);
    assert.match((await cli(['registry', 'list'], session)).stdout, /^closed/);
    assert.equal((await cli(['registry', 'allow', 'x'], session)).code, 2, 'allow without --preset');
  });

  it('tls show, upload, reset: the new fingerprint is printed and the kept session moves to it', async (t) => {
    const show = await cli(['tls', 'show'], session);
    assert.equal(show.code, 0, show.stderr);
    assert.ok(show.stdout.includes(`fingerprint: ${fingerprint}`));
    assert.match(show.stdout, /source: self-signed/);

    const issued = makeServerCertificate(t, { key: 'ec:prime256v1' });
    const certFile = join(root, 'server.pem');
    const keyFile = join(root, 'server.key');
    writeFileSync(certFile, issued.cert);
    writeFileSync(keyFile, issued.key, { mode: 0o600 });
    const upload = await cli(['tls', 'upload', '--cert', certFile, '--key', keyFile], session);
    assert.equal(upload.code, 0, upload.stderr);
    assert.match(upload.stdout, /source: uploaded/);
    assert.ok(upload.stdout.includes(`trust it with --fingerprint ${issued.fingerprint256}`));
    const afterUpload = await cli(['tls', 'show'], session);
    assert.equal(
      afterUpload.code,
      0,
      `the kept session trusts the uploaded certificate: ${afterUpload.stderr}`,
    );

    assert.equal((await cli(['tls', 'reset'], session)).code, 2, 'reset needs --yes');
    const reset = await cli(['tls', 'reset', '--yes'], session);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /source: self-signed/);
    const fresh = /fingerprint: (\S+)/.exec(reset.stdout)?.[1];
    assert.ok(fresh && fresh !== fingerprint && fresh !== issued.fingerprint256, 'a new certificate');
    // The device presents it now: a client pinning the new fingerprint gets through, the old one not.
    const pinned = new DeviceClient(httpsUrl, { fingerprint: fresh });
    assert.equal((await pinned.request('GET', '/api/v1/info')).status, 200);
    await assert.rejects(new DeviceClient(httpsUrl, { fingerprint }).request('GET', '/api/v1/info'), /not/);
    const settings = await cli(['tls', 'show'], session);
    assert.equal(settings.code, 0, settings.stderr);
    fingerprint = fresh;
  });

  it('audit list, export as JSON lines and CSV (0600, oldest first)', async () => {
    const list = await cli(['audit', 'list', '--limit', '5', '--type', 'settings'], session);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /settings\.change\s+https\s+ok\s+slot 0/);
    const jsonl = join(root, 'audit.jsonl');
    const exported = await cli(['audit', 'export', '--format', 'jsonl', '--output', jsonl], session);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(statSync(jsonl).mode & 0o777, 0o600);
    const events = readFileSync(jsonl, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.ok(events.length > 3);
    assert.equal(events[0].type, 'first-boot', 'oldest first');
    assert.ok(events.every((e, i) => i === 0 || e.id > events[i - 1].id));
    const csv = await cli(['audit', 'export', '--format', 'csv', '--type', 'login'], session);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trim().split('\n');
    assert.equal(rows[0], 'id,time,type,interface,result,slot,role,source,detail');
    assert.ok(
      rows.slice(1).every((row) => /^\d+,[^,]+,login,/.test(row)),
      csv.stdout,
    );
    const noFormat = await cli(['audit', 'export'], session);
    assert.equal(noFormat.code, 2);
  });

  it('audit follow prints an event logged after it started', async () => {
    const child = spawn(process.execPath, [CLI_ENTRY, 'audit', 'follow', '--interval', '1'], {
      env: { ...process.env, ...session },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk;
      });
      await new Promise<void>((resolve, reject) => {
        const check = () => (stderr.includes('following') ? resolve() : undefined);
        child.stderr.on('data', check);
        child.on('exit', () => reject(new Error(`follow exited: ${stderr}`)));
      });
      // A wrong API key is an event (apikey.auth failed).
      const stranger = new DeviceClient(httpsUrl, { fingerprint, apiKey: `mgk_${'A'.repeat(43)}` });
      await stranger.request('GET', '/api/v1/measurements');
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk;
          if (/apikey\.auth\s+https\s+failed/.test(stdout)) resolve();
        });
        child.on('exit', () => reject(new Error(`follow exited: ${stderr}`)));
      });
    } finally {
      clearTimeout(timer);
      child.kill('SIGKILL');
    }
  });

  // Last: a restore ends every session, the kept one too.
  it('backup --out and restore --file: a file of its own format, refused with a wrong passphrase, restored as a new commit', async () => {
    const out = join(root, 'meter.mgbackup');
    const passphraseFile = join(root, 'backup.pass');
    writeFileSync(passphraseFile, 'Cabinet B spare meter 2026\n', { mode: 0o600 });
    const weakFile = join(root, 'weak.pass');
    writeFileSync(weakFile, 'too short\n');
    const weak = await cli(['backup', '--out', out, '--passphrase-file', weakFile], session);
    assert.equal(weak.code, 2);
    assert.match(weak.stderr, /at least 12/);
    const made = await cli(['backup', '--out', out, '--passphrase-file', passphraseFile], session);
    assert.equal(made.code, 0, made.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.equal(readFileSync(out).subarray(0, 16).toString('ascii'), 'metergate-backup');
    const again = await cli(['backup', '--out', out, '--passphrase-file', passphraseFile], session);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists; not overwriting/);

    const wrongFile = join(root, 'wrong.pass');
    writeFileSync(wrongFile, 'Cabinet B spare meter 2025\n');
    const wrong = await cli(['restore', '--file', out, '--passphrase-file', wrongFile], session);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /passphrase does not open this backup.*\(backup-wrong-passphrase\)/);

    const counterFile = join(root, 'device', 'keys', 'rollback.counter');
    const counterBefore = Number(readFileSync(counterFile, 'ascii'));
    const restored = await cli(['restore', '--file', out, '--passphrase-file', passphraseFile], session);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /every session ended/);
    assert.match(restored.stdout, new RegExp(`serves the backup's certificate: ${fingerprint}`));
    assert.ok(Number(readFileSync(counterFile, 'ascii')) > counterBefore, 'the counter went forward');
    const ended = await cli(['users', 'list'], session);
    assert.equal(ended.code, 1);
    assert.match(ended.stderr, /session .*ended/i);
  });
});
