/**
 * The browser side of docs/auth-protocol.md: the proof of a password (challenge, PBKDF2 seed, Ed25519
 * signature) and a new password sealed to the device key. The password is used here and nowhere else;
 * what leaves this module is a signature or a sealed box.
 */
import nacl from 'tweetnacl';
import { type ProofPurpose, proofMessage } from '../../../firmware/auth/auth-messages.ts';
import { fromBase64Url, toBase64Url } from './base64url.ts';
import { signWithPasswordKey } from './derive-key.ts';

/** A device never sends fewer (docs/auth-protocol.md §3); a man in the middle might, to weaken the proof. */
const MIN_ITERATIONS = 100_000;
const MAX_ITERATIONS = 10_000_000;

export interface Challenge {
  nonce: string;
  salt: string;
  kdf: string;
  iterations: number;
  deviceKey: string;
}

export interface SealedSecret {
  epk: string;
  nonce: string;
  box: string;
}

/**
 * Signs the challenge for `username` with the key derived from `password`; `progress` hears how far the
 * derivation is (a fraction) where it can tell (without WebCrypto).
 */
export async function provePassword(
  challenge: Challenge,
  purpose: ProofPurpose,
  username: string,
  password: string,
  progress?: (fraction: number) => void,
): Promise<{ nonce: string; signature: string }> {
  const nonce = fromBase64Url(challenge.nonce, 32);
  const salt = fromBase64Url(challenge.salt, 16);
  const { iterations } = challenge;
  if (
    !nonce ||
    !salt ||
    challenge.kdf !== 'pbkdf2-sha256' ||
    !(iterations >= MIN_ITERATIONS && iterations <= MAX_ITERATIONS)
  ) {
    throw new Error('The device sent a login challenge this page does not accept.');
  }
  const bytes = new TextEncoder().encode(password.normalize('NFC'));
  const message = proofMessage(purpose, username, nonce);
  const signature = await signWithPasswordKey(bytes, salt, iterations, message, progress);
  bytes.fill(0);
  return { nonce: challenge.nonce, signature: toBase64Url(signature) };
}

/** `password` sealed for `username` to the device's X25519 key (docs/auth-protocol.md §4). */
export function sealPassword(deviceKey: string, username: string, password: string): SealedSecret {
  const key = fromBase64Url(deviceKey, 32);
  if (!key) throw new Error('The device key is malformed.');
  const ephemeral = nacl.box.keyPair();
  const nonce = nacl.randomBytes(24);
  const plaintext = JSON.stringify({ v: 1, purpose: 'set-password', username, password });
  const box = nacl.box(new TextEncoder().encode(plaintext), nonce, key, ephemeral.secretKey);
  ephemeral.secretKey.fill(0);
  return { epk: toBase64Url(ephemeral.publicKey), nonce: toBase64Url(nonce), box: toBase64Url(box) };
}
