/**
 * The password key of docs/auth-protocol.md §3 (PBKDF2-HMAC-SHA256 seed of an Ed25519 key) and the
 * signature made with it, in a Web Worker (pbkdf2-worker.ts) so that no long task blocks the page:
 * the PBKDF2 through WebCrypto where the page is a secure context, else in JavaScript with progress
 * reports. Outside a browser (the tests under Node), all of it runs in place.
 */
import nacl from 'tweetnacl';
import { pbkdf2Sha256Js } from './pbkdf2.ts';
import type { SignAnswer, SignRequest } from './pbkdf2-worker.ts';

/** The worker's asset path, set by scripts/build.mjs; not defined outside the built website. */
declare const PBKDF2_WORKER_URL: string | undefined;

/** The 32-byte seed: WebCrypto where there is one, else JavaScript in place. */
export async function pbkdf2Sha256(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return pbkdf2Sha256Js(password, salt, iterations);
  const key = await subtle.importKey('raw', new Uint8Array(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(salt), iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}

/**
 * The Ed25519 signature of `message` under the key derived from `password`; `progress` hears how far
 * the derivation is (a fraction) when it runs in the worker.
 */
export async function signWithPasswordKey(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  message: Uint8Array,
  progress?: (fraction: number) => void,
): Promise<Uint8Array> {
  if (typeof Worker === 'undefined' || typeof PBKDF2_WORKER_URL !== 'string') {
    const seed = await pbkdf2Sha256(password, salt, iterations);
    const { secretKey } = nacl.sign.keyPair.fromSeed(seed);
    const signature = nacl.sign.detached(message, secretKey);
    seed.fill(0);
    secretKey.fill(0);
    return signature;
  }
  const worker = new Worker(PBKDF2_WORKER_URL as string);
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<SignAnswer>) => {
        const answer = event.data;
        if ('signature' in answer) resolve(answer.signature);
        else progress?.(answer.done / iterations);
      };
      worker.onerror = () => reject(new Error('The password check failed in this browser. Reload the page.'));
      const request: SignRequest = {
        password: new Uint8Array(password),
        salt,
        iterations,
        message,
        webCrypto: Boolean(globalThis.crypto?.subtle),
      };
      worker.postMessage(request, [request.password.buffer]);
    });
  } finally {
    worker.terminate();
  }
}
