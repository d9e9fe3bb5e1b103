/**
 * The client registry (DESIGN §6), after Cybus Connectware's explicit flow: locked by default; a user
 * with security.write opens it for 5 minutes; a SCADA application asks with a name and an X25519 public
 * key; the admin compares the key's fingerprint with what the application shows and allows (an API-key
 * slot with a preset is created, and the key is handed over once, sealed to the application's public
 * key) or denies. Requests are bounded (in all and per source), rate-limited per source and logged.
 * Time comes from `now`.
 */
import { randomBytes } from 'node:crypto';
import { toBase64Url } from '../auth/encoding.ts';
import { keyFingerprint } from '../auth/key-fingerprint.ts';
import { type SealedSecret, sealBytes } from '../auth/sealed-secret.ts';
import { authorize } from '../core/access.ts';
import type { PresetName } from '../core/permission-table.ts';
import type { Actor } from '../core/user-table.ts';
import { checkUsername } from '../core/username-rules.ts';
import { createDenialRecorder, type DenialEvent } from './denial-recorder.ts';
import type { RequestContext } from './request-context.ts';
import type { SecurityService } from './security-service.ts';

/** How long one opening lasts. */
export const REGISTRY_WINDOW_MS = 5 * 60_000;
/** Pending requests at most; more are refused until some are decided. */
export const MAX_PENDING_REQUESTS = 8;
/** Pending requests per source address: one source cannot take every place. */
export const MAX_PENDING_PER_SOURCE = 2;
/** An allowed key not yet collected, or a denial not yet seen, is kept this long. */
export const VERDICT_TTL_MS = 10 * 60_000;
/** Requests and polls per source: a burst of this many… */
export const RATE_BURST = 10;
/** …then one more per this many ms. */
export const RATE_REFILL_MS = 2000;
/** Sources tracked for the rate limit; the least recent is forgotten beyond this. */
const MAX_SOURCES = 1024;

export type RegistryErrorCode =
  | 'registry-closed'
  | 'registry-full'
  | 'registry-source-full'
  | 'rate-limited'
  | 'request-denied'
  | 'not-found';

/** A refused registry call; the REST adapter maps it to 423 / 429 / 403 / 404. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** What a client learns about its request. */
export type RegistryAnswer =
  | { readonly state: 'pending'; readonly id: string; readonly fingerprint: string }
  | {
      readonly state: 'allowed';
      readonly id: string;
      readonly fingerprint: string;
      readonly slot: number;
      /** The API key, sealed to the request's public key: `nacl.box` with an ephemeral key. */
      readonly sealedKey: SealedSecret;
    };

/** A pending request as the admin sees it. */
export interface PendingRequest {
  readonly id: string;
  readonly name: string;
  readonly source: string;
  readonly time: number;
  readonly fingerprint: string;
}

export interface RegistryStatus {
  readonly open: boolean;
  /** When the window closes (ms), while open. */
  readonly closesAt: number | null;
  readonly pending: readonly PendingRequest[];
}

interface StoredRequest extends PendingRequest {
  readonly publicKey: string;
  verdict:
    | null
    | ({ readonly at: number } & (
        | { readonly kind: 'allowed'; readonly slot: number; readonly sealedKey: SealedSecret }
        | { readonly kind: 'denied' }
      ));
}

export class ClientRegistry {
  private closesAt: number | null = null;
  private readonly requests = new Map<string, StoredRequest>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** Refusals of anonymous callers are logged at a bounded rate, so a flood cannot flush the log. */
  private readonly recordRefusal: (event: DenialEvent) => void;

  constructor(
    private readonly security: SecurityService,
    private readonly now: () => number,
  ) {
    this.recordRefusal = createDenialRecorder(security, now);
  }

