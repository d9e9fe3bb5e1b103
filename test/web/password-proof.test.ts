/**
 * The website's password crypto, run under Node against Node's own crypto and the firmware: PBKDF2 in
 * JavaScript and through WebCrypto equal pbkdf2Sync (RFC 7914 vector, HMAC keys longer than a block,
 * SHA-256 padding edges); a login proof verifies under the key the device keeps for the NFC form of the
 * password and for nothing else; a challenge weaker or stranger than a device sends is refused; a
 * sealed password opens on the device for its user only. Also the browser's base64url.
 */
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import nacl from 'tweetnacl';
import { proofMessage } from '../../firmware/auth/auth-messages.ts';
import {
  fromBase64Url as deviceFromBase64Url,
  toBase64Url as deviceToBase64Url,
} from '../../firmware/auth/encoding.ts';
import { publicKeyFromSeed, verifySignature } from '../../firmware/auth/password-verifier.ts';
import { openSealedPassword } from '../../firmware/auth/sealed-secret.ts';
import { CoreError } from '../../firmware/core/core-error.ts';
import { fromBase64Url, toBase64Url } from '../../web/src/crypto/base64url.ts';
import { pbkdf2Sha256 } from '../../web/src/crypto/derive-key.ts';
import { type Challenge, provePassword, sealPassword } from '../../web/src/crypto/password-proof.ts';
import { pbkdf2Sha256Js } from '../../web/src/crypto/pbkdf2.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);
const bytes = (length: number, start = 0) => Uint8Array.from({ length }, (_, i) => (start + i * 7) & 0xff);
const node = (password: Uint8Array, salt: Uint8Array, iterations: number) =>
  new Uint8Array(pbkdf2Sync(password, salt, iterations, 32, 'sha256'));

/** Runs `body` as a browser without WebCrypto (plain HTTP to an IP address) would. */
async function withoutWebCrypto<T>(body: () => Promise<T>): Promise<T> {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  assert.ok(descriptor?.configurable, 'globalThis.crypto can be replaced for the test');
  Object.defineProperty(globalThis, 'crypto', { value: {}, configurable: true, writable: true });
  try {
    return await body();
  } finally {
    Object.defineProperty(globalThis, 'crypto', descriptor);
  }
}

describe('pbkdf2Sha256 / pbkdf2Sha256Js', () => {
  it('gives the RFC 7914 §11 vector (first 32 bytes)', async () => {
    const expected = '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc';
    const [password, salt] = [utf8('passwd'), utf8('salt')];
    assert.equal(Buffer.from(pbkdf2Sha256Js(password, salt, 1)).toString('hex'), expected);
    assert.equal(Buffer.from(await pbkdf2Sha256(password, salt, 1)).toString('hex'), expected);
    assert.equal(Buffer.from(node(password, salt, 1)).toString('hex'), expected);
  });

  const cases: [string, Uint8Array, Uint8Array, number][] = [
    ['short password, 16-byte salt, 2 iterations', utf8('CBM_1234'), bytes(16), 2],
    ['100-byte password (HMAC key hashed first)', bytes(100, 3), bytes(16), 2],
    ['65-byte password (one past a block)', bytes(65, 5), bytes(16), 1],
    ['64-byte password (exactly a block, not hashed)', bytes(64, 9), bytes(16), 1],
    ['empty password', new Uint8Array(0), bytes(16), 2],
    ['empty salt', utf8('password'), new Uint8Array(0), 2],
    ['70-byte salt (message over a block)', utf8('password'), bytes(70, 11), 2],
    ['51-byte salt (message of 55 bytes: one-block padding)', utf8('pw'), bytes(51), 1],
    ['52-byte salt (message of 56 bytes: two-block padding)', utf8('pw'), bytes(52), 1],
    ['60-byte salt (message of exactly a block)', utf8('pw'), bytes(60), 1],
    ['UTF-8 password with umlauts', utf8('Zähler-Chef 2026! Ölmühle ß'), bytes(16, 1), 2],
    ['1 iteration', utf8('Tr4f0-Zähler!'), bytes(16, 2), 1],
    ['1000 iterations', utf8('Tr4f0-Zähler!'), bytes(16, 2), 1000],
  ];
  for (const [name, password, salt, iterations] of cases) {
    it(`equals node's pbkdf2Sync: ${name}`, async () => {
      const expected = node(password, salt, iterations);
      assert.deepEqual(pbkdf2Sha256Js(password, salt, iterations), expected, 'JavaScript');
      assert.deepEqual(await pbkdf2Sha256(password, salt, iterations), expected, 'WebCrypto');
    });
  }

  it('falls back to JavaScript when the page has no crypto.subtle, with the same result', async () => {
    const [password, salt] = [utf8('Zähler-Chef 2026!'), bytes(16, 4)];
    const derived = await withoutWebCrypto(() => pbkdf2Sha256(password, salt, 50));
    assert.deepEqual(derived, node(password, salt, 50));
  });

  it('reports its progress every `every` rounds, with the same result', () => {
    const [password, salt] = [utf8('Zähler-Chef 2026!'), bytes(16, 4)];
    const heard: number[] = [];
    const derived = pbkdf2Sha256Js(password, salt, 50, (done) => heard.push(done), 20);
    assert.deepEqual(heard, [20, 40]);
    assert.deepEqual(derived, node(password, salt, 50));
  });

  it('leaves its inputs untouched', async () => {
    const [password, salt] = [bytes(100), bytes(16)];
    const [passwordCopy, saltCopy] = [password.slice(), salt.slice()];
    pbkdf2Sha256Js(password, salt, 2);
    await pbkdf2Sha256(password, salt, 2);
    assert.deepEqual(password, passwordCopy);
    assert.deepEqual(salt, saltCopy);
  });
});

