/**
 * The browser side of docs/auth-protocol.md: the proof of a password (challenge, PBKDF2 seed, Ed25519
 * signature) and a new password sealed to the device key. The password is used here and nowhere else;
 * what leaves this module is a signature or a sealed box.
 */
import nacl from 'tweetnacl';
import { type ProofPurpose, proofMessage } from '../../../firmware/auth/auth-messages.ts';
import { fromBase64Url, toBase64Url } from './base64url.ts';
import { pbkdf2Sha256 } from './pbkdf2.ts';

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

/** Signs the challenge for `username` with the key derived from `password`. */
export async function provePassword(
  challenge: Challenge,
  purpose: ProofPurpose,
  username: string,
  password: string,
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
  const seed = await pbkdf2Sha256(new TextEncoder().encode(password.normalize('NFC')), salt, iterations);
  const { secretKey } = nacl.sign.keyPair.fromSeed(seed);
  const signature = nacl.sign.detached(proofMessage(purpose, username, nonce), secretKey);
  seed.fill(0);
  secretKey.fill(0);
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
