/**
 * Brute-force protection (DESIGN §5, docs/auth-protocol.md §9): consecutive failures per (account,
 * source) first delay further attempts exponentially, then lock the pair, and every further failure
 * locks it again for twice as long (up to MAX_LOCK_MS). Failures of one account from any source lock
 * the account at a cap (≤ 100, NIST SP 800-63B) the same way, except for sources that logged in to
 * that account within TRUSTED_SOURCE_MS: attackers elsewhere cannot lock the administrator out of the
 * workstation it uses. A lock running out forgets nothing; a count is forgotten only after
 * CLEAN_PERIOD_MS without failures once its wait or lock has ended. A success clears its pair's count
 * only: the account's count is the attackers' as much as the user's. The display keeps its own
 * instance, so a network attacker cannot lock the operator out at the meter. Pure: `now` is passed in.
 */
import type { LockoutPolicy } from '../core/security-settings.ts';

export type ThrottleVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: 'delayed' | 'locked'; readonly retryAfterMs: number };

/** A count is forgotten after this long without failures, counted from the end of its wait or lock. */
export const CLEAN_PERIOD_MS = 24 * 3_600_000;
/** Locks double with every further failure up to this (or up to lockSeconds, if longer). */
export const MAX_LOCK_MS = 24 * 3_600_000;
/** A source that logged in to an account this recently is not held by the account-wide lock. */
export const TRUSTED_SOURCE_MS = 7 * 24 * 3_600_000;
/** NIST SP 800-63B: never more than 100 consecutive failures per account. */
export const ACCOUNT_LOCK_CAP = 100;

interface Counter {
  failures: number;
  /** No attempt before this time. */
  blockedUntil: number;
  locked: boolean;
  lastFailureAt: number;
}

/** Bounds the memory an attacker can make us spend on counters for made-up names and sources. */
const MAX_TRACKED = 4096;
/** Bounds the remembered successful (account, source) pairs; the oldest success is forgotten first. */
const MAX_TRUSTED = 1024;

export class LoginThrottle {
  private readonly pairs = new Map<string, Counter>();
  private readonly accounts = new Map<string, Counter>();
  /** Time of the last success per (account, source), oldest first. */
  private readonly trusted = new Map<string, number>();

  constructor(private policy: () => LockoutPolicy) {}

  /** May `account` try to log in from `source` now? */
  check(account: string, source: string, now: number): ThrottleVerdict {
    const pair = live(this.pairs, pairKey(account, source), now);
    if (pair && pair.blockedUntil > now) return blocked(pair, now);
    if (this.isTrusted(account, source, now)) return { allowed: true };
    const accountCounter = live(this.accounts, account, now);
    if (accountCounter && accountCounter.blockedUntil > now) return blocked(accountCounter, now);
    return { allowed: true };
  }

  /** Records a failure; returns what the next attempt from `source` will meet (for the event log). */
  fail(account: string, source: string, now: number): ThrottleVerdict {
    const policy = this.policy();
    const lockMs = policy.lockSeconds * 1000;
    const pair = counterIn(this.pairs, pairKey(account, source), now);
    pair.failures++;
    pair.lastFailureAt = now;
    if (pair.failures >= policy.lockAfterFailures) {
      block(pair, now, lockFor(lockMs, pair.failures - policy.lockAfterFailures), true);
    } else if (pair.failures >= policy.delayAfterFailures) {
      const doublings = Math.min(pair.failures - policy.delayAfterFailures, 20);
      block(pair, now, policy.baseDelayMs * 2 ** doublings, false);
    }
    const accountCounter = counterIn(this.accounts, account, now);
    accountCounter.failures++;
    accountCounter.lastFailureAt = now;
    const cap = Math.min(policy.accountLockAfterFailures, ACCOUNT_LOCK_CAP);
    if (accountCounter.failures >= cap) {
      block(accountCounter, now, lockFor(lockMs, accountCounter.failures - cap), true);
    }
    return this.check(account, source, now);
  }

  /**
   * A success clears the pair's count and trusts the source for the account; the account's count
   * stays (it decays after a clean period).
   */
  succeed(account: string, source: string, now: number): void {
    const key = pairKey(account, source);
    this.pairs.delete(key);
    this.trusted.delete(key);
    this.trusted.set(key, now);
    if (this.trusted.size > MAX_TRUSTED) this.trusted.delete(this.trusted.keys().next().value as string);
  }

  /** Forget everything (a changed policy, a factory reset). */
  clear(): void {
    this.pairs.clear();
    this.accounts.clear();
    this.trusted.clear();
  }

  private isTrusted(account: string, source: string, now: number): boolean {
    const at = this.trusted.get(pairKey(account, source));
    return at !== undefined && now - at < TRUSTED_SOURCE_MS;
  }
}

function pairKey(account: string, source: string): string {
  return `${account}\n${source}`;
}

/** The lock after `extra` failures beyond the lock threshold: doubling, capped. */
function lockFor(lockMs: number, extra: number): number {
  return Math.min(lockMs * 2 ** Math.min(extra, 30), Math.max(lockMs, MAX_LOCK_MS));
}

function block(counter: Counter, now: number, ms: number, locked: boolean): void {
  counter.blockedUntil = now + ms;
  counter.locked = locked;
}

function blocked(counter: Counter, now: number): ThrottleVerdict {
  return {
    allowed: false,
    reason: counter.locked ? 'locked' : 'delayed',
    retryAfterMs: counter.blockedUntil - now,
  };
}

/** The counter under `key`, unless a clean period has passed since its wait or lock ended (then forgotten). */
function live(map: Map<string, Counter>, key: string, now: number): Counter | undefined {
  const counter = map.get(key);
  if (counter && now - Math.max(counter.lastFailureAt, counter.blockedUntil) >= CLEAN_PERIOD_MS) {
    map.delete(key);
    return undefined;
  }
  return counter;
}

function counterIn(map: Map<string, Counter>, key: string, now: number): Counter {
  let counter = live(map, key, now);
  if (!counter) {
    if (map.size >= MAX_TRACKED) map.delete(leastValuable(map, now));
    counter = { failures: 0, blockedUntil: 0, locked: false, lastFailureAt: now };
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
