/**
 * Single-use login nonces. A challenge binds a random 32-byte nonce to one username and expires; the
 * table is bounded (the oldest challenge goes first), so a flood of challenge requests costs memory
 * only up to the bound. For an unknown username the salt is a keyed hash of the name, stable across
 * requests, so the answer looks the same as for a real user.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { toBase64Url } from './encoding.ts';

export const CHALLENGE_TTL_MS = 60_000;
export const MAX_OPEN_CHALLENGES = 256;

interface OpenChallenge {
  readonly username: string;
  readonly expiresAt: number;
}

export class LoginChallenges {
  private readonly open = new Map<string, OpenChallenge>();

  constructor(
    private readonly saltKey: Uint8Array,
    private readonly limits: { readonly ttlMs: number; readonly max: number } = {
      ttlMs: CHALLENGE_TTL_MS,
      max: MAX_OPEN_CHALLENGES,
    },
  ) {}

  /** A new nonce for `username`, valid before now + ttl (`expiresAt`, the first instant it is refused). */
  issue(username: string, now: number): { nonce: Uint8Array; expiresAt: number } {
    this.prune(now);
    while (this.open.size >= this.limits.max) {
      const oldest = this.open.keys().next().value as string;
      this.open.delete(oldest);
    }
    const nonce = new Uint8Array(randomBytes(32));
    const expiresAt = now + this.limits.ttlMs;
    this.open.set(toBase64Url(nonce), { username, expiresAt });
    return { nonce, expiresAt };
  }

  /** Uses up a nonce: true only once, only for the username it was issued to, only before it expires. */
  consume(nonce: Uint8Array, username: string, now: number): boolean {
    const key = toBase64Url(nonce);
    const challenge = this.open.get(key);
    if (!challenge) return false;
    this.open.delete(key);
    return challenge.username === username && now < challenge.expiresAt;
  }

  /** The salt shown for a username that has no verifier: HMAC(key, name), 16 bytes. */
  decoySalt(username: string): Uint8Array {
    return new Uint8Array(
      createHmac('sha256', this.saltKey).update(`salt\n${username}`).digest().subarray(0, 16),
    );
  }

  private prune(now: number): void {
    for (const [key, challenge] of this.open) {
      if (challenge.expiresAt <= now) this.open.delete(key);
    }
  }
}