describe('provePassword', () => {
  const salt = new Uint8Array(randomBytes(16));
  const nonce = new Uint8Array(randomBytes(32));
  const challenge: Challenge = {
    nonce: deviceToBase64Url(nonce),
    salt: deviceToBase64Url(salt),
    kdf: 'pbkdf2-sha256',
    iterations: 100_000,
    deviceKey: deviceToBase64Url(nacl.box.keyPair().publicKey),
  };
  // Typed decomposed (a + combining diaeresis); the device derives its verifier from the NFC form.
  const typed = 'Za\u0308hler-Chef 2026!';
  /** The public key the device keeps for a password: Ed25519 of PBKDF2 over its NFC form. */
  const deviceKeyFor = (password: string) =>
    publicKeyFromSeed(node(utf8(password.normalize('NFC')), salt, challenge.iterations));

  it('signs a login proof the device verifies with the key of the NFC password, and nothing else', async () => {
    const proof = await provePassword(challenge, 'login', 'admin', typed);
    assert.equal(proof.nonce, challenge.nonce);
    const signature = deviceFromBase64Url(proof.signature, 64);
    assert.ok(signature, 'the signature is 64 bytes of strict base64url');
    const publicKey = deviceKeyFor(typed);
    assert.equal(verifySignature(publicKey, proofMessage('login', 'admin', nonce), signature), true);

    assert.equal(
      verifySignature(publicKey, proofMessage('change-password', 'admin', nonce), signature),
      false,
    );
    assert.equal(verifySignature(publicKey, proofMessage('login', 'operator1', nonce), signature), false);
    const otherNonce = nonce.slice();
    otherNonce[0] = (otherNonce[0] as number) ^ 1;
    assert.equal(verifySignature(publicKey, proofMessage('login', 'admin', otherNonce), signature), false);
    const unnormalized = publicKeyFromSeed(node(utf8(typed), salt, challenge.iterations));
    assert.notDeepEqual(unnormalized, publicKey, 'the test password changes under NFC');
    assert.equal(verifySignature(unnormalized, proofMessage('login', 'admin', nonce), signature), false);
    assert.equal(
      verifySignature(deviceKeyFor('Zähler-Chef 2026?'), proofMessage('login', 'admin', nonce), signature),
      false,
    );
  });

  it('refuses a challenge a device would not send, before deriving anything', async () => {
    const refused: [string, Challenge][] = [
      ['99 999 iterations', { ...challenge, iterations: 99_999 }],
      ['10 000 001 iterations', { ...challenge, iterations: 10_000_001 }],
      ['iterations NaN', { ...challenge, iterations: Number.NaN }],
      ['another KDF', { ...challenge, kdf: 'argon2id' }],
      ['a 31-byte nonce', { ...challenge, nonce: deviceToBase64Url(nonce.subarray(0, 31)) }],
      ['a 33-byte nonce', { ...challenge, nonce: deviceToBase64Url(new Uint8Array(33)) }],
      ['a padded nonce', { ...challenge, nonce: Buffer.from(nonce).toString('base64') }],
      ['a 15-byte salt', { ...challenge, salt: deviceToBase64Url(salt.subarray(0, 15)) }],
    ];
    for (const [why, weak] of refused) {
      await assert.rejects(provePassword(weak, 'login', 'admin', typed), /does not accept/, why);
    }
  });
});

