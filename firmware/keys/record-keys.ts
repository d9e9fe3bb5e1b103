/**
 * Keys derived from the device root key, one per purpose (HKDF-SHA256), so that no two kinds of data
 * are ever sealed under the same key and the root key itself never touches a cipher.
 */
import { hkdfSync } from 'node:crypto';

const SALT = new TextEncoder().encode('metergate root key v1');

export type KeyPurpose =
  | 'record/security'
  | 'record/config'
  | 'event-log'
  | 'session'
  | 'device-identity'
  | 'tls-key';

export function deriveKey(rootKey: Uint8Array, purpose: KeyPurpose): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', rootKey, SALT, `metergate/${purpose}/v1`, 32));
}
