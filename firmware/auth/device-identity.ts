/**
 * The device's own key pair for sealed passwords: X25519, derived from the root key (so it survives a
 * reboot and dies with a factory reset), published through the auth challenge and `info`.
 */
import nacl from 'tweetnacl';
import { deriveKey } from '../keys/record-keys.ts';

export interface DeviceIdentity {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export function deriveDeviceIdentity(rootKey: Uint8Array): DeviceIdentity {
  const pair = nacl.box.keyPair.fromSecretKey(deriveKey(rootKey, 'device-identity'));
  return { publicKey: pair.publicKey, secretKey: pair.secretKey };
}
