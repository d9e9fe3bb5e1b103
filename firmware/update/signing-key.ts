/**
 * The update signing key's files: the secret key (`ed25519-secret <base64 of tweetnacl's 64-byte
 * secret key>`, mode 0600, kept offline by the vendor) and its public half as a trusted-keys line
 * (FILE.pub), which scripts/install-pi.sh installs on each device.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type nacl from 'tweetnacl';
import { formatTrustedKey } from './trusted-keys.ts';

export function writeKeyPair(path: string, pair: nacl.SignKeyPair, comment: string): void {
  writeFileSync(path, `ed25519-secret ${Buffer.from(pair.secretKey).toString('base64')}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  writeFileSync(`${path}.pub`, formatTrustedKey(pair.publicKey, comment.replace(/\s+/g, '-')), {
    mode: 0o644,
  });
}

/** Reads a secret key file; throws Error saying what the file should hold. */
export function readSecretKey(path: string): Uint8Array {
  const [kind, base64] = readFileSync(path, 'utf8').trim().split(/\s+/);
  const key = Buffer.from(base64 ?? '', 'base64');
  if (kind !== 'ed25519-secret' || key.length !== 64) {
    throw new Error(
      `${path}: not a metergate update signing key ('ed25519-secret <base64>', made by keygen)`,
    );
  }
  return new Uint8Array(key);
}
