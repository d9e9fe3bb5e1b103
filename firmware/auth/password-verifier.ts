/**
 * The password verifier of DESIGN §5: the device keeps only an Ed25519 public key derived from the
 * password, never the password or a hash it could compare. A client that knows the password derives the
 * same key pair and signs the login nonce. PBKDF2-HMAC-SHA256 was chosen because browsers have it in
 * WebCrypto, so the web client needs no KDF code of its own.
 */
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  pbkdf2,
  randomBytes,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import { promisify } from 'node:util';
import type { PasswordVerifier } from '../core/password-verifier-record.ts';

export type { PasswordVerifier };

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256. */
export const DEFAULT_KDF_ITERATIONS = 600_000;
/** `createVerifier` refuses anything cheaper. */
export const MIN_KDF_ITERATIONS = 100_000;

const SEED_BYTES = 32;
const SALT_BYTES = 16;
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
// Node imports raw Ed25519 keys only inside ASN.1 wrappers; these are the fixed headers (RFC 8410).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

// The async form runs on the libuv thread pool, so metering and Modbus keep running during a login storm.
const pbkdf2Async = promisify(pbkdf2);

/**
 * PBKDF2-HMAC-SHA256 over the UTF-8 bytes of the NFC form of `password` (the same normalization as
 * `normalizePassword` in core/password-rules.ts), 32 bytes: the Ed25519 seed.
 */
export async function deriveSeed(
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  const key = await pbkdf2Async(
    Buffer.from(password.normalize('NFC'), 'utf8'),
    salt,
    iterations,
    SEED_BYTES,
    'sha256',
  );
  return new Uint8Array(key);
}

function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== SEED_BYTES)
    throw new RangeError(`Ed25519 seed must be ${SEED_BYTES} bytes, got ${seed.length}`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** The raw 32-byte Ed25519 public key of `seed`. */
export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyFromSeed(seed)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(-PUBLIC_KEY_BYTES));
}

/** The 64-byte Ed25519 signature of `message` by the key pair of `seed`. */
export function signWithSeed(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKeyFromSeed(seed)));
}

/** True only for a valid signature; malformed keys or signatures give false, never an exception. */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]),
      format: 'der',
      type: 'spki',
    });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/**
 * Derives a fresh verifier. Defaults: `DEFAULT_KDF_ITERATIONS`, 16 random salt bytes. Throws RangeError
 * below `MIN_KDF_ITERATIONS` or for a salt shorter than 16 bytes.
 */
export async function createVerifier(
  password: string,
  options: { iterations?: number; salt?: Uint8Array } = {},
): Promise<PasswordVerifier> {
  const iterations = options.iterations ?? DEFAULT_KDF_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < MIN_KDF_ITERATIONS) {
    throw new RangeError(
      `KDF iterations must be an integer of at least ${MIN_KDF_ITERATIONS}, got ${iterations}`,
    );
  }
  const salt = options.salt ?? new Uint8Array(randomBytes(SALT_BYTES));
  if (salt.length < SALT_BYTES)
    throw new RangeError(`salt must be at least ${SALT_BYTES} bytes, got ${salt.length}`);
  const seed = await deriveSeed(password, salt, iterations);
  const publicKey = publicKeyFromSeed(seed);
  // The seed is the private key; do not leave it in memory longer than needed.
  seed.fill(0);
  return { kdf: 'pbkdf2-sha256', iterations, salt: new Uint8Array(salt), publicKey };
}

/** Derives the key pair from `password` and compares public keys in constant time. */
export async function verifyPassword(verifier: PasswordVerifier, password: string): Promise<boolean> {
  const seed = await deriveSeed(password, verifier.salt, verifier.iterations);
  const publicKey = publicKeyFromSeed(seed);
  seed.fill(0);
  if (publicKey.length !== verifier.publicKey.length) return false;
  return timingSafeEqual(publicKey, verifier.publicKey);
}
