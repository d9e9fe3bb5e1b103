/**
 * The Web Worker that proves the password: the 600,000 PBKDF2 rounds (WebCrypto where the page has it,
 * else JavaScript with progress reports, as over plain HTTP) and the Ed25519 signature run here, off
 * the page's only thread; the key never leaves the worker. Built as its own asset (scripts/build.mjs) and loaded on demand by
 * derive-key.ts, so the page's first load does not carry it.
 */
import nacl from 'tweetnacl';
import { pbkdf2Sha256 } from './derive-key.ts';
import { pbkdf2Sha256Js } from './pbkdf2.ts';

/** What the page sends: the NFC password's bytes (zeroed here after use), salt, rounds, what to sign. */
export interface SignRequest {
  password: Uint8Array;
  salt: Uint8Array;
  iterations: number;
  message: Uint8Array;
  /** Whether the page has WebCrypto (a secure context); without, the JavaScript PBKDF2 runs. */
  webCrypto: boolean;
}

/** What the worker answers: progress (rounds done), then the signature. */
export type SignAnswer = { done: number } | { signature: Uint8Array };

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<SignRequest>) => void) | null;
  postMessage(message: SignAnswer): void;
};

scope.onmessage = async (event) => {
  const { password, salt, iterations, message, webCrypto } = event.data;
  const seed = webCrypto
    ? await pbkdf2Sha256(password, salt, iterations)
    : pbkdf2Sha256Js(password, salt, iterations, (done) => scope.postMessage({ done }));
  password.fill(0);
  const { secretKey } = nacl.sign.keyPair.fromSeed(seed);
  const signature = nacl.sign.detached(message, secretKey);
  seed.fill(0);
  secretKey.fill(0);
  scope.postMessage({ signature });
};
