/**
 * The byte strings a client signs and seals in the login protocol (docs/auth-protocol.md). Shared by
 * the device, the CLI, the tests and the website, so that all of them sign exactly the same bytes.
 */

export const AUTH_PROTOCOL = 'metergate-auth-v1';

/** What a signature is for: logging in, or proving the current password when changing it. */
export type ProofPurpose = 'login' | 'change-password';

/** UTF-8("metergate-auth-v1\n" + purpose + "\n" + username + "\n") followed by the 32 raw nonce bytes. */
export function proofMessage(purpose: ProofPurpose, username: string, nonce: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(`${AUTH_PROTOCOL}\n${purpose}\n${username}\n`);
  const message = new Uint8Array(prefix.length + nonce.length);
  message.set(prefix, 0);
  message.set(nonce, prefix.length);
  return message;
}

/** What a sealed password is for; checked by the device against the request it arrives in. */
export type SealPurpose = 'set-password';

/** The plaintext inside a sealed password: JSON, UTF-8. */
export interface SealedPasswordPlaintext {
  readonly v: 1;
  readonly purpose: SealPurpose;
  /** The user whose password this is (the target, not the actor). */
  readonly username: string;
  readonly password: string;
}
