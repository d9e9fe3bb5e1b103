/**
 * Web sessions (DESIGN §5): random 256-bit tokens of which only the SHA-256 is kept, each bound to a
 * slot and that slot's epoch (so a password or permission change ends them) and to the scheme it was
 * made on (a cookie read off plain HTTP opens nothing over HTTPS), with idle and absolute
 * timeouts and a bounded count (the least recently used session goes first). RAM only: a reboot ends
 * every session. Pure apart from the CSPRNG: `now` is passed in.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { fromBase64Url, toBase64Url } from './encoding.ts';

export interface SessionLimits {
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly max: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  idleMs: 15 * 60_000,
  absoluteMs: 8 * 60 * 60_000,
  max: 32,
};

/** The scheme a session was made on, and the only one it is good for. */
export type SessionScheme = 'http' | 'https';

export interface Session {
  readonly slot: number;
  readonly scheme: SessionScheme;
  readonly epoch: number;
  /** Sent back in X-CSRF-Token on every state-changing request. */
  readonly csrfToken: string;
  readonly createdAt: number;
  lastSeen: number;
  readonly source: string;
}

export class SessionStore {
  /** Keyed by base64url(SHA-256(token)); Map order doubles as LRU order. */
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly limits: SessionLimits = DEFAULT_SESSION_LIMITS) {}

  /** Opens a session; returns the token (for the cookie, never stored) and the session. */
  create(
    slot: number,
    epoch: number,
    source: string,
    now: number,
    scheme: SessionScheme,
  ): { token: string; session: Session } {
    this.prune(now);
    while (this.sessions.size >= this.limits.max)
      this.sessions.delete(this.sessions.keys().next().value as string);
    const token = toBase64Url(new Uint8Array(randomBytes(32)));
    const session: Session = {
      slot,
      scheme,
      epoch,
      csrfToken: toBase64Url(new Uint8Array(randomBytes(32))),
      createdAt: now,
      lastSeen: now,
      source,
    };
    this.sessions.set(hashToken(token), session);
    return { token, session };
  }

  /**
   * The live session for a token, touched; null when unknown, timed out, or no longer matching
   * `currentEpoch(slot)` (its user changed or was deleted), in which case it is dropped. A session
   * presented over another scheme than its own is not this request's (null) but stays open.
   */
  resolve(
    token: string,
    now: number,
    currentEpoch: (slot: number) => number | null,
    scheme: SessionScheme,
  ): Session | null {
    if (!fromBase64Url(token, 32)) return null;
    const key = hashToken(token);
    const session = this.sessions.get(key);
    if (!session || session.scheme !== scheme) return null;
    const expired =
      now - session.lastSeen > this.limits.idleMs || now - session.createdAt > this.limits.absoluteMs;
    if (expired || currentEpoch(session.slot) !== session.epoch) {
      this.sessions.delete(key);
      return null;
    }
    session.lastSeen = now;
    this.sessions.delete(key);
    this.sessions.set(key, session);
    return session;
  }

  /** Ends one session (logout). */
  end(token: string): void {
    this.sessions.delete(hashToken(token));
  }

  /** Ends every session of a slot (its user was deleted, or a factory reset). */
  endSlot(slot: number): void {
    for (const [key, session] of this.sessions) if (session.slot === slot) this.sessions.delete(key);
  }

  /** Ends every session (a restored backup: whoever was logged in, was so under another table). */
  endAll(): void {
    this.sessions.clear();
  }

  /**
   * The live sessions of a slot at its current `epoch`, most recently used last. `id` names a session without being its token
   * (a prefix of the token's hash: 128 bits), for listing and ending one.
   */
  list(slot: number, epoch: number, now: number): (Session & { readonly id: string })[] {
    this.prune(now);
    for (const [key, session] of this.sessions) {
      // Ended by a change of its user (an older epoch): dropped now rather than listed.
      if (session.slot === slot && session.epoch !== epoch) this.sessions.delete(key);
    }
    return [...this.sessions]
      .filter(([, session]) => session.slot === slot)
      .map(([key, session]) => ({ ...session, id: sessionId(key) }));
  }

  /** The id (see `list`) of the session a token opens. */
  idOf(token: string): string {
    return sessionId(hashToken(token));
  }

  /** Ends the session of `slot` with this id; false when there is none. */
  endById(slot: number, id: string): boolean {
    for (const [key, session] of this.sessions) {
      if (session.slot === slot && sessionId(key) === id) return this.sessions.delete(key);
    }
    return false;
  }

  get size(): number {
    return this.sessions.size;
  }

  private prune(now: number): void {
    for (const [key, session] of this.sessions) {
      if (now - session.lastSeen > this.limits.idleMs || now - session.createdAt > this.limits.absoluteMs) {
        this.sessions.delete(key);
      }
    }
  }
}

/** Constant-time comparison of two CSRF tokens (or any two short secrets), hashing both sides first. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

function sessionId(key: string): string {
  return key.slice(0, 22);
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
