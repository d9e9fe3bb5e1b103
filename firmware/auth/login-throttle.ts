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
      if (counter?.locked && counter.blockedUntil <= now) {
        // A lock that has run out starts the count again; the delays apply anew.
        counter.locked = false;
        counter.failures = 0;
      }
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
    const pair = counterIn(this.pairs, pairKey(account, source), now);
    pair.failures++;
    pair.locked = false;
    if (pair.failures >= policy.lockAfterFailures) {
      pair.blockedUntil = now + policy.lockSeconds * 1000;
      pair.locked = true;
    } else if (pair.failures >= policy.delayAfterFailures) {
      const doublings = Math.min(pair.failures - policy.delayAfterFailures, 20);
      pair.blockedUntil = now + policy.baseDelayMs * 2 ** doublings;
    }
    const accountCounter = counterIn(this.accounts, account, now);
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

function counterIn(map: Map<string, Counter>, key: string, now: number): Counter {
  let counter = map.get(key);
  if (!counter) {
    if (map.size >= MAX_TRACKED) map.delete(leastValuable(map, now));
    counter = { failures: 0, blockedUntil: 0, locked: false };
    map.set(key, counter);
  }
  return counter;
}

/**
 * The counter to forget when the map is full: not blocking now, fewest failures, oldest. Evicting the
 * oldest alone would let a flood of failures for made-up names wash out a real account's lock and count.
 */
function leastValuable(map: Map<string, Counter>, now: number): string {
  let victim: string | undefined;
  let lowest = Number.POSITIVE_INFINITY;
  for (const [key, counter] of map) {
    const weight = counter.blockedUntil > now ? Number.POSITIVE_INFINITY : counter.failures;
    if (victim === undefined || weight < lowest) {
      victim = key;
      lowest = weight;
      if (weight <= 1) break;
    }
  }
  return victim as string;
}