  status(actor: Actor, ctx: RequestContext): RegistryStatus {
    authorize(actor, 'security.read', ctx.interface);
    this.expire();
    return {
      open: this.closesAt !== null,
      closesAt: this.closesAt,
      pending: [...this.requests.values()]
        .filter((r) => r.verdict === null)
        .map(({ id, name, source, time, fingerprint }) => ({ id, name, source, time, fingerprint })),
    };
  }

  /** Opens the window for REGISTRY_WINDOW_MS from now (again, if already open). */
  open(actor: Actor, ctx: RequestContext): RegistryStatus {
    this.decide('registry.open', actor, ctx, undefined, () => {
      this.closesAt = this.now() + REGISTRY_WINDOW_MS;
    });
    return this.status(actor, ctx);
  }

  /** Closes the window now; pending requests are dropped. */
  close(actor: Actor, ctx: RequestContext): RegistryStatus {
    this.decide('registry.close', actor, ctx, undefined, () => this.shut());
    return this.status(actor, ctx);
  }

  /**
   * A client's request, or its repetition (the same public key) to learn the verdict. Throws
   * RegistryError: closed (for a new request), full, rate-limited, denied.
   */
  request(name: string, publicKey: Uint8Array, ctx: RequestContext): RegistryAnswer {
    this.limit(ctx);
    this.expire();
    const key = toBase64Url(publicKey);
    const existing = [...this.requests.values()].find((r) => r.publicKey === key);
    if (existing) return this.answer(existing, ctx);
    if (this.closesAt === null) {
      this.refuse(ctx, 'registry-closed');
      throw new RegistryError(
        'registry-closed',
        'client registration is closed: ask an administrator to open it',
      );
    }
    const checkedName = checkUsername(name);
    const pending = [...this.requests.values()].filter((r) => r.verdict === null);
    if (pending.filter((r) => r.source === (ctx.source ?? '')).length >= MAX_PENDING_PER_SOURCE) {
      this.refuse(ctx, 'registry-source-full');
      throw new RegistryError(
        'registry-source-full',
        `${MAX_PENDING_PER_SOURCE} requests from this address are pending already: wait for a decision`,
      );
    }
    if (pending.length >= MAX_PENDING_REQUESTS) {
      this.refuse(ctx, 'registry-full');
      throw new RegistryError(
        'registry-full',
        `${MAX_PENDING_REQUESTS} requests are pending already: try later`,
      );
    }
    const request: StoredRequest = {
      id: toBase64Url(new Uint8Array(randomBytes(16))),
      name: checkedName,
      source: ctx.source ?? '',
      time: this.now(),
      fingerprint: keyFingerprint(publicKey),
      publicKey: key,
      verdict: null,
    };
    this.requests.set(request.id, request);
    this.record('registry.request', ctx, 'ok', `name=${request.name} fingerprint=${request.fingerprint}`);
    return { state: 'pending', id: request.id, fingerprint: request.fingerprint };
  }

  /** A client polling its request by id. */
  poll(id: string, ctx: RequestContext): RegistryAnswer {
    this.limit(ctx);
    this.expire();
    const request = this.requests.get(id);
    if (!request)
      throw new RegistryError(
        'not-found',
        'no such registration request (decided and collected, or expired)',
      );
    return this.answer(request, ctx);
  }

  /**
   * Allows a pending request: creates the API-key slot with `preset`, labelled with the name the
   * application asked for or `name` (when that one is taken). Throws table-full, name-taken…
   */
  async allow(
    actor: Actor,
    id: string,
    preset: PresetName,
    ctx: RequestContext,
    name?: string,
  ): Promise<{ slot: number }> {
    authorize(actor, 'security.write', ctx.interface);
    this.expire();
    const request = this.pending(id);
    const label = name ?? request.name;
    const { slot, key } = await this.security.addApiKey(actor, { name: label, preset }, ctx);
    const publicKey = Buffer.from(request.publicKey, 'base64url');
    request.verdict = {
      kind: 'allowed',
      at: this.now(),
      slot,
      sealedKey: sealBytes(new Uint8Array(publicKey), new TextEncoder().encode(key)),
    };
    this.record(
      'registry.allow',
      ctx,
      'ok',
      `name=${request.name} slot=${slot} preset=${preset}`,
      actor.slot ?? undefined,
    );
    return { slot };
  }

