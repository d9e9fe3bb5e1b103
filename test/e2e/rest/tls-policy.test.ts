/**
 * Certificates that cannot break the device, on the real device process. `PUT /api/v1/tls` refuses,
 * before anything is stored and with a code naming the reason, what would leave the device unable to
 * boot or to complete a handshake: an RSA key under 2048 bits (RSA-512 used to be stored and the next
 * boot exited 70), a curve other than P-256/P-384 (secp256k1: every handshake failed), an Ed25519 key,
 * a SHA-1 signature. After each refusal a restart serves the certificate it served before. The Modbus
 * client CA upload applies the same key and signature rules. At boot, a stored certificate that
 * cannot be used falls back to a new self-signed one with a security event, and a damaged
 * `tls/key.sealed` is a security event, never a silent regeneration.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import nacl from 'tweetnacl';
import { TLS_FILES_PREFIX } from '../../../firmware/boot/data-dir.ts';
import { DeviceClient } from '../../../firmware/client/device-client.ts';
import { deriveKey } from '../../../firmware/keys/record-keys.ts';
import { AnchoredFiles } from '../../../firmware/store/anchored-files.ts';
import { cbor } from '../../../firmware/store/sealed-record.ts';
import { type RunningDevice, startDevice } from '../../support/device-process.ts';
import { makeServerCertificate } from '../../support/openssl-ca.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';
import { bootNormal } from '../../support/store-fixture.ts';

interface ErrorBody {
  error: { code: string; field?: string; message: string };
}
interface AuditEvent {
  type: string;
  result: string;
  detail?: string;
}

/** The fingerprint of the certificate the HTTPS port presents. */
function presentedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timeout')));
    socket.on('secureConnect', () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('TLS certificate policy', () => {
  let fx: RestFixture;
  let device: RunningDevice;
  let admin: DeviceClient;
  let original: string;
  const cleanups: (() => void | Promise<void>)[] = [];
  const later = { after: (fn: () => void | Promise<void>) => void cleanups.push(fn) };

  /** Logs in as admin to the running device, trusting the certificate it presents now. */
  const logIn = async () => {
    const port = device.ready.https as number;
    admin = new DeviceClient(`https://127.0.0.1:${port}`, { fingerprint: await presentedFingerprint(port) });
    await admin.login('admin', ADMIN_PASSWORD);
  };
  /** Stops the device and starts it again on the same data dir. */
  const restart = async () => {
    await device.stop();
    device = await startDevice(['--data-dir', fx.dataDir]);
    await logIn();
  };
  const audit = async (type: string) =>
    (await admin.request<{ events: AuditEvent[] }>('GET', `/api/v1/audit?limit=200&type=${type}`)).body
      .events;

  before(async () => {
    fx = await startRestFixture();
    device = fx.device;
    admin = fx.admin;
    original = await presentedFingerprint(device.ready.https as number);
  });
  after(async () => {
    await device?.stop();
    await fx?.close();
    for (const cleanup of cleanups) await cleanup();
  });

  const refused: [string, { key: string; digest?: string }, string][] = [
    ['RSA-512', { key: 'rsa:512' }, 'key-too-weak'],
    ['RSA-1024 with SHA-1', { key: 'rsa:1024', digest: 'sha1' }, 'key-too-weak'],
    ['RSA-2048 with SHA-1', { key: 'rsa:2048', digest: 'sha1' }, 'signature-too-weak'],
    ['EC secp256k1', { key: 'ec:secp256k1' }, 'key-unsupported'],
    ['Ed25519', { key: 'ed25519' }, 'key-unsupported'],
  ];
  for (const [what, options, code] of refused) {
    it(`${what}: refused (400 ${code}), nothing stored, a restart serves the old certificate`, async () => {
      const made = makeServerCertificate(later, options);
      const response = await admin.request<ErrorBody>('PUT', '/api/v1/tls', {
        certificate: made.cert,
        privateKey: made.key,
      });
      await restart();
      assert.equal(await presentedFingerprint(device.ready.https as number), original, `${what}: served`);
      assert.equal(response.status, 400, `${what}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, code, what);
      assert.equal(response.body.error.field, code.startsWith('signature') ? 'certificate' : 'privateKey');
      const failed = (await audit('tls.upload')).find((e) => e.detail === code);
      assert.equal(failed?.result, 'failed', what);
    });
  }

  it('the Modbus client CA upload applies the same rules', async () => {
    for (const [what, options, code] of refused) {
      const made = makeServerCertificate(later, { ...options, ca: true });
      const response = await admin.request<ErrorBody>('PUT', '/api/v1/modbus/ca', { ca: made.cert });
      assert.equal(response.status, 400, `${what}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, code, what);
      assert.equal(response.body.error.field, 'ca', what);
    }
    const good = makeServerCertificate(later, { key: 'ec:secp384r1', digest: 'sha384', ca: true });
    assert.equal((await admin.request('PUT', '/api/v1/modbus/ca', { ca: good.cert })).status, 200);
  });

  it('RSA-2048/SHA-256 and P-384/SHA-384 are accepted and survive a restart', async () => {
    for (const options of [{ key: 'rsa:2048' }, { key: 'ec:secp384r1', digest: 'sha384' }]) {
      const made = makeServerCertificate(later, options);
      const response = await admin.request<{ fingerprint256: string }>('PUT', '/api/v1/tls', {
        certificate: made.cert,
        privateKey: made.key,
      });
      assert.equal(response.status, 200, `${options.key}: ${JSON.stringify(response.body)}`);
      await restart();
      assert.equal(await presentedFingerprint(device.ready.https as number), made.fingerprint256);
      original = made.fingerprint256;
    }
  });

  it('a stored certificate that cannot serve TLS falls back to a new self-signed one, with an event', async () => {
    for (const [what, options, reason] of [
      ['RSA-512', { key: 'rsa:512' }, 'key-too-weak'],
      ['secp256k1', { key: 'ec:secp256k1' }, 'key-unsupported'],
    ] as const) {
      const made = makeServerCertificate(later, options);
      await device.stop();
      // Stored as a firmware without the policy stored an upload: the certificate in clear, the key
      // sealed under the root key, both written through the file store bound to the counter (a file
      // merely dropped into tls/ is refused as not committed; rollback-attacks tests that).
      const rootKey = new Uint8Array(readFileSync(join(fx.dataDir, 'keys', 'root.key')));
      const nonce = new Uint8Array(randomBytes(nacl.secretbox.nonceLength));
      const box = nacl.secretbox(
        cbor.encode({ key: made.key, source: 'uploaded' }),
        nonce,
        deriveKey(rootKey, 'tls-key'),
      );
      const booted = await bootNormal(dataDirAt(fx.dataDir));
      try {
        new AnchoredFiles(join(fx.dataDir, 'tls'), TLS_FILES_PREFIX, booted.store).write({
          'key.sealed': Buffer.concat([nonce, box]),
          'cert.pem': Buffer.from(made.cert),
        });
      } finally {
        booted.close();
      }
      device = await startDevice(['--data-dir', fx.dataDir]);
      const served = await presentedFingerprint(device.ready.https as number);
      assert.notEqual(served, made.fingerprint256, what);
      await logIn();
      const info = await admin.request<{ source: string; fingerprint256: string }>('GET', '/api/v1/tls');
      assert.deepEqual([info.body.source, info.body.fingerprint256], ['self-signed', served], what);
      const event = (await audit('tls.fallback')).find((e) => e.detail?.includes(made.fingerprint256));
      assert.equal(event?.result, 'failed', `${what}: no tls.fallback event`);
      assert.match(event?.detail ?? '', new RegExp(`^${reason} `), what);
    }
  });

  it('a damaged tls/key.sealed is a security event, and the device still serves HTTPS', async () => {
    await device.stop();
    const path = join(fx.dataDir, 'tls', 'key.sealed');
    const sealed = readFileSync(path);
    sealed[sealed.length - 1] = (sealed[sealed.length - 1] as number) ^ 0x01;
    writeFileSync(path, sealed);
    device = await startDevice(['--data-dir', fx.dataDir]);
    await presentedFingerprint(device.ready.https as number);
    await logIn();
    // The counter binding finds the damage first (the file is not the committed version); the TLS
    // service then has no key and falls back: two events, never a silent regeneration.
    const rollback = (await audit('file.rollback')).find((e) => e.detail?.includes('tls/key.sealed'));
    assert.equal(rollback?.result, 'failed', 'no file.rollback event for the damaged key');
    const fallback = (await audit('tls.fallback')).find((e) => e.detail?.startsWith('key-missing'));
    assert.equal(fallback?.result, 'failed', 'no tls.fallback event for the damaged key');
  });
});

/** The store fixture's view of a device's data dir (same layout: flash.img, keys/). */
function dataDirAt(dir: string) {
  return {
    dir,
    imagePath: join(dir, 'flash.img'),
    keysDir: join(dir, 'keys'),
    rootKeyPath: join(dir, 'keys', 'root.key'),
    counterPath: join(dir, 'keys', 'rollback.counter'),
  };
}
