/**
 * The update path from the vendor's workstation to the device, through the real interfaces: `npm run
 * bundle -- keygen` makes the signing key, `npm run bundle -- --key … --payload …` builds a bundle,
 * install-time trust is the key's .pub line in the layout's trusted-keys, and `metergate update` (the
 * built CLI, in a kept session) uploads it to the device process; a bundle signed by another key is
 * refused with its code, and `update status` shows what is pending.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { writeArchive } from '../../../firmware/update/payload-archive.ts';
import { REPO_ROOT, type RunningDevice, startDevice } from '../../support/device-process.ts';
import {
  fakeBundle,
  fakeFirmware,
  type Layout,
  newLayout,
  STRANGER_KEY,
} from '../../support/update-fixture.ts';
import { cli } from './cli-process.ts';

const ADMIN_PASSWORD = 'Firmware-Depot-2026';

/** `npm run bundle -- ARGS` as a vendor runs it from `cwd` (npm sets INIT_CWD). */
function bundleScript(args: readonly string[], cwd: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts', 'bundle.ts'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, INIT_CWD: cwd },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('metergate update, with a bundle from npm run bundle', () => {
  let root: string;
  let layout: Layout;
  let device: RunningDevice;
  let session: Record<string, string>;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'metergate-cli-update-'));
    const keygen = bundleScript(['keygen', '--out', 'vendor.key', '--comment', 'vendor 2026'], root);
    assert.equal(keygen.status, 0, keygen.stderr);
    assert.equal(
      bundleScript(['keygen', '--out', 'vendor.key'], root).status,
      2,
      'a key is never overwritten',
    );
    layout = newLayout();
    // What install-pi.sh --update-key vendor.key.pub installs.
    copyFileSync(join(root, 'vendor.key.pub'), join(layout.firmware, 'trusted-keys'));
    device = await startDevice([
      '--data-dir',
      join(root, 'device'),
      '--firmware-dir',
      layout.firmware,
      '--update-spool',
      layout.spool,
    ]);
    const httpsUrl = `https://127.0.0.1:${device.ready.https}`;
    const fingerprint = new X509Certificate(readFileSync(join(root, 'device', 'tls', 'cert.pem')))
      .fingerprint256;
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
    rmSync(layout.root, { recursive: true, force: true });
  });

  it('update status: the running version of the layout, nothing pending', async () => {
    const status = await cli(['update', 'status'], session);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^running: 1\.0\.0 \(slot a, from a checkout\)$/m);
    assert.match(status.stdout, /^pending: none$/m);
  });

  it('update --file: a bundle signed by a key the device does not trust is refused with its code', async () => {
    writeFileSync(join(root, 'foreign.mgb'), fakeBundle('1.1.0', { key: STRANGER_KEY.secretKey }));
    const refused = await cli(['update', '--file', join(root, 'foreign.mgb'), '--later'], session);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /bundle\.unknown-key/);
    assert.ok(!existsSync(join(layout.spool, 'pending.mgb')));
  });

  it('update --file --later: the vendor-signed bundle is accepted and waits for the next start', async () => {
    const payload = join(root, 'payload');
    mkdirSync(payload);
    writeArchive(fakeFirmware('1.1.0'), payload);
    const built = bundleScript(['--key', 'vendor.key', '--payload', 'payload', '--out', 'v1.1.0.mgb'], root);
    assert.equal(built.status, 0, built.stderr);
    assert.match(built.stdout, /metergate 1\.1\.0 for linux-/);
    const accepted = await cli(['update', '--file', join(root, 'v1.1.0.mgb'), '--later'], session);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stdout, /accepted: metergate 1\.1\.0 .*installed at the next start/);
    assert.ok(existsSync(join(layout.spool, 'pending.mgb')));
    const status = await cli(['update', 'status'], session);
    assert.match(status.stdout, /^pending: a bundle waits for the next start$/m);
  });
});
