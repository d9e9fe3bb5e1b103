/**
 * Logging in and changing the own password from the browser (docs/auth-protocol.md §5 and §7.1): the
 * key is derived here, the device receives only a signature and a sealed box.
 */
import { ApiError, call, expectSession, type Me, ROUTES, setCsrfToken } from './api.ts';
import { type Challenge, provePassword, sealPassword } from './crypto/password-proof.ts';

/** `progress` hears how far the key derivation is (a fraction), where the browser can tell. */
export async function login(
  username: string,
  password: string,
  progress?: (fraction: number) => void,
): Promise<Me> {
  const challenge = await call<Challenge>(ROUTES.challenge, { body: { username } });
  const proof = await provePassword(challenge, 'login', username, password, progress);
  const me = await call<Me>(ROUTES.login, { body: { username, ...proof } });
  setCsrfToken(me.csrfToken);
  return me;
}

/** Errors name the form's fields: `current` (the proof failed) and `password` (the new one). */
export async function changeOwnPassword(username: string, current: string, next: string): Promise<Me> {
  const challenge = await call<Challenge>(ROUTES.challenge, { body: { username } });
  const proof = await provePassword(challenge, 'change-password', username, current);
  const newPassword = sealPassword(challenge.deviceKey, username, next);
  try {
    const me = await call<Me>(ROUTES.changeOwnPassword, { body: { ...proof, newPassword } });
    setCsrfToken(me.csrfToken);
    return me;
  } catch (error) {
    const { status, code, message, field } = error as ApiError;
    const renamed = field === 'signature' ? 'current' : field === 'newPassword' ? 'password' : field;
    throw new ApiError(status, code, message, renamed);
  }
}

export async function logout(): Promise<void> {
  // Answers to requests still under way may say the session ended: this page ended it.
  expectSession(false);
  await call(ROUTES.logout);
  setCsrfToken(undefined);
}
