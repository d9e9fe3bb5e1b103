/**
 * Logins with a stale or unknown nonce, counted per source address. Such a login proves nothing about
 * a password, so it is not a failed login (else flooding challenges to evict a user's nonce would lock
 * the user out), but nothing legitimate sends many: a browser whose challenge ran out asks again. A
 * token bucket per source lets STALE_NONCE_BURST through, then one per STALE_NONCE_REFILL_MS; beyond
 * that every login from the source is answered 429 before anything else is looked at. Pure: `now` is
 * passed in.
 */

/** Stale nonces a source may send in a burst… */
export const STALE_NONCE_BURST = 10;
/** …then one more per this many ms (10 a minute). */
export const STALE_NONCE_REFILL_MS = 6_000;
/** Sources tracked; the least recently seen is forgotten beyond this. */
const MAX_SOURCES = 1024;

interface Bucket {
  readonly tokens: number;
  readonly at: number;
}

export class StaleNonceLimit {
  private readonly buckets = new Map<string, Bucket>();

  /** 0 when `source` may try to log in now, else the ms until it may. */
  retryAfterMs(source: string, now: number): number {
    const tokens = this.tokens(source, now);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) * STALE_NONCE_REFILL_MS);
  }

  /** Counts one stale nonce from `source`. */
  hit(source: string, now: number): void {
    const tokens = this.tokens(source, now);
    this.buckets.delete(source);
    this.buckets.set(source, { tokens: Math.max(0, tokens - 1), at: now });
    if (this.buckets.size > MAX_SOURCES) this.buckets.delete(this.buckets.keys().next().value as string);
  }

  private tokens(source: string, now: number): number {
    const bucket = this.buckets.get(source);
    if (!bucket) return STALE_NONCE_BURST;
    return Math.min(STALE_NONCE_BURST, bucket.tokens + Math.max(0, now - bucket.at) / STALE_NONCE_REFILL_MS);
  }
}
