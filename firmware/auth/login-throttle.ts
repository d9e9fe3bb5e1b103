/**
 * Brute-force protection (DESIGN §5): consecutive failures per (account, source) first delay further
 * attempts exponentially, then lock the pair for a while; failures per account whatever the source
 * lock the account at a cap (≤ 100, NIST SP 800-63B). A success clears both. The display keeps its own
 * instance, so a network attacker cannot lock the operator out at the meter. Pure: `now` is passed in.
 */
import type { LockoutPolicy } from '../core/security-settings.ts';

export type ThrottleVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: 'delayed' | 'locked'; readonly retryAfterMs: number };

interface Counter {
  failures: number;
  /** No attempt before this time. */
  blockedUntil: number;
  locked: boolean;
}

/** Bounds the memory an attacker can make us spend on counters for made-up names and sources. */
const MAX_TRACKED = 4096;

export class LoginThrottle {
  private readonly pairs = new Map<string, Counter>();
  private readonly accounts = new Map<string, Counter>();

  constructor(private policy: () => LockoutPolicy) {}

  /** May `account` try to log in from `source` now? */
  check(account: string, source: string, now: number): ThrottleVerdict {
    for (const counter of [this.accounts.get(account), this.pairs.get(pairKey(account, source))]) {
      if (counter && counter.blockedUntil > now) {
        return {
          allowed: false,
          reason: counter.locked ? 'locked' : 'delayed',
          retryAfterMs: counter.blockedUntil - now,
        };
      }
    }
    return { allowed: true };
  }

  /** Records a failure; returns what the next attempt will meet (for the event log). */
  fail(account: string, source: string, now: number): ThrottleVerdict {
    const policy = this.policy();
    const pair = counterIn(this.pairs, pairKey(account, source));
    pair.failures++;
    pair.locked = false;
    if (pair.failures >= policy.lockAfterFailures) {
      pair.blockedUntil = now + policy.lockSeconds * 1000;
      pair.locked = true;
    } else if (pair.failures >= policy.delayAfterFailures) {
      const doublings = Math.min(pair.failures - policy.delayAfterFailures, 20);
      pair.blockedUntil = now + policy.baseDelayMs * 2 ** doublings;
    }
    const accountCounter = counterIn(this.accounts, account);
    accountCounter.failures++;
    if (accountCounter.failures >= Math.min(policy.accountLockAfterFailures, 100)) {
      accountCounter.blockedUntil = now + policy.lockSeconds * 1000;
      accountCounter.locked = true;
      accountCounter.failures = 0;
    }
    return this.check(account, source, now);
  }

  /** A success clears the pair's and the account's counters. */
  succeed(account: string, source: string): void {
    this.pairs.delete(pairKey(account, source));
    this.accounts.delete(account);
  }

  /** Forget everything (a changed policy, a factory reset). */
  clear(): void {
    this.pairs.clear();
    this.accounts.clear();
  }
}

function pairKey(account: string, source: string): string {
  return `${account}\n${source}`;
}

function counterIn(map: Map<string, Counter>, key: string): Counter {
  let counter = map.get(key);
  if (!counter) {
    if (map.size >= MAX_TRACKED) map.delete(map.keys().next().value as string);
    counter = { failures: 0, blockedUntil: 0, locked: false };
    map.set(key, counter);
  }
  return counter;
}
