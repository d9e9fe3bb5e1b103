/**
 * The login protocol of docs/auth-protocol.md, device side: challenges, signature checks against the
 * stored verifier, brute-force throttling, sessions. Unknown names, standard users and API-key labels
 * get a decoy salt and a decoy key, so every failure takes the same path, does the same work (one
 * signature check) and gives the same answer; a disabled user's proof is checked and refused likewise.
 * A stale nonce is refused before any of that.
 */
import { createHmac } from 'node:crypto';
import { type ProofPurpose, proofMessage } from '../auth/auth-messages.ts';
import type { DeviceIdentity } from '../auth/device-identity.ts';
import type { LoginChallenges } from '../auth/login-challenges.ts';
import type { LoginThrottle } from '../auth/login-throttle.ts';
import {
  DEFAULT_KDF_ITERATIONS,
  publicKeyFromSeed,
  verifyPassword,
  verifySignature,
} from '../auth/password-verifier.ts';
import type { Session, SessionStore } from '../auth/session-store.ts';
import type { StaleNonceLimit } from '../auth/stale-nonce-limit.ts';
import { decide } from '../core/access.ts';
import { findSlotByName, type UserEntry } from '../core/user-table.ts';
import type { RequestContext } from './request-context.ts';
import type { SecurityService } from './security-service.ts';

export type AuthErrorCode =
  | 'invalid-credentials'
  | 'challenge-expired'
  | 'locked'
  | 'rate-limited'
  | 'local-only';

/** A refused login; the HTTP adapter maps it to 401 / 423 / 429 / 403 with Retry-After. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface Challenge {
  readonly nonce: Uint8Array;
  readonly salt: Uint8Array;
  readonly kdf: 'pbkdf2-sha256';
  readonly iterations: number;
  readonly expiresAt: number;
  readonly deviceKey: Uint8Array;
}

export interface LoginDeps {
  readonly security: SecurityService;
  readonly challenges: LoginChallenges;
  readonly throttle: LoginThrottle;
  /** Logins with stale or unknown nonces per source; beyond its bound, 429 for the source. */
  readonly staleNonces: StaleNonceLimit;
  readonly sessions: SessionStore;
  readonly identity: DeviceIdentity;
  /** Keys the decoy salts and public keys of names without a verifier. */
  readonly decoyKey: Uint8Array;
  readonly now: () => number;
  /** The Ed25519 operations (default: password-verifier.ts), injectable so a test can count them. */
  readonly crypto?: LoginCrypto;
}

/** The expensive operations of a login check: what must cost the same for every name. */
export interface LoginCrypto {
  readonly verifySignature: typeof verifySignature;
  readonly publicKeyFromSeed: typeof publicKeyFromSeed;
}

export class LoginService {
  private readonly crypto: LoginCrypto;
  /**
   * The key every name without a verifier is checked against: made once, so that such a name costs
   * one signature check like a real user (deriving a key per name cost ~0.5–1 ms more: a timing
   * oracle for which names exist). Nobody knows its seed, so no signature ever verifies against it.
   */
  private readonly decoyPublicKey: Uint8Array;

  constructor(private readonly deps: LoginDeps) {
    this.crypto = deps.crypto ?? { verifySignature, publicKeyFromSeed };
    const seed = createHmac('sha256', deps.decoyKey).update('key\ndecoy').digest();
    this.decoyPublicKey = this.crypto.publicKeyFromSeed(new Uint8Array(seed));
  }

  /** The device key's secret half, for opening sealed passwords. */
  get deviceSecretKey(): Uint8Array {
    return this.deps.identity.secretKey;
  }

  /** Step 1: a nonce and the user's KDF parameters (decoys for a name without a password). */
  challenge(username: string, ctx: RequestContext): Challenge {
    const { nonce, expiresAt } = this.deps.challenges.issue(username, ctx.source ?? '', this.deps.now());
    const user = this.userNamed(username);
    // Computed for every name, used for those without a verifier: the same work either way.
    const decoySalt = this.deps.challenges.decoySalt(username);
    return {
      nonce,
      salt: user ? user.entry.verifier.salt : decoySalt,
      kdf: 'pbkdf2-sha256',
      iterations: user ? user.entry.verifier.iterations : DEFAULT_KDF_ITERATIONS,
      expiresAt,
      deviceKey: this.deps.identity.publicKey,
    };
  }

  /**
   * Step 2: checks the signature over the login message and opens a session on `ctx.interface`.
   * Throws AuthError; `local-only` when access.ts says the user may not act through that interface
   * (a local-only user logs in at the display, through verifyLocalPassword).
   */
  login(
    username: string,
    nonce: Uint8Array,
    signature: Uint8Array,
    ctx: RequestContext,
  ): { token: string; session: Session } {
    const slot = this.verifyProof('login', username, nonce, signature, ctx);
    // A session may at least change its own password, so that is what the decision is asked.
    const decision = decide(this.deps.security.actorFor(slot), 'own-password', ctx.interface);
    if (!decision.allowed) {
      this.deps.security.record({
        type: 'login',
        interface: ctx.interface,
        source: ctx.source,
        slot,
        result: 'denied',
        detail: 'local-only',
      });
      throw new AuthError('local-only', `'${username}' may log in at the local display only`);
    }
    const epoch = this.deps.security.state.table.epochs[slot] ?? 0;
    const scheme = ctx.interface === 'https' ? 'https' : 'http';
    const opened = this.deps.sessions.create(slot, epoch, ctx.source ?? '', this.deps.now(), scheme);
    this.deps.security.record({
      type: 'login',
      interface: ctx.interface,
      source: ctx.source,
      slot,
      result: 'ok',
    });
    return opened;
  }

