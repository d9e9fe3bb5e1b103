/**
 * The password verifier as the user table stores it (DESIGN §5): the KDF, its cost and salt, and the
 * Ed25519 public key derived from the password. Plain data; firmware/auth/password-verifier.ts makes
 * and checks them.
 */
export interface PasswordVerifier {
  readonly kdf: 'pbkdf2-sha256';
  readonly iterations: number;
  readonly salt: Uint8Array;
  readonly publicKey: Uint8Array;
}
