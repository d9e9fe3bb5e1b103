/**
 * Username enumeration by timing (issue 13, item 3), counted rather than timed: a login for a name
 * without a verifier (unknown, `anonymous`, `localgui`) does exactly the expensive work of a login for
 * a real user, one Ed25519 signature check and no key derivation, request by request; a stale or
 * unknown nonce is refused before any signature work. The real crypto runs, wrapped to count its calls.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { proofMessage } from '../../../firmware/auth/auth-messages.ts';
import { deriveDeviceIdentity } from '../../../firmware/auth/device-identity.ts';
import { LoginChallenges } from '../../../firmware/auth/login-challenges.ts';
import { LoginThrottle } from '../../../firmware/auth/login-throttle.ts';
import {
  deriveSeed,
  MIN_KDF_ITERATIONS,
  publicKeyFromSeed,
  signWithSeed,
  verifySignature,
} from '../../../firmware/auth/password-verifier.ts';
import { SessionStore } from '../../../firmware/auth/session-store.ts';
import { StaleNonceLimit } from '../../../firmware/auth/stale-nonce-limit.ts';
import { deriveKey } from '../../../firmware/keys/record-keys.ts';
import { AuthError, type LoginCrypto, LoginService } from '../../../firmware/services/login-service.ts';
import { SecurityService } from '../../../firmware/services/security-service.ts';
import { bootNormal, tempDataDir } from '../../support/store-fixture.ts';

/** A login service on a factory data dir whose Ed25519 operations are counted, in call order. */
async function countingLogin(t: TestContext) {
  const { store, normal } = await bootNormal(tempDataDir(t));
  const now = () => 1_700_000_000_000;
  const security = new SecurityService(store, { now, kdfIterations: MIN_KDF_ITERATIONS });
  const calls: string[] = [];
  const crypto: LoginCrypto = {
    verifySignature: (...args) => {
      calls.push('verifySignature');
      return verifySignature(...args);
    },
    publicKeyFromSeed: (...args) => {
      calls.push('publicKeyFromSeed');
      return publicKeyFromSeed(...args);
    },
  };
  const sessionKey = deriveKey(normal.rootKey, 'session');
  const login = new LoginService({
    security,
    challenges: new LoginChallenges(sessionKey),
    throttle: new LoginThrottle(() => security.state.settings.lockout),
    staleNonces: new StaleNonceLimit(),
    sessions: new SessionStore(),
    identity: deriveDeviceIdentity(normal.rootKey),
    decoyKey: sessionKey,
    now,
    crypto,
  });
  /** The operations one call of `action` made. */
  const counted = (action: () => void): string[] => {
    calls.length = 0;
    action();
    return [...calls];
  };
  return { login, counted };
}

/** A login with a fresh challenge and `signature`; the error code (or 'ok'). */
function tryLogin(login: LoginService, username: string, source: string, signature?: Uint8Array) {
  const ctx = { interface: 'https' as const, source };
  const { nonce } = login.challenge(username, ctx);
  try {
    login.login(username, nonce, signature ?? new Uint8Array(randomBytes(64)), ctx);
    return 'ok';
  } catch (error) {
    assert.ok(error instanceof AuthError, String(error));
    return error.code;
  }
}

describe('LoginService: the same work for every name', () => {
  it('one signature check and no key derivation per login, for a real user and for names without a verifier', async (t) => {
    const { login, counted } = await countingLogin(t);
    const names = ['admin', 'ghost_user', 'anonymous', 'localgui', 'Admin', 'x'];
    for (let round = 0; round < 5; round++) {
      for (const [i, name] of names.entries()) {
        let code = '';
        const ops = counted(() => {
          code = tryLogin(
            login,
            `${name}${round > 0 && name === 'ghost_user' ? round : ''}`,
            `10.0.${round}.${i}`,
          );
        });
        assert.equal(code, 'invalid-credentials', name);
        assert.deepEqual(ops, ['verifySignature'], `${name}, round ${round}`);
      }
    }
  });

  it('the right password costs the same one signature check', async (t) => {
    const { login, counted } = await countingLogin(t);
    const ctx = { interface: 'https' as const, source: '10.1.0.1' };
    const challenge = login.challenge('admin', ctx);
    const seed = await deriveSeed('CBM_1234', challenge.salt, challenge.iterations);
    const signature = signWithSeed(seed, proofMessage('login', 'admin', challenge.nonce));
    const ops = counted(() => login.login('admin', challenge.nonce, signature, ctx));
    assert.deepEqual(ops, ['verifySignature']);
  });

  it('a stale or unknown nonce is refused before any signature work', async (t) => {
    const { login, counted } = await countingLogin(t);
    for (const name of ['admin', 'ghost_user']) {
      const ctx = { interface: 'https' as const, source: `10.2.0.${name.length}` };
      let code = '';
      const ops = counted(() => {
        try {
          login.login(name, new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(64)), ctx);
        } catch (error) {
          code = (error as AuthError).code;
        }
      });
      assert.equal(code, 'challenge-expired');
      assert.deepEqual(ops, [], name);
    }
  });
});
