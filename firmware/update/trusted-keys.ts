/**
 * The Ed25519 public keys a device accepts update bundles from. They are set at install
 * (scripts/install-pi.sh --update-key, the firmware dir's `trusted-keys` file, root-owned), never
 * through the API. One key a line: `ed25519 <base64 of the 32-byte key> [comment]`; `#` starts a
 * comment line. A key is named by its id: SHA-256 of its 32 bytes, which the bundle header carries.
 */
import { createHash } from 'node:crypto';

export interface TrustedKey {
  /** SHA-256 of the public key, 32 bytes. */
  readonly id: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly comment: string;
}

export function keyId(publicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(publicKey).digest());
}

/** The line a trusted-keys file holds for `publicKey`. */
export function formatTrustedKey(publicKey: Uint8Array, comment = ''): string {
  return `ed25519 ${Buffer.from(publicKey).toString('base64')}${comment ? ` ${comment}` : ''}\n`;
}

/** Parses a trusted-keys file; throws Error naming the line that is wrong. */
export function parseTrustedKeys(text: string): TrustedKey[] {
  const keys: TrustedKey[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [kind, base64, ...comment] = line.split(/\s+/);
    const publicKey = Buffer.from(base64 ?? '', 'base64');
    if (kind !== 'ed25519' || publicKey.length !== 32 || publicKey.toString('base64') !== base64) {
      throw new Error(
        `trusted keys, line ${index + 1}: expected 'ed25519 <base64 of a 32-byte key> [comment]'`,
      );
    }
    keys.push({ id: keyId(publicKey), publicKey: new Uint8Array(publicKey), comment: comment.join(' ') });
  });
  return keys;
}
