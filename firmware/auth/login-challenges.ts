/**
 * Single-use login nonces. A challenge binds a random 32-byte nonce to one username and expires. The
 * table is bounded twice: each source address holds at most MAX_CHALLENGES_PER_SOURCE open challenges
 * (its oldest goes first), and when the whole table is full the oldest challenge of the source holding
 * the most goes. So a flood of challenge requests costs memory only up to the bound and evicts only
 * the flooder's own nonces, never the one a browser is deriving its key for. For an unknown username
 * the salt is a keyed hash of the name, stable across requests, so the answer looks the same as for a
 * real user.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { toBase64Url } from './encoding.ts';

export const CHALLENGE_TTL_MS = 60_000;
export const MAX_OPEN_CHALLENGES = 256;
/** Enough for every browser behind one NAT address to log in at once; a flood fills only its own share. */
export const MAX_CHALLENGES_PER_SOURCE = 16;

interface OpenChallenge {
  readonly username: string;
  readonly source: string;
  readonly expiresAt: number;
}

export interface ChallengeLimits {
  readonly ttlMs: number;
  /** Open challenges in all. */
  readonly max: number;
  /** Open challenges per source address. */
  readonly perSource: number;
}

export class LoginChallenges {
  /** By nonce (base64url), oldest first. */
  private readonly open = new Map<string, OpenChallenge>();
  /** The nonces each source holds, oldest first. */
  private readonly bySource = new Map<string, string[]>();
  private readonly limits: ChallengeLimits;

  constructor(
    private readonly saltKey: Uint8Array,
    limits: Partial<ChallengeLimits> = {},
  ) {
    this.limits = {
      ttlMs: CHALLENGE_TTL_MS,
      max: MAX_OPEN_CHALLENGES,
      perSource: MAX_CHALLENGES_PER_SOURCE,
      ...limits,
    };
  }

  /**
   * A new nonce for `username`, asked for from `source`, valid before now + ttl (`expiresAt`, the first
   * instant it is refused).
   */
  issue(username: string, source: string, now: number): { nonce: Uint8Array; expiresAt: number } {
    this.prune(now);
    const own = this.bySource.get(source);
    if (own && own.length >= this.limits.perSource) this.drop(own[0] as string);
    else if (this.open.size >= this.limits.max) this.drop(this.oldestOfLargestSource());
    const nonce = new Uint8Array(randomBytes(32));
    const key = toBase64Url(nonce);
    const expiresAt = now + this.limits.ttlMs;
    this.open.set(key, { username, source, expiresAt });
    const keys = this.bySource.get(source);
    if (keys) keys.push(key);
    else this.bySource.set(source, [key]);
    return { nonce, expiresAt };
  }

  /** Uses up a nonce: true only once, only for the username it was issued to, only before it expires. */
  consume(nonce: Uint8Array, username: string, now: number): boolean {
    const key = toBase64Url(nonce);
    const challenge = this.open.get(key);
    if (!challenge) return false;
    this.drop(key);
    return challenge.username === username && now < challenge.expiresAt;
  }

  /** The salt shown for a username that has no verifier: HMAC(key, name), 16 bytes. */
  decoySalt(username: string): Uint8Array {
    return new Uint8Array(
      createHmac('sha256', this.saltKey).update(`salt\n${username}`).digest().subarray(0, 16),
    );
  }

  private drop(key: string): void {
    const challenge = this.open.get(key);
    if (!challenge) return;
    this.open.delete(key);
    const keys = this.bySource.get(challenge.source) as string[];
    if (keys[0] === key) keys.shift();
    else keys.splice(keys.indexOf(key), 1);
    if (keys.length === 0) this.bySource.delete(challenge.source);
  }

  /** The nonce to evict from a full table: the oldest of the source holding the most (the oldest on a tie). */
  private oldestOfLargestSource(): string {
    let victim: string[] = [];
    for (const keys of this.bySource.values()) {
      const older = keys.length === victim.length && this.age(keys) > this.age(victim);
      if (keys.length > victim.length || older) victim = keys;
    }
    return victim[0] as string;
  }

  /** How early the source's oldest open challenge expires (a smaller expiry is older). */
  private age(keys: readonly string[]): number {
    return -(this.open.get(keys[0] as string)?.expiresAt ?? 0);
  }

  private prune(now: number): void {
    for (const [key, challenge] of this.open) {
      if (challenge.expiresAt <= now) this.drop(key);
    }
  }
}
