/**
 * Login throttle: after N failures of an (account, source) pair each further attempt waits a delay that
 * doubles, after M failures the pair is locked for lockSeconds (with the time left), and a lock running
 * out forgets nothing: each further failure locks again for twice as long, up to a cap; pairs are
 * independent; failures of one account from any source lock it at its own cap (never above 100), the
 * same way, but not for a source that logged in to it recently; a success clears its pair only; counts
 * are forgotten after a clean period; and the memory spent on counters is bounded without a flood of
 * made-up names washing out a real account's counters. (docs/auth-protocol.md §9's table is replayed by
 * test/docs/auth-protocol-lockout.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CLEAN_PERIOD_MS,
  LoginThrottle,
  MAX_LOCK_MS,
  type ThrottleVerdict,
  TRUSTED_SOURCE_MS,
} from '../../../firmware/auth/login-throttle.ts';
import { DEFAULT_SECURITY_SETTINGS, type LockoutPolicy } from '../../../firmware/core/security-settings.ts';

const T0 = 1_700_000_000_000;
const POLICY: LockoutPolicy = {
  delayAfterFailures: 3,
  baseDelayMs: 1000,
  lockAfterFailures: 10,
  lockSeconds: 300,
  accountLockAfterFailures: 100,
};

function throttleWith(policy: Partial<LockoutPolicy> = {}): LoginThrottle {
  return new LoginThrottle(() => ({ ...POLICY, ...policy }));
}

const ALLOWED: ThrottleVerdict = { allowed: true };
const delayed = (retryAfterMs: number): ThrottleVerdict => ({
  allowed: false,
  reason: 'delayed',
  retryAfterMs,
});
const locked = (retryAfterMs: number): ThrottleVerdict => ({
  allowed: false,
  reason: 'locked',
  retryAfterMs,
});

/** Fails `count` times, each as soon as the throttle allows it; returns the time after the last one. */
function failRepeatedly(throttle: LoginThrottle, account: string, source: string, count: number, from = T0) {
  let now = from;
  for (let i = 0; i < count; i++) {
    const verdict = throttle.check(account, source, now);
    if (!verdict.allowed) now += verdict.retryAfterMs;
    assert.deepEqual(throttle.check(account, source, now), ALLOWED);
    throttle.fail(account, source, now);
  }
  return now;
}

/** The counter maps, read through a cast: the module's API stays as it is. */
function trackedCounters(throttle: LoginThrottle): { pairs: number; accounts: number } {
  const inner = throttle as unknown as { pairs: Map<string, unknown>; accounts: Map<string, unknown> };
  return { pairs: inner.pairs.size, accounts: inner.accounts.size };
}

describe('LoginThrottle delays', () => {
  it('allows the first failures, then delays each attempt by a doubling delay', () => {
    const throttle = throttleWith();
    assert.deepEqual(throttle.check('admin', 'A', T0), ALLOWED);
    assert.deepEqual(throttle.fail('admin', 'A', T0), ALLOWED);
    assert.deepEqual(throttle.fail('admin', 'A', T0), ALLOWED);
    assert.deepEqual(throttle.fail('admin', 'A', T0), delayed(1000));
    assert.deepEqual(throttle.check('admin', 'A', T0 + 999), delayed(1));
    assert.deepEqual(throttle.check('admin', 'A', T0 + 1000), ALLOWED);
    assert.deepEqual(throttle.fail('admin', 'A', T0 + 1000), delayed(2000));
    assert.deepEqual(throttle.fail('admin', 'A', T0 + 3000), delayed(4000));
    assert.deepEqual(throttle.fail('admin', 'A', T0 + 7000), delayed(8000));
  });

  it('scales the delays with baseDelayMs and starts them at delayAfterFailures', () => {
    const throttle = throttleWith({ delayAfterFailures: 1, baseDelayMs: 250 });
    assert.deepEqual(throttle.fail('admin', 'A', T0), delayed(250));
    assert.deepEqual(throttle.fail('admin', 'A', T0 + 250), delayed(500));
  });
});