  deny(actor: Actor, id: string, ctx: RequestContext): void {
    this.decide('registry.deny', actor, ctx, `id=${id}`, () => {
      const request = this.pending(id);
      request.verdict = { kind: 'denied', at: this.now() };
    });
  }

  private answer(request: StoredRequest, ctx: RequestContext): RegistryAnswer {
    const { verdict } = request;
    if (verdict === null) return { state: 'pending', id: request.id, fingerprint: request.fingerprint };
    if (verdict.kind === 'denied') {
      throw new RegistryError('request-denied', 'an administrator denied this registration request');
    }
    // Handed over exactly once: the request is gone after this answer.
    this.requests.delete(request.id);
    this.record('registry.collect', ctx, 'ok', `name=${request.name} slot=${verdict.slot}`);
    return {
      state: 'allowed',
      id: request.id,
      fingerprint: request.fingerprint,
      slot: verdict.slot,
      sealedKey: verdict.sealedKey,
    };
  }

  private pending(id: string): StoredRequest {
    const request = this.requests.get(id);
    if (!request || request.verdict !== null) throw new RegistryError('not-found', 'no such pending request');
    return request;
  }

  /** Closes an expired window and forgets verdicts nobody came for. */
  private expire(): void {
    const now = this.now();
    if (this.closesAt !== null && now >= this.closesAt) {
      this.shut();
      this.record('registry.close', { interface: 'system' }, 'ok', 'window expired');
    }
    for (const [id, request] of this.requests) {
      if (request.verdict && now - request.verdict.at >= VERDICT_TTL_MS) this.requests.delete(id);
    }
  }

  private shut(): void {
    this.closesAt = null;
    for (const [id, request] of this.requests) if (request.verdict === null) this.requests.delete(id);
  }

  /** A token bucket per source: a burst, then one call per RATE_REFILL_MS. */
  private limit(ctx: RequestContext): void {
    const source = ctx.source ?? '';
    const now = this.now();
    const bucket = this.buckets.get(source) ?? { tokens: RATE_BURST, at: now };
    const tokens = Math.min(RATE_BURST, bucket.tokens + Math.max(0, now - bucket.at) / RATE_REFILL_MS);
    this.buckets.delete(source);
    if (tokens < 1) {
      this.buckets.set(source, { tokens, at: now });
      this.refuse(ctx, 'rate-limited');
      throw new RegistryError(
        'rate-limited',
        'too many registration requests from this address: slow down',
        Math.ceil((1 - tokens) * RATE_REFILL_MS),
      );
    }
    this.buckets.set(source, { tokens: tokens - 1, at: now });
    if (this.buckets.size > MAX_SOURCES) this.buckets.delete(this.buckets.keys().next().value as string);
  }

  private refuse(ctx: RequestContext, detail: string): void {
    this.recordRefusal({ type: 'registry.request', interface: ctx.interface, source: ctx.source, detail });
  }

  private decide(
    type: string,
    actor: Actor,
    ctx: RequestContext,
    detail: string | undefined,
    action: () => void,
  ): void {
    try {
      authorize(actor, 'security.write', ctx.interface);
      this.expire();
      action();
    } catch (error) {
      this.record(
        type,
        ctx,
        'denied',
        [detail, (error as { code?: string }).code].filter(Boolean).join(' '),
        actor.slot ?? undefined,
      );
      throw error;
    }
    this.record(type, ctx, 'ok', detail, actor.slot ?? undefined);
  }

  private record(
    type: string,
    ctx: RequestContext,
    result: 'ok' | 'denied' | 'failed',
    detail?: string,
    slot?: number,
  ): void {
    this.security.record({ type, interface: ctx.interface, source: ctx.source, slot, result, detail });
  }
}
