/**
 * Password verifier: the KDF and signature primitives against their RFC vectors, the verifier round
 * trip, and that derivation stays off the event loop.
 */
import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  createVerifier,
  DEFAULT_KDF_ITERATIONS,
  deriveSeed,
  MIN_KDF_ITERATIONS,
  publicKeyFromSeed,
  signWithSeed,
  verifyPassword,
  verifySignature,
} from '../../../firmware/auth/password-verifier.ts';

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

const RFC7914_PBKDF2 =
  '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc' +
  '49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783';
const RFC8032_SECRET = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const RFC8032_PUBLIC = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
const RFC8032_SIGNATURE = hex(
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
);

const fast = { iterations: MIN_KDF_ITERATIONS };

describe('deriveSeed', () => {
  it('matches the PBKDF2-HMAC-SHA256 vector of RFC 7914 §11', async () => {
    assert.equal(pbkdf2Sync('passwd', 'salt', 1, 64, 'sha256').toString('hex'), RFC7914_PBKDF2);
    // A 32-byte output is exactly the first SHA-256 block of the 64-byte one.
    const seed = await deriveSeed('passwd', ascii('salt'), 1);
    assert.deepEqual(seed, hex(RFC7914_PBKDF2.slice(0, 64)));
  });

  it('hashes the NFC form of the password', async () => {
    const salt = new Uint8Array(16);
    assert.deepEqual(await deriveSeed('e\u0301', salt, 1), await deriveSeed('\u00e9', salt, 1));
  });
});

describe('Ed25519', () => {
  it('matches RFC 8032 test 1', () => {
    assert.deepEqual(publicKeyFromSeed(RFC8032_SECRET), RFC8032_PUBLIC);
    assert.deepEqual(signWithSeed(RFC8032_SECRET, new Uint8Array(0)), RFC8032_SIGNATURE);
    assert.equal(verifySignature(RFC8032_PUBLIC, new Uint8Array(0), RFC8032_SIGNATURE), true);
  });

  it('verifySignature is false for a wrong key, tampered message or malformed input', () => {
    const message = ascii('nonce-1');
    const signature = signWithSeed(RFC8032_SECRET, message);
    const otherKey = publicKeyFromSeed(new Uint8Array(32).fill(7));
    assert.equal(verifySignature(RFC8032_PUBLIC, message, signature), true);
    assert.equal(verifySignature(otherKey, message, signature), false);
    assert.equal(verifySignature(RFC8032_PUBLIC, ascii('nonce-2'), signature), false);
    assert.equal(verifySignature(RFC8032_PUBLIC, message, signature.subarray(0, 63)), false);
    assert.equal(verifySignature(RFC8032_PUBLIC, message, new Uint8Array(0)), false);
    assert.equal(verifySignature(RFC8032_PUBLIC.subarray(0, 31), message, signature), false);
    assert.equal(verifySignature(new Uint8Array(32).fill(0xff), message, signature), false);
  });

  it('refuses a seed that is not 32 bytes', () => {
    assert.throws(() => publicKeyFromSeed(new Uint8Array(31)), RangeError);
  });
});

describe('createVerifier / verifyPassword', () => {
  it('accepts the right password and refuses a wrong one', async () => {
    const verifier = await createVerifier('Tr4f0-Zähler!', fast);
    assert.equal(verifier.kdf, 'pbkdf2-sha256');
    assert.equal(verifier.iterations, MIN_KDF_ITERATIONS);
    assert.equal(verifier.salt.length, 16);
    assert.equal(verifier.publicKey.length, 32);
    assert.equal(await verifyPassword(verifier, 'Tr4f0-Zähler!'), true);
    assert.equal(await verifyPassword(verifier, 'Tr4f0-Zähler?'), false);
    assert.equal(await verifyPassword(verifier, ''), false);
  });

  it('gives a different public key for a different salt', async () => {
    const a = await createVerifier('correct horse battery', { ...fast, salt: new Uint8Array(16).fill(1) });
    const b = await createVerifier('correct horse battery', { ...fast, salt: new Uint8Array(16).fill(2) });
    const random = await createVerifier('correct horse battery', fast);
    assert.notDeepEqual(a.publicKey, b.publicKey);
    assert.notDeepEqual(a.salt, random.salt);
  });

  it('treats NFC variants of a password as equal', async () => {
    const verifier = await createVerifier('Cafe\u0301-Za\u0308hler', fast);
    assert.equal(await verifyPassword(verifier, 'Caf\u00e9-Z\u00e4hler'), true);
  });

  it('returns false, without throwing, when the stored public key has the wrong length', async () => {
    const verifier = await createVerifier('correct horse battery', fast);
    const truncated = { ...verifier, publicKey: verifier.publicKey.subarray(1) };
    assert.equal(await verifyPassword(truncated, 'correct horse battery'), false);
  });

  it('refuses fewer than MIN_KDF_ITERATIONS and a short salt', async () => {
    await assert.rejects(
      createVerifier('correct horse battery', { iterations: MIN_KDF_ITERATIONS - 1 }),
      RangeError,
    );
    await assert.rejects(createVerifier('correct horse battery', { iterations: 1.5e5 + 0.5 }), RangeError);
    await assert.rejects(
      createVerifier('correct horse battery', { ...fast, salt: new Uint8Array(15) }),
      RangeError,
    );
  });

  it('uses DEFAULT_KDF_ITERATIONS by default', async () => {
    const verifier = await createVerifier('correct horse battery');
    assert.equal(verifier.iterations, DEFAULT_KDF_ITERATIONS);
    assert.equal(await verifyPassword(verifier, 'correct horse battery'), true);
  });

  it('keeps the event loop running while three verifications are in flight', async () => {
    const verifier = await createVerifier('correct horse battery', fast);
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const results = await Promise.all([
      verifyPassword(verifier, 'correct horse battery'),
      verifyPassword(verifier, 'wrong horse battery'),
      verifyPassword(verifier, 'correct horse battery'),
    ]);
    running = false;
    assert.deepEqual(results, [true, false, true]);
    assert.ok(ticks > 0, `event loop made ${ticks} turns during the KDF`);
  });
});
