/**
 * Passwords on their way to the device travel sealed to the device's X25519 key (nacl.box with an
 * ephemeral sender key), so even plain HTTP never carries one readably. The device opens them here and
 * checks that each was sealed for the purpose and user of the request that carries it.
 */
import nacl from 'tweetnacl';
import { CoreError } from '../core/core-error.ts';
import type { SealedPasswordPlaintext, SealPurpose } from './auth-messages.ts';
import { fromBase64Url, toBase64Url } from './encoding.ts';

/** The wire form: `{ epk, nonce, box }`, all base64url. */
export interface SealedSecret {
  readonly epk: string;
  readonly nonce: string;
  readonly box: string;
}

/** Seals `plaintext` to an X25519 public key with a fresh ephemeral key pair and nonce. */
export function sealBytes(recipientPublicKey: Uint8Array, plaintext: Uint8Array): SealedSecret {
  const ephemeral = nacl.box.keyPair();
  const nonce = nacl.randomBytes(nacl.box.nonceLength);
  const box = nacl.box(plaintext, nonce, recipientPublicKey, ephemeral.secretKey);
  ephemeral.secretKey.fill(0);
  return { epk: toBase64Url(ephemeral.publicKey), nonce: toBase64Url(nonce), box: toBase64Url(box) };
}

/** Opens what `sealBytes` sealed to the key pair of `secretKey`; null when it does not open. */
export function openSealedBytes(secretKey: Uint8Array, sealed: SealedSecret): Uint8Array | null {
  const epk = fromBase64Url(sealed.epk, nacl.box.publicKeyLength);
  const nonce = fromBase64Url(sealed.nonce, nacl.box.nonceLength);
  const box = fromBase64Url(sealed.box);
  if (!epk || !nonce || !box) return null;
  return nacl.box.open(box, nonce, epk, secretKey);
}

/** Client side: seals a password for `username` to the device key. */
export function sealPassword(devicePublicKey: Uint8Array, username: string, password: string): SealedSecret {
  const plaintext: SealedPasswordPlaintext = { v: 1, purpose: 'set-password', username, password };
  return sealBytes(devicePublicKey, new TextEncoder().encode(JSON.stringify(plaintext)));
}

/**
 * Device side: opens a sealed password and returns it. Throws CoreError `invalid-sealed-secret` (naming
 * `field`) when it does not open or was sealed for another purpose or user.
 */
export function openSealedPassword(
  deviceSecretKey: Uint8Array,
  sealed: SealedSecret,
  expected: { readonly purpose: SealPurpose; readonly username: string },
  field: string,
): string {
  const fail = (why: string): never => {
    throw new CoreError('invalid-sealed-secret', `${field}: ${why}`, { field });
  };
  const epk =
    fromBase64Url(sealed.epk, nacl.box.publicKeyLength) ?? fail('epk is not a 32-byte base64url key');
  const nonce = fromBase64Url(sealed.nonce, nacl.box.nonceLength) ?? fail('nonce is not 24 base64url bytes');
  const box = fromBase64Url(sealed.box) ?? fail('box is not base64url');
  const opened = nacl.box.open(box, nonce, epk, deviceSecretKey) ?? fail('does not open with the device key');
  let plaintext: Partial<SealedPasswordPlaintext>;
  try {
    plaintext = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(opened),
    ) as Partial<SealedPasswordPlaintext>;
  } catch {
    return fail('sealed content is not UTF-8 JSON');
  }
  if (plaintext === null || typeof plaintext !== 'object') fail('sealed content is not a JSON object');
  if (plaintext.v !== 1 || plaintext.purpose !== expected.purpose) fail('sealed for another purpose');
  if (plaintext.username !== expected.username) fail(`sealed for another user than '${expected.username}'`);
  if (typeof plaintext.password !== 'string') fail('sealed content has no password');
  return plaintext.password as string;
}
