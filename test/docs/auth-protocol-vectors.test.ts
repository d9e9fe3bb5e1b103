/**
 * docs/auth-protocol.md cannot drift from the code: every JSON test vector in it is parsed and
 * recomputed with the firmware (KDF, key pair, signed message, signature, sealed password) and
 * cross-checked with independent implementations (WebCrypto PBKDF2, tweetnacl Ed25519); the byte
 * layout shown for the message equals the vector; the figures it states (lockout defaults, session
 * and challenge limits) are the code's defaults.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import nacl from 'tweetnacl';
import { proofMessage } from '../../firmware/auth/auth-messages.ts';
import { fromBase64Url, toBase64Url } from '../../firmware/auth/encoding.ts';
import {
  CHALLENGE_TTL_MS,
  MAX_CHALLENGES_PER_SOURCE,
  MAX_OPEN_CHALLENGES,
} from '../../firmware/auth/login-challenges.ts';
import {
  createVerifier,
  DEFAULT_KDF_ITERATIONS,
  deriveSeed,
  publicKeyFromSeed,
  signWithSeed,
  verifySignature,
} from '../../firmware/auth/password-verifier.ts';
import { openSealedPassword, sealPassword } from '../../firmware/auth/sealed-secret.ts';
import { DEFAULT_SESSION_LIMITS } from '../../firmware/auth/session-store.ts';
import { DEFAULT_SECURITY_SETTINGS } from '../../firmware/core/security-settings.ts';

const DOC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'auth-protocol.md'), 'utf8');

type Vector = Record<string, unknown> & { vector: string };

const jsonBlocks = [...DOC.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
const vectors = new Map<string, Vector>();
for (const block of jsonBlocks) {
  const value = JSON.parse(block) as Record<string, unknown>;
  if (typeof value.vector === 'string') vectors.set(value.vector, value as Vector);
}

const hex = (text: unknown): Uint8Array<ArrayBuffer> => {
  assert.equal(typeof text, 'string');
  assert.match(text as string, /^([0-9a-f]{2})*$/);
  return new Uint8Array(Buffer.from(text as string, 'hex'));
};
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const utf8 = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text);
const str = (value: unknown): string => {
  assert.equal(typeof value, 'string');
  return value as string;
};

function vector(name: string, members: string[]): Vector {
  const found = vectors.get(name);
  assert.ok(found, `docs/auth-protocol.md has no vector '${name}'`);
  // Every member is checked below: a member nobody checks could drift unnoticed.
  assert.deepEqual(Object.keys(found).sort(), ['vector', ...members].sort(), `members of '${name}'`);
  return found;
}

const KDF_MEMBERS = [
  'password',
  'passwordNfd',
  'passwordUtf8',
  'salt',
  'saltBase64url',
  'iterations',
  'seed',
  'publicKey',
  'publicKeyBase64url',
];
const SIGNED_MEMBERS = [
  'seed',
  'purpose',
  'username',
  'nonce',
  'nonceBase64url',
  'message',
  'signature',
  'signatureBase64url',
  'request',
];
const ITERATION_COUNTS = [1000, DEFAULT_KDF_ITERATIONS];

describe('docs/auth-protocol.md', () => {
  it('holds valid JSON in every json block and exactly the expected vectors', () => {
    assert.ok(jsonBlocks.length > vectors.size);
    assert.deepEqual(
      [...vectors.keys()].sort(),
      [
        ...ITERATION_COUNTS.flatMap((n) => [`kdf-${n}`, `login-${n}`, `change-password-${n}`]),
        'sealed',
      ].sort(),
    );
  });

  for (const iterations of ITERATION_COUNTS) {
    it(`kdf-${iterations}: NFC password → PBKDF2-HMAC-SHA256 seed → Ed25519 public key`, async () => {
      const v = vector(`kdf-${iterations}`, KDF_MEMBERS);
      const password = str(v.password);
      const nfd = str(v.passwordNfd);
      assert.equal(password.normalize('NFC'), password);
      assert.notEqual(nfd, password);
      assert.equal(nfd.normalize('NFC'), password);
      assert.equal(toHex(utf8(password)), v.passwordUtf8);
      assert.equal(v.iterations, iterations);
      const salt = hex(v.salt);
      assert.equal(salt.length, 16);
      assert.equal(toBase64Url(salt), v.saltBase64url);

      const seed = await deriveSeed(password, salt, iterations);
      assert.equal(toHex(seed), v.seed);
      assert.equal(toHex(await deriveSeed(nfd, salt, iterations)), v.seed);
      // WebCrypto, as a browser client computes it.
      const key = await crypto.subtle.importKey('raw', utf8(password), 'PBKDF2', false, ['deriveBits']);
      const bits = await crypto.subtle.deriveBits(
        { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
        key,
        256,
      );
      assert.equal(toHex(new Uint8Array(bits)), v.seed);

      const publicKey = publicKeyFromSeed(seed);
      assert.equal(toHex(publicKey), v.publicKey);
      assert.equal(toHex(nacl.sign.keyPair.fromSeed(seed).publicKey), v.publicKey);
      assert.equal(toBase64Url(publicKey), v.publicKeyBase64url);
      if (iterations === DEFAULT_KDF_ITERATIONS) {
        const verifier = await createVerifier(nfd, { salt, iterations });
        assert.equal(toHex(verifier.publicKey), v.publicKey);
      }
    });

    for (const purpose of ['login', 'change-password'] as const) {
      it(`${purpose}-${iterations}: message bytes, deterministic signature, request body`, () => {
        const v = vector(`${purpose}-${iterations}`, SIGNED_MEMBERS);
        const kdf = vector(`kdf-${iterations}`, KDF_MEMBERS);
        assert.equal(v.seed, kdf.seed);
        assert.equal(v.purpose, purpose);
        const username = str(v.username);
        const nonce = hex(v.nonce);
        assert.equal(nonce.length, 32);
        assert.equal(toBase64Url(nonce), v.nonceBase64url);

        const message = proofMessage(purpose, username, nonce);
        assert.equal(toHex(message), v.message);
        // The layout as the document states it.
        const prefix = utf8(`metergate-auth-v1\n${purpose}\n${username}\n`);
        assert.equal(toHex(message), toHex(prefix) + toHex(nonce));

        const seed = hex(v.seed);
        const signature = signWithSeed(seed, message);
        assert.equal(toHex(signature), v.signature);
        assert.equal(
          toHex(nacl.sign.detached(message, nacl.sign.keyPair.fromSeed(seed).secretKey)),
          v.signature,
        );
        assert.equal(toBase64Url(signature), v.signatureBase64url);
        assert.equal(verifySignature(hex(kdf.publicKey), message, signature), true);
        const other = purpose === 'login' ? 'change-password' : 'login';
        assert.equal(
          verifySignature(hex(kdf.publicKey), proofMessage(other, username, nonce), signature),
          false,
        );

        const wire = { nonce: v.nonceBase64url, signature: v.signatureBase64url };
        assert.deepEqual(v.request, purpose === 'login' ? { username, ...wire } : wire);
      });
    }
  }

  it('login-1000: the byte-by-byte layout equals the vector', () => {
    const layout = /<!-- layout of vector (login-1000) -->\n```text\n([\s\S]*?)```/.exec(DOC);
    assert.ok(layout, 'the layout block is missing');
    const bytes = (layout[2] as string)
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/)[0] as string)
      .join('');
    assert.equal(bytes, vector('login-1000', SIGNED_MEMBERS).message);
  });

  it('sealed: nacl.box of the JSON plaintext under a fixed ephemeral key, opened by the device', () => {
    const v = vector('sealed', [
      'deviceSecretKey',
      'devicePublicKey',
      'ephemeralSecretKey',
      'ephemeralPublicKey',
      'sharedKey',
      'nonce',
      'username',
      'password',
      'plaintextUtf8',
      'box',
      'wire',
      'request',
    ]);
    const deviceSecretKey = hex(v.deviceSecretKey);
    const devicePublicKey = nacl.box.keyPair.fromSecretKey(deviceSecretKey).publicKey;
    assert.equal(toHex(devicePublicKey), v.devicePublicKey);
    const ephemeralSecretKey = hex(v.ephemeralSecretKey);
    const ephemeralPublicKey = nacl.box.keyPair.fromSecretKey(ephemeralSecretKey).publicKey;
    assert.equal(toHex(ephemeralPublicKey), v.ephemeralPublicKey);
    assert.equal(toHex(nacl.box.before(devicePublicKey, ephemeralSecretKey)), v.sharedKey);
    assert.equal(toHex(nacl.box.before(ephemeralPublicKey, deviceSecretKey)), v.sharedKey);

    const username = str(v.username);
    const password = str(v.password);
    const plaintext = hex(v.plaintextUtf8);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(plaintext)), {
      v: 1,
      purpose: 'set-password',
      username,
      password,
    });
    const nonce = hex(v.nonce);
    assert.equal(nonce.length, 24);
    const box = nacl.box(plaintext, nonce, devicePublicKey, ephemeralSecretKey);
    assert.equal(toHex(box), v.box);
    assert.equal(box.length, plaintext.length + 16);

    const wire = { epk: toBase64Url(ephemeralPublicKey), nonce: toBase64Url(nonce), box: toBase64Url(box) };
    assert.deepEqual(v.wire, wire);
    assert.equal(
      openSealedPassword(deviceSecretKey, wire, { purpose: 'set-password', username }, 'password'),
      password,
    );
    assert.deepEqual(v.request, { type: 'user', name: username, password: wire, role: 'VIEWER' });

    // The firmware's own sealing seals exactly these plaintext bytes, only under random keys.
    const sealed = sealPassword(devicePublicKey, username, password);
    const opened = nacl.box.open(
      fromBase64Url(sealed.box) as Uint8Array,
      fromBase64Url(sealed.nonce, 24) as Uint8Array,
      fromBase64Url(sealed.epk, 32) as Uint8Array,
      deviceSecretKey,
    );
    assert.ok(opened);
    assert.equal(toHex(opened), v.plaintextUtf8);
  });

  it('states the lockout defaults of the firmware', () => {
    const rows = [...DOC.matchAll(/^\| `(\w+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]);
    assert.deepEqual(Object.fromEntries(rows), DEFAULT_SECURITY_SETTINGS.lockout);
  });

  it('states the session and challenge limits of the firmware', () => {
    const { idleMs, absoluteMs, max } = DEFAULT_SESSION_LIMITS;
    for (const text of [
      `Max-Age=${absoluteMs / 1000};`,
      `**Idle timeout** ${idleMs / 60_000} min`,
      `**Absolute timeout** ${absoluteMs / 3_600_000} h`,
      `at most ${max} sessions`,
      `(${CHALLENGE_TTL_MS / 1000} s after issue)`,
      `at most ${MAX_OPEN_CHALLENGES} open challenges`,
      `at most ${MAX_CHALLENGES_PER_SOURCE} per source address`,
      `${DEFAULT_KDF_ITERATIONS.toLocaleString('en-US').replace(/,/g, ' ')} by default`,
    ]) {
      assert.ok(DOC.includes(text), `docs/auth-protocol.md should say '${text}'`);
    }
  });
});