describe('LoginThrottle lock', () => {
  it('locks the pair after lockAfterFailures for lockSeconds, with the time left', () => {
    const throttle = throttleWith();
    const now = failRepeatedly(throttle, 'admin', 'A', POLICY.lockAfterFailures - 1);
    assert.equal(throttle.check('admin', 'A', now).allowed, false);
    const last = now + (throttle.check('admin', 'A', now) as { retryAfterMs: number }).retryAfterMs;
    assert.deepEqual(throttle.fail('admin', 'A', last), locked(300_000));
    assert.deepEqual(throttle.check('admin', 'A', last + 120_000), locked(180_000));
    assert.deepEqual(throttle.check('admin', 'A', last + 299_999), locked(1));
  });

  it('unlocks after lockSeconds', () => {
    const throttle = throttleWith({ lockSeconds: 60 });
    const now = failRepeatedly(throttle, 'admin', 'A', POLICY.lockAfterFailures);
    assert.deepEqual(throttle.check('admin', 'A', now), locked(60_000));
    assert.deepEqual(throttle.check('admin', 'A', now + 60_000), ALLOWED);
  });

  it('keeps counting after a lock ran out: each further failure locks again, twice as long', () => {
    const throttle = throttleWith({ lockSeconds: 60 });
    let now = failRepeatedly(throttle, 'admin', 'A', POLICY.lockAfterFailures);
    for (const seconds of [120, 240, 480]) {
      now += (throttle.check('admin', 'A', now) as { retryAfterMs: number }).retryAfterMs;
      assert.deepEqual(throttle.check('admin', 'A', now), ALLOWED);
      assert.deepEqual(throttle.fail('admin', 'A', now), locked(seconds * 1000));
    }
  });

  it('caps the doubling lock at MAX_LOCK_MS (24 h)', () => {
    const throttle = throttleWith({ lockSeconds: 3600 });
    const now = failRepeatedly(throttle, 'admin', 'A', POLICY.lockAfterFailures + 10);
    assert.equal(MAX_LOCK_MS, 24 * 3_600_000);
    assert.deepEqual(throttle.check('admin', 'A', now), locked(MAX_LOCK_MS));
  });

  it('forgets a count only after a clean period (24 h) since its wait or lock ended', () => {
    const throttle = throttleWith({ lockSeconds: 60 });
    const now = failRepeatedly(throttle, 'admin', 'A', POLICY.lockAfterFailures);
    const end = now + 60_000;
    // A day minus 1 ms after the lock ended, the count is still there: one failure locks again.
    assert.deepEqual(throttle.fail('admin', 'A', end + CLEAN_PERIOD_MS - 1), locked(120_000));
    const later = end + CLEAN_PERIOD_MS - 1 + 120_000 + CLEAN_PERIOD_MS;
    assert.deepEqual(throttle.check('admin', 'A', later), ALLOWED);
    assert.deepEqual(throttle.fail('admin', 'A', later), ALLOWED, 'the count started again');
    assert.deepEqual(trackedCounters(throttle), { pairs: 1, accounts: 1 });
  });

  it('keeps pairs independent: another source or another account is not slowed down', () => {
    const throttle = throttleWith();
    const now = failRepeatedly(throttle, 'admin', 'A', POLICY.lockAfterFailures);
    assert.equal(throttle.check('admin', 'A', now).allowed, false);
    assert.deepEqual(throttle.check('admin', 'B', now), ALLOWED);
    assert.deepEqual(throttle.check('operator', 'A', now), ALLOWED);
    assert.deepEqual(throttle.fail('admin', 'B', now), ALLOWED);
    assert.deepEqual(throttle.fail('operator', 'A', now), ALLOWED);
  });
});

describe('LoginThrottle account cap', () => {
  it('locks the account from every source after accountLockAfterFailures failures in all', () => {
    const throttle = throttleWith({
      delayAfterFailures: 50,
      lockAfterFailures: 50,
      accountLockAfterFailures: 5,
    });
    for (let i = 0; i < 4; i++) assert.deepEqual(throttle.fail('admin', `10.0.0.${i}`, T0), ALLOWED);
    assert.deepEqual(throttle.fail('admin', '10.0.0.4', T0), locked(300_000));
    assert.deepEqual(throttle.check('admin', '10.0.0.99', T0 + 1), locked(299_999));
    assert.deepEqual(throttle.check('operator', '10.0.0.99', T0 + 1), ALLOWED);
    assert.deepEqual(throttle.check('admin', '10.0.0.99', T0 + 300_000), ALLOWED);
  });

  it('never lets an account take more than 100 failures, whatever the policy says', () => {
    const throttle = throttleWith({
      delayAfterFailures: 100,
      lockAfterFailures: 100,
      accountLockAfterFailures: 1000,
    });
    for (let i = 0; i < 99; i++) assert.deepEqual(throttle.fail('admin', `source${i}`, T0), ALLOWED);
    assert.deepEqual(throttle.fail('admin', 'source99', T0), locked(300_000));
  });

  it('ships with the NIST SP 800-63B cap of 100', () => {
    assert.equal(DEFAULT_SECURITY_SETTINGS.lockout.accountLockAfterFailures, 100);
  });
});

