/**
 * The application side of the client registry (docs/rest-api.md, "Client registry"): makes an X25519
 * key pair, asks the device for an API key, shows the fingerprint to compare, polls until an
 * administrator decides, and opens the key sealed to it. Used by `metergate register` and the tests.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import nacl from 'tweetnacl';
import { toBase64Url } from '../auth/encoding.ts';
import { keyFingerprint } from '../auth/key-fingerprint.ts';
import { openSealedBytes, type SealedSecret } from '../auth/sealed-secret.ts';
import { ClientError, type DeviceClient } from './device-client.ts';

export interface RegistryKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export interface RegisterOptions {
  /** Default: a fresh key pair from the OS CSPRNG. */
  readonly keyPair?: RegistryKeyPair;
  /** Between polls. Default 2000 ms (the device allows one call per 2 s per address after a burst). */
  readonly pollMs?: number;
  /** Give up after this long. Default 10 minutes. */
  readonly timeoutMs?: number;
  /** Told once, when the request is pending: show the fingerprint to the administrator. */
  readonly onPending?: (pending: { id: string; fingerprint: string }) => void;
  /** Told at every poll while pending. */
  readonly onPoll?: () => void;
}

interface Answer {
  readonly state: 'pending' | 'allowed';
  readonly id: string;
  readonly fingerprint: string;
  readonly slot?: number;
  readonly sealedKey?: SealedSecret;
}

/**
 * Asks for an API key named `name` and waits for the decision. Resolves with the key and its slot;
 * throws ClientError: `registry-closed` (not open, or closed before a decision), `request-denied`,
 * `fingerprint-mismatch` (the device saw another key: someone in the middle), `timeout`.
 */
export async function requestApiKey(
  client: DeviceClient,
  name: string,
  options: RegisterOptions = {},
): Promise<{ key: string; slot: number; fingerprint: string }> {
  const keyPair = options.keyPair ?? nacl.box.keyPair();
  const body = { name, publicKey: toBase64Url(keyPair.publicKey) };
  const expected = keyFingerprint(keyPair.publicKey);
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  let told = false;
  for (;;) {
    const response = await client.request<Answer | { error: { code: string; message: string } }>(
      'POST',
      '/api/v1/registry/requests',
      body,
    );
    if (response.status === 201 || response.status === 202) {
      const answer = response.body as Answer;
      if (answer.fingerprint !== expected) {
        throw new ClientError(
          response.status,
          'fingerprint-mismatch',
          `the device reports fingerprint ${answer.fingerprint}, this key has ${expected}`,
        );
      }
      if (response.status === 201 && answer.sealedKey && answer.slot !== undefined) {
        const opened = openSealedBytes(keyPair.secretKey, answer.sealedKey);
        if (!opened)
          throw new ClientError(201, 'sealed-key', 'the key sent does not open with this key pair');
        return { key: new TextDecoder().decode(opened), slot: answer.slot, fingerprint: expected };
      }
      if (!told) options.onPending?.({ id: answer.id, fingerprint: answer.fingerprint });
      else options.onPoll?.();
      told = true;
    } else if (response.status === 429) {
      // Slowed down: wait as told, then ask again.
      const retry = Number(response.headers['retry-after'] ?? 2);
      await sleep(Math.max(1, retry) * 1000);
      continue;
    } else {
      const error = (response.body as { error?: { code: string; message: string } }).error;
      const code = error?.code ?? 'http-error';
      const message =
        code === 'registry-closed' && told
          ? 'registration was closed before an administrator allowed the request'
          : (error?.message ?? `HTTP ${response.status}`);
      throw new ClientError(response.status, code, message);
    }
    if (Date.now() > deadline) throw new ClientError(0, 'timeout', 'no decision in time');
    await sleep(options.pollMs ?? 2000);
  }
}
