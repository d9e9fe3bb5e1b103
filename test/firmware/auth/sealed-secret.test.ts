/**
 * Sealed passwords: what sealPassword seals to the device key opens to the same password for the same
 * purpose and user; a seal for another user or purpose, under another key, tampered or malformed is
 * refused with CoreError 'invalid-sealed-secret' naming the request field. Also the device identity the
 * seals are made to.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nacl from 'tweetnacl';
import { deriveDeviceIdentity } from '../../../firmware/auth/device-identity.ts';
import { fromBase64Url, toBase64Url } from '../../../firmware/auth/encoding.ts';
import { openSealedPassword, type SealedSecret, sealPassword } from '../../../firmware/auth/sealed-secret.ts';
import { CoreError } from '../../../firmware/core/core-error.ts';

const device = deriveDeviceIdentity(new Uint8Array(32).fill(9));
const FOR_OPERATOR = { purpose: 'set-password', username: 'operator1' } as const;

/** Seals arbitrary plaintext bytes the way a client would, to reach the checks after decryption. */
function sealBytes(plaintext: Uint8Array, publicKey = device.publicKey): SealedSecret {
  const ephemeral = nacl.box.keyPair();
  const nonce = nacl.randomBytes(nacl.box.nonceLength);
  const box = nacl.box(plaintext, nonce, publicKey, ephemeral.secretKey);
  return { epk: toBase64Url(ephemeral.publicKey), nonce: toBase64Url(nonce), box: toBase64Url(box) };
}

const sealJson = (value: unknown): SealedSecret => sealBytes(new TextEncoder().encode(JSON.stringify(value)));

function refused(sealed: SealedSecret, why: RegExp, field = 'password', expected = FOR_OPERATOR): void {
  assert.throws(
    () => openSealedPassword(device.secretKey, sealed, expected, field),
    (error: unknown) => {
      assert.ok(error instanceof CoreError);
      assert.equal(error.code, 'invalid-sealed-secret');
      assert.deepEqual(error.details, { field });
      assert.ok(error.message.startsWith(`${field}: `), error.message);
      assert.match(error.message, why);
      return true;
    },
  );
}

describe('sealPassword / openSealedPassword', () => {
  it('round-trips a password, Unicode included, for the user it was sealed for', () => {
    for (const password of [
      'Zähler-Chef 2026!',
      'e\u0301\u{1F50C} ok',
      ' spaces  inside ',
      'x'.repeat(128),
    ]) {
      const sealed = sealPassword(device.publicKey, 'operator1', password);
      assert.equal(openSealedPassword(device.secretKey, sealed, FOR_OPERATOR, 'password'), password);
    }
  });

  it('gives base64url fields of the right sizes, and a different seal every time', () => {
    const a = sealPassword(device.publicKey, 'operator1', 'Tr4f0-Zähler!');
    const b = sealPassword(device.publicKey, 'operator1', 'Tr4f0-Zähler!');
    assert.equal(fromBase64Url(a.epk, 32)?.length, 32);
    assert.equal(fromBase64Url(a.nonce, 24)?.length, 24);
    assert.ok(fromBase64Url(a.box));
    assert.notEqual(a.epk, b.epk);
    assert.notEqual(a.nonce, b.nonce);
    assert.notEqual(a.box, b.box);
  });

  it('seals the JSON {v, purpose, username, password}', () => {
    const sealed = sealPassword(device.publicKey, 'operator1', 'Tr4f0-Zähler!');
    const opened = nacl.box.open(
      fromBase64Url(sealed.box) as Uint8Array,
      fromBase64Url(sealed.nonce) as Uint8Array,
      fromBase64Url(sealed.epk) as Uint8Array,
      device.secretKey,
    );
    assert.ok(opened);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(opened)), {
      v: 1,
      purpose: 'set-password',
      username: 'operator1',
      password: 'Tr4f0-Zähler!',
    });
  });

  it('refuses a seal for another user, naming the field', () => {
    refused(sealPassword(device.publicKey, 'operator2', 'Tr4f0-Zähler!'), /another user than 'operator1'/);
    refused(sealPassword(device.publicKey, 'Operator1', 'Tr4f0-Zähler!'), /another user/, 'newPassword');
  });

  it('refuses another purpose or version', () => {
    refused(sealJson({ v: 1, purpose: 'login', username: 'operator1', password: 'pw' }), /another purpose/);
    refused(sealJson({ v: 2, purpose: 'set-password', username: 'operator1', password: 'pw' }), /purpose/);
    refused(sealJson({ purpose: 'set-password', username: 'operator1', password: 'pw' }), /purpose/);
  });

  it('refuses a seal to another key', () => {
    const other = deriveDeviceIdentity(new Uint8Array(32).fill(8));
    refused(sealPassword(other.publicKey, 'operator1', 'Tr4f0-Zähler!'), /does not open/);
  });

  it('refuses a tampered seal', () => {
    const sealed = sealPassword(device.publicKey, 'operator1', 'Tr4f0-Zähler!');
    const box = fromBase64Url(sealed.box) as Uint8Array;
    box[box.length - 1] = (box[box.length - 1] as number) ^ 1;
    refused({ ...sealed, box: toBase64Url(box) }, /does not open/);
    const nonce = fromBase64Url(sealed.nonce) as Uint8Array;
    nonce[0] = (nonce[0] as number) ^ 1;
    refused({ ...sealed, nonce: toBase64Url(nonce) }, /does not open/);
  });

  it('refuses malformed fields', () => {
    const sealed = sealPassword(device.publicKey, 'operator1', 'Tr4f0-Zähler!');
    refused({ ...sealed, epk: 'not base64url!' }, /epk/);
    refused({ ...sealed, epk: sealed.epk.slice(0, 40) }, /epk/);
    refused({ ...sealed, epk: `${sealed.epk}=` }, /epk/);
    refused({ ...sealed, nonce: toBase64Url(new Uint8Array(12)) }, /nonce/);
    refused({ ...sealed, nonce: '' }, /nonce/);
    refused({ ...sealed, box: 'a+b/' }, /box/);
    refused({ ...sealed, box: '' }, /does not open/);
    refused({ ...sealed, box: toBase64Url(new Uint8Array(15)) }, /does not open/);
  });

  it('refuses content that is not UTF-8 JSON or has no password string', () => {
    refused(sealBytes(new TextEncoder().encode('not json')), /not UTF-8 JSON/);
    refused(sealBytes(new Uint8Array([0x7b, 0xff, 0x7d])), /not UTF-8 JSON/);
    refused(sealJson({ v: 1, purpose: 'set-password', username: 'operator1' }), /no password/);
    refused(
      sealJson({ v: 1, purpose: 'set-password', username: 'operator1', password: 1234 }),
      /no password/,
    );
    refused(sealJson(null), /not a JSON object/);
    refused(sealJson('Tr4f0-Zähler!'), /not a JSON object/);
    refused(sealJson(['set-password', 'operator1', 'Tr4f0-Zähler!']), /another purpose/);
  });
});

describe('deriveDeviceIdentity', () => {
  it('is an X25519 pair, stable per root key, different between root keys', () => {
    const again = deriveDeviceIdentity(new Uint8Array(32).fill(9));
    const other = deriveDeviceIdentity(new Uint8Array(32).fill(8));
    assert.equal(device.publicKey.length, 32);
    assert.equal(device.secretKey.length, 32);
    assert.deepEqual(again.publicKey, device.publicKey);
    assert.notDeepEqual(other.publicKey, device.publicKey);
    assert.deepEqual(nacl.box.keyPair.fromSecretKey(device.secretKey).publicKey, device.publicKey);
  });
});
