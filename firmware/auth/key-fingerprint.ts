/**
 * The fingerprint of a registry client's public key, as the device lists it and the application shows
 * it, for a person to compare: SHA-256 of the raw key, first 10 bytes (80 bits), hex in groups of 4.
 */
import { createHash } from 'node:crypto';

export function keyFingerprint(publicKey: Uint8Array): string {
  const hex = createHash('sha256').update(publicKey).digest('hex').slice(0, 20);
  return (hex.match(/.{4}/g) as string[]).join('-');
}