  /**
   * Checks a proof of the password (a signature of the protocol message for `purpose` over a nonce
   * issued to `username`), throttled like a login. Returns the user's slot; throws AuthError.
   */
  verifyProof(
    purpose: ProofPurpose,
    username: string,
    nonce: Uint8Array,
    signature: Uint8Array,
    ctx: RequestContext,
  ): number {
    const now = this.deps.now();
    const source = ctx.source ?? '';
    const type = purpose === 'login' ? 'login' : 'password.proof';
    const flooding = this.deps.staleNonces.retryAfterMs(source, now);
    if (flooding > 0) {
      this.deps.security.record({
        type,
        interface: ctx.interface,
        source: ctx.source,
        result: 'denied',
        detail: 'too many stale nonces',
      });
      throw new AuthError(
        'rate-limited',
        'too many logins with stale or unknown nonces from this address: wait before trying again',
        flooding,
      );
    }
    const verdict = this.deps.throttle.check(username, source, now);
    if (!verdict.allowed) {
      this.deps.security.record({
        type,
        interface: ctx.interface,
        source: ctx.source,
        result: 'denied',
        detail: verdict.reason,
      });
      throw verdict.reason === 'locked'
        ? new AuthError('locked', 'too many failed logins: locked for a while', verdict.retryAfterMs)
        : new AuthError(
            'rate-limited',
            'too many failed logins: wait before trying again',
            verdict.retryAfterMs,
          );
    }
    if (!this.deps.challenges.consume(nonce, username, now)) {
      // No fresh nonce, no guess: a stale or unknown nonce proves nothing about the password, so it is
      // refused before the name is even looked up and does not count as a failure (else flooding
      // challenges to evict a user's nonce would lock them out); it counts against the source instead.
      this.deps.staleNonces.hit(source, now);
      this.deps.security.record({
        type,
        interface: ctx.interface,
        source: ctx.source,
        result: 'failed',
        detail: 'stale or unknown nonce',
      });
      throw new AuthError(
        'challenge-expired',
        'the challenge expired or was already used: ask for a new one',
      );
    }
    const user = this.userNamed(username);
    // One signature check on every path, against the real or the decoy key: the same work either way.
    const publicKey = user ? user.entry.verifier.publicKey : this.decoyPublicKey;
    const valid = this.crypto.verifySignature(publicKey, proofMessage(purpose, username, nonce), signature);
    if (!(user && valid && !user.entry.disabled)) {
      const next = this.deps.throttle.fail(username, source, now);
      this.deps.security.record({
        type,
        interface: ctx.interface,
        source: ctx.source,
        slot: user?.slot,
        result: 'failed',
        detail: [refusal(user, valid), next.allowed ? undefined : next.reason].filter(Boolean).join(', '),
      });
      throw new AuthError('invalid-credentials', 'wrong username or password');
    }
    this.deps.throttle.succeed(username, source, now);
    return user.slot;
  }

  /**
   * A password typed at the local display, checked here against the stored verifier (the KDF on the
   * thread pool) and throttled by `throttle`, the display's own counter, so that failures on the network
   * never lock the operator out at the meter. Local-only users may log in here. `purpose` names the
   * event: a login, or the proof of the current password before a change. Returns the user's slot;
   * throws AuthError like a network login.
   */
  async verifyLocalPassword(
    username: string,
    password: string,
    throttle: LoginThrottle,
    ctx: RequestContext,
    purpose: 'login' | 'password.proof' = 'login',
  ): Promise<number> {
    const source = ctx.source ?? ctx.interface;
    const event = { type: purpose, interface: ctx.interface, source: ctx.source };
    const verdict = throttle.check(username, source, this.deps.now());
    if (!verdict.allowed) {
      this.deps.security.record({ ...event, result: 'denied', detail: verdict.reason });
      throw new AuthError(
        verdict.reason === 'locked' ? 'locked' : 'rate-limited',
        'too many failed logins',
        verdict.retryAfterMs,
      );
    }
    const user = this.userNamed(username);
    const valid = user ? await verifyPassword(user.entry.verifier, password) : false;
    if (!(user && valid && !user.entry.disabled)) {
      const next = throttle.fail(username, source, this.deps.now());
      this.deps.security.record({
        ...event,
        slot: user?.slot,
        result: 'failed',
        detail: [refusal(user, valid), next.allowed ? undefined : next.reason].filter(Boolean).join(', '),
      });
      throw new AuthError('invalid-credentials', 'wrong username or password');
    }
    throttle.succeed(username, source, this.deps.now());
    if (purpose === 'login') this.deps.security.record({ ...event, slot: user.slot, result: 'ok' });
    return user.slot;
  }

  logout(token: string, slot: number, ctx: RequestContext): void {
    this.deps.sessions.end(token);
    this.deps.security.record({
      type: 'logout',
      interface: ctx.interface,
      source: ctx.source,
      slot,
      result: 'ok',
    });
  }

  private userNamed(username: string): { slot: number; entry: UserEntry } | null {
    const table = this.deps.security.state.table;
    const slot = findSlotByName(table, username);
    const entry = slot === null ? null : table.slots[slot];
    return slot !== null && entry?.type === 'user' ? { slot, entry } : null;
  }
}

/**
 * Why a proof failed, for the event log only: the answer is `invalid-credentials` either way. A
 * disabled user is checked like any other (same work) and refused in the words of a wrong password,
 * its own password included, so nobody learns from the answer which names exist or are disabled;
 * the failure counts toward the lockout like any other. The administrator reads `disabled` here.
 */
function refusal(user: { readonly entry: UserEntry } | null, valid: boolean): string | undefined {
  if (!user) return 'no such user';
  return valid && user.entry.disabled ? 'disabled' : undefined;
}