describe('LoginThrottle success and policy', () => {
  it("clears the pair's count on success, not the account's", () => {
    const throttle = throttleWith({ accountLockAfterFailures: 4 });
    failRepeatedly(throttle, 'admin', 'A', 2);
    throttle.fail('admin', 'B', T0);
    throttle.succeed('admin', 'A', T0);
    // The pair starts again: two more failures at A do not delay it (three in a row would).
    assert.deepEqual(throttle.fail('admin', 'A', T0), ALLOWED);
    // But the account has counted four failures in all: locked for every source but A.
    assert.deepEqual(throttle.check('admin', 'C', T0), locked(300_000));
    assert.deepEqual(throttle.check('admin', 'B', T0), locked(300_000));
    assert.deepEqual(throttle.check('admin', 'A', T0), ALLOWED);
  });

  it('lifts a delay at once on success', () => {
    const throttle = throttleWith();
    failRepeatedly(throttle, 'admin', 'A', POLICY.delayAfterFailures);
    assert.equal(throttle.check('admin', 'A', T0).allowed, false);
    throttle.succeed('admin', 'A', T0);
    assert.deepEqual(throttle.check('admin', 'A', T0), ALLOWED);
  });

  it('does not hold a source that logged in to the account within 7 days by the account-wide lock', () => {
    const throttle = throttleWith({
      delayAfterFailures: 50,
      lockAfterFailures: 50,
      accountLockAfterFailures: 5,
    });
    throttle.succeed('admin', 'home', T0);
    for (let i = 0; i < 5; i++) throttle.fail('admin', `attacker${i}`, T0 + 1);
    assert.deepEqual(throttle.check('admin', 'elsewhere', T0 + 2), locked(299_999));
    assert.deepEqual(throttle.check('admin', 'home', T0 + 2), ALLOWED);
    assert.deepEqual(throttle.check('operator', 'home', T0 + 2), ALLOWED);
    // Trust is per account: a success as someone else does not count.
    throttle.succeed('operator', 'other', T0);
    assert.deepEqual(throttle.check('admin', 'other', T0 + 2), locked(299_999));
    // After 7 days without a login from there, home is held like any other source.
    assert.equal(TRUSTED_SOURCE_MS, 7 * 24 * 3_600_000);
    for (let i = 0; i < 20; i++) throttle.fail('admin', `attacker${i}`, T0 + TRUSTED_SOURCE_MS - 1);
    assert.deepEqual(throttle.check('admin', 'home', T0 + TRUSTED_SOURCE_MS - 1).allowed, true);
    assert.deepEqual(throttle.check('admin', 'home', T0 + TRUSTED_SOURCE_MS).allowed, false);
  });

  it("still applies the trusted source's own pair throttle", () => {
    const throttle = throttleWith();
    throttle.succeed('admin', 'home', T0);
    const now = failRepeatedly(throttle, 'admin', 'home', POLICY.lockAfterFailures);
    assert.deepEqual(throttle.check('admin', 'home', now), locked(300_000));
  });

  it('reads the policy at every failure and forgets everything on clear()', () => {
    let policy: LockoutPolicy = POLICY;
    const throttle = new LoginThrottle(() => policy);
    throttle.fail('admin', 'A', T0);
    policy = { ...POLICY, lockAfterFailures: 2, delayAfterFailures: 2 };
    assert.deepEqual(throttle.fail('admin', 'A', T0), locked(300_000));
    throttle.clear();
    assert.deepEqual(throttle.check('admin', 'A', T0), ALLOWED);
    assert.deepEqual(trackedCounters(throttle), { pairs: 0, accounts: 0 });
  });
});

describe('LoginThrottle memory', () => {
  it('stops growing under failures for many distinct accounts and sources', () => {
    const throttle = throttleWith();
    const flood = (from: number, to: number) => {
      for (let i = from; i < to; i++) throttle.fail(`ghost${i}`, `source${i}`, T0);
    };
    flood(0, 6_000);
    const plateau = trackedCounters(throttle);
    flood(6_000, 12_000);
    assert.deepEqual(trackedCounters(throttle), plateau);
    assert.ok(plateau.pairs < 6_000 && plateau.accounts < 6_000, JSON.stringify(plateau));
  });

  it('does not let a flood of made-up names wash out a locked pair or a counted account', () => {
    const throttle = throttleWith({ accountLockAfterFailures: 30 });
    const now = failRepeatedly(throttle, 'admin', 'A', POLICY.lockAfterFailures);
    for (let i = 0; i < 9; i++) throttle.fail('admin', `B${i}`, now);
    // 19 failures of admin in all: 11 more lock the account.
    for (let i = 0; i < 12_000; i++) throttle.fail(`ghost${i}`, 'A', now);
    assert.deepEqual(throttle.check('admin', 'A', now + 1), locked(299_999));
    for (let i = 0; i < 10; i++) assert.deepEqual(throttle.fail('admin', `C${i}`, now + 1), ALLOWED);
    assert.deepEqual(throttle.fail('admin', 'C10', now + 1), locked(300_000));
  });
});