describe('sealPassword', () => {
  const device = nacl.box.keyPair();
  const deviceKey = toBase64Url(device.publicKey);
  const forUser = (username: string) => ({ purpose: 'set-password', username }) as const;

  it('seals a password the device opens for the user it names', () => {
    for (const password of ['Zähler-Chef 2026!', 'e\u0301\u{1F50C} ok', 'x'.repeat(128)]) {
      const sealed = sealPassword(deviceKey, 'operator1', password);
      assert.equal(
        openSealedPassword(device.secretKey, sealed, forUser('operator1'), 'newPassword'),
        password,
      );
    }
  });

  it('is refused by the device for another user', () => {
    const sealed = sealPassword(deviceKey, 'operator1', 'Zähler-Chef 2026!');
    assert.throws(
      () => openSealedPassword(device.secretKey, sealed, forUser('admin'), 'newPassword'),
      (error: unknown) => error instanceof CoreError && error.code === 'invalid-sealed-secret',
    );
  });

  it('does not open under another device key', () => {
    const sealed = sealPassword(deviceKey, 'operator1', 'Zähler-Chef 2026!');
    assert.throws(
      () => openSealedPassword(nacl.box.keyPair().secretKey, sealed, forUser('operator1'), 'newPassword'),
      (error: unknown) => error instanceof CoreError && error.code === 'invalid-sealed-secret',
    );
  });

  it('differs every time, and never carries the password readably', () => {
    const password = 'Zähler-Chef 2026!';
    const a = sealPassword(deviceKey, 'operator1', password);
    const b = sealPassword(deviceKey, 'operator1', password);
    assert.notEqual(a.epk, b.epk);
    assert.notEqual(a.nonce, b.nonce);
    assert.notEqual(a.box, b.box);
    assert.equal(deviceFromBase64Url(a.epk, 32)?.length, 32);
    assert.equal(deviceFromBase64Url(a.nonce, 24)?.length, 24);
    const wire = JSON.stringify(a);
    assert.ok(!wire.includes(password) && !wire.includes(deviceToBase64Url(utf8(password))));
  });

  it('refuses a malformed device key', () => {
    for (const key of [
      '',
      deviceKey.slice(1),
      `${deviceKey}A`,
      Buffer.from(device.publicKey).toString('base64'),
    ]) {
      assert.throws(() => sealPassword(key, 'operator1', 'x'), /device key is malformed/, key);
    }
  });
});

describe('browser base64url', () => {
  it('round-trips random bytes exactly as Buffer base64url does', () => {
    for (let length = 0; length <= 70; length++) {
      const data = new Uint8Array(randomBytes(length));
      const text = toBase64Url(data);
      assert.equal(text, Buffer.from(data).toString('base64url'), `${length} bytes`);
      assert.deepEqual(fromBase64Url(text, length), data, `${length} bytes`);
    }
  });

  it('refuses padding, the standard alphabet, wrong lengths and non-strings', () => {
    const data = Uint8Array.from([0xfb, 0xff, 0xbf, 0x01]);
    const text = toBase64Url(data);
    assert.equal(text, '-_-_AQ');
    assert.deepEqual(fromBase64Url(text, 4), data);
    assert.equal(fromBase64Url(`${text}==`, 4), null, 'padding');
    assert.equal(fromBase64Url('+/+/AQ', 4), null, 'standard alphabet');
    assert.equal(fromBase64Url(text, 3), null, 'too short for the length asked');
    assert.equal(fromBase64Url(text, 5), null, 'too long for the length asked');
    assert.equal(fromBase64Url('-_-_A', 4), null, 'not a whole number of bytes');
    assert.equal(fromBase64Url('-_-_ AQ', 4), null, 'whitespace');
    assert.equal(fromBase64Url(undefined, 0), null);
    assert.equal(fromBase64Url(42, 2), null);
  });
});
