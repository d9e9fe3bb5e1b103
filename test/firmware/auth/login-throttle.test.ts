/**
 * Login throttle: after N failures of an (account, source) pair each further attempt waits a delay that
 * doubles, after M failures the pair is locked for lockSeconds (with the time left), pairs are
 * independent, failures of one account from any source lock it at its own cap (never above 100), a
 * success clears the counters, and the memory spent on counters is bounded without a flood of made-up
 * names washing out a real account's counters.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginThrottle, type ThrottleVerdict } from '../../../firmware/auth/login-throttle.ts';
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
  it('clears the pair and the account counter on success', () => {
    const throttle = throttleWith({ accountLockAfterFailures: 4 });
    failRepeatedly(throttle, 'admin', 'A', 2);
    throttle.fail('admin', 'B', T0);
    throttle.succeed('admin', 'A');
    // Both counters start again: two failures at A and three at B in all would otherwise delay or lock.
    assert.deepEqual(throttle.fail('admin', 'A', T0), ALLOWED);
    assert.deepEqual(throttle.fail('admin', 'A', T0), ALLOWED);
    assert.deepEqual(throttle.fail('admin', 'B', T0), ALLOWED);
    assert.deepEqual(throttle.check('admin', 'C', T0), ALLOWED);
  });

  it('lifts a delay at once on success', () => {
    const throttle = throttleWith();
    failRepeatedly(throttle, 'admin', 'A', POLICY.delayAfterFailures);
    assert.equal(throttle.check('admin', 'A', T0).allowed, false);
    throttle.succeed('admin', 'A');
    assert.deepEqual(throttle.check('admin', 'A', T0), ALLOWED);
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
