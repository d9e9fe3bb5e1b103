/**
 * Steps shared by the REST tests that attack the login: one complete attempt, the refusal it got, and
 * the Retry-After it carried.
 */
import assert from 'node:assert/strict';
import type { ApiResponse, DeviceClient } from '../../firmware/client/device-client.ts';

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** One complete login attempt (challenge, KDF, signature); the answer whatever it is. */
export async function attemptLogin(client: DeviceClient, username: string, password: string) {
  const { nonce, signature } = await client.prove('login', username, password);
  return client.request<ErrorBody>('POST', '/api/v1/auth/login', { username, nonce, signature });
}

export function expectError(
  response: ApiResponse<ErrorBody>,
  status: number,
  code: string,
  what: string,
): void {
  assert.equal(response.status, status, `${what}: ${JSON.stringify(response.body)}`);
  assert.equal(response.body.error?.code, code, what);
}

/** The Retry-After header: whole seconds, at least 1. */
export function retryAfter(response: ApiResponse<ErrorBody>): number {
  const value = response.headers['retry-after'];
  assert.match(String(value), /^\d+$/, `Retry-After is whole seconds, got ${value}`);
  const seconds = Number(value);
  assert.ok(seconds >= 1, `Retry-After ≥ 1, got ${seconds}`);
  return seconds;
}
