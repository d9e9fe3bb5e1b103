/**
 * The update bundle's verification with real Ed25519 keys and real bytes: a good bundle passes, and
 * each way a bundle can be wrong (foreign key, bad signature, another target, changed or cut payload,
 * downgrade, too old to update from, trailing bytes) is refused with its stable code; nothing of the
 * manifest is believed before its signature verified.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nacl from 'tweetnacl';
import { isBundleError } from '../../../firmware/update/bundle-error.ts';
import {
  type BundlePolicy,
  checkBundleHeader,
  encodeBundle,
  HEADER_BYTES,
  readBundleHeader,
  verifyBundle,
} from '../../../firmware/update/bundle-format.ts';
import { compareVersions, parseVersion } from '../../../firmware/update/firmware-version.ts';
import { packArchive, unpackArchive } from '../../../firmware/update/payload-archive.ts';
import { formatTrustedKey, parseTrustedKeys } from '../../../firmware/update/trusted-keys.ts';

const vendor = nacl.sign.keyPair();
const stranger = nacl.sign.keyPair();
const trustedKeys = parseTrustedKeys(`# vendor\n${formatTrustedKey(vendor.publicKey, 'release key')}`);
const payload = packArchive([
  { path: 'dist/device.mjs', executable: false, data: Buffer.from('console.log("hello")\n') },
  { path: 'package.json', executable: false, data: Buffer.from('{"name":"metergate"}') },
]);
const policy: BundlePolicy = { trustedKeys, target: 'linux-x64', installed: '1.2.0', floor: '1.2.0' };

function bundle(
  overrides: Partial<Parameters<typeof encodeBundle>[0]> = {},
  key = vendor.secretKey,
): Uint8Array {
  return encodeBundle(
    { version: '1.3.0', target: 'linux-x64', minFromVersion: '1.0.0', payload, ...overrides },
    key,
  );
}

function refusal(bytes: Uint8Array, p: BundlePolicy = policy): string {
  try {
    verifyBundle(bytes, p);
  } catch (error) {
    assert.ok(isBundleError(error), `a BundleError, got ${error}`);
    assert.ok(error.message.length > 10, 'a reason a person can read');
    return error.code;
  }
  return 'accepted';
}

describe('update bundle verification', () => {
  it('accepts a bundle signed by a trusted key for this target and a newer version', () => {
    const { manifest, payload: out } = verifyBundle(bundle(), policy);
    assert.equal(manifest.version, '1.3.0');
    assert.equal(manifest.target, 'linux-x64');
    assert.deepEqual(
      unpackArchive(out).map((f) => f.path),
      ['dist/device.mjs', 'package.json'],
    );
  });

  it('accepts the installed version again (a reinstall), and any version on a device without a floor', () => {
    assert.equal(refusal(bundle({ version: '1.2.0' })), 'accepted');
    assert.equal(
      refusal(bundle({ version: '0.0.1' }), { ...policy, installed: null, floor: null }),
      'accepted',
    );
  });

  it('refuses a bundle signed by a key the device does not trust, before reading its manifest', () => {
    assert.equal(refusal(bundle({}, stranger.secretKey)), 'bundle.unknown-key');
    const noKeys = { ...policy, trustedKeys: [] };
    assert.equal(refusal(bundle(), noKeys), 'bundle.unknown-key');
  });

  it('refuses a manifest changed after signing, and a changed signature', () => {
    const good = bundle();
    const header = readBundleHeader(good);
    const text = Buffer.from(header.manifestBytes).toString('utf8');
    const at = HEADER_BYTES + text.indexOf('1.3.0');
    const bumped = Buffer.from(good);
    bumped[at] = '9'.charCodeAt(0);
    assert.equal(refusal(bumped), 'bundle.bad-signature');
    const badSignature = Buffer.from(good);
    badSignature[50] = (badSignature[50] as number) ^ 1;
    assert.equal(refusal(badSignature), 'bundle.bad-signature');
    // The trusted key's id in front of a stranger's signature.
    const forged = Buffer.from(bundle({}, stranger.secretKey));
    Buffer.from(good).copy(forged, 8, 8, 40);
    assert.equal(refusal(forged), 'bundle.bad-signature');
  });

  it('refuses a bundle for another target', () => {
    assert.equal(refusal(bundle({ target: 'linux-arm64' })), 'bundle.wrong-target');
  });

  it('refuses a payload whose bytes differ from the signed hash', () => {
    const good = Buffer.from(bundle());
    for (const at of [readBundleHeader(good).payloadOffset, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at] = (bad[at] as number) ^ 0x80;
      assert.equal(refusal(bad), 'bundle.wrong-hash');
    }
  });

  it('refuses a bundle cut anywhere as truncated, and trailing bytes as malformed', () => {
    const good = bundle();
    for (let length = 0; length < good.length; length += length < 200 ? 1 : 7) {
      assert.equal(refusal(good.subarray(0, length)), 'bundle.truncated', `cut after ${length} bytes`);
    }
    assert.equal(refusal(Buffer.concat([good, Buffer.from([0])])), 'bundle.malformed');
    assert.equal(
      refusal(Buffer.from('PK\u0003\u0004 not a bundle at all, a zip perhaps')),
      'bundle.malformed',
    );
  });

  it('refuses a downgrade below the highest installed version, even when the installed one is lower', () => {
    assert.equal(refusal(bundle({ version: '1.1.9' })), 'bundle.downgrade');
    assert.equal(refusal(bundle({ version: '1.2.0-rc.1' })), 'bundle.downgrade');
    // A restored "installed" version below the floor does not re-open the door: the floor decides.
    assert.equal(
      refusal(bundle({ version: '1.1.0' }), { ...policy, installed: '1.0.0' }),
      'bundle.downgrade',
    );
  });

  it('refuses a bundle whose minimum version to update from is above the installed one', () => {
    assert.equal(refusal(bundle({ version: '2.0.0', minFromVersion: '1.5.0' })), 'bundle.too-old');
  });

  it('reads no manifest claim before the signature verified', () => {
    const unsigned = Buffer.from(bundle({ target: 'linux-arm64' }, stranger.secretKey));
    // A stranger's bundle for another target is refused for its key, not for its (unverified) target.
    assert.throws(() => checkBundleHeader(readBundleHeader(unsigned), policy), {
      code: 'bundle.unknown-key',
    });
  });
});

describe('payload archive', () => {
  it('refuses paths that leave the slot', () => {
    for (const path of ['../evil', '/etc/passwd', 'a//b', 'dist/../../x', 'a\\b']) {
      assert.throws(() => packArchive([{ path, executable: false, data: new Uint8Array() }]), {
        code: 'bundle.malformed',
      });
    }
  });
});

describe('trusted keys file', () => {
  it('names the line that is wrong', () => {
    assert.throws(() => parseTrustedKeys('# ok\ned25519 c2hvcnQ=\n'), /line 2/);
    assert.throws(() => parseTrustedKeys('rsa AAAA\n'), /line 1/);
  });
});

describe('firmware versions', () => {
  it('orders as semver does', () => {
    const ordered = [
      '0.9.0',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.10.0',
      '2.0.0',
    ];
    for (let i = 0; i + 1 < ordered.length; i++) {
      assert.equal(
        compareVersions(ordered[i] as string, ordered[i + 1] as string),
        -1,
        `${ordered[i]} < ${ordered[i + 1]}`,
      );
      assert.equal(compareVersions(ordered[i + 1] as string, ordered[i] as string), 1);
    }
    assert.equal(compareVersions('1.0.0+build.5', '1.0.0'), 0);
    for (const bad of ['1.0', '01.0.0', 'v1.0.0', '1.0.0-', '', '1.0.0 '])
      assert.equal(parseVersion(bad), null, bad);
  });
});
