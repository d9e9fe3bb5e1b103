/**
 * The one limiter every refusal passes on its way to the security log (a failed or throttled login, a
 * stale nonce, a bad API key, a denied request or Modbus write, a refused registry request…): a token
 * bucket per source and one for all sources. A burst (30 from a source, 100 in all) is logged one by
 * one; after that one a minute per source and six a minute in all. The rest are counted and written
 * every 10 minutes as summary events ("N more refusals from S in T: login failed N1, apikey.auth
 * failed N2"), one per busiest source and one for all the others. So a sustained flood costs a bounded
 * number of log entries (and flash erases) per hour whatever its rate or number of sources.
 * Pure: the caller passes the time in.
 */
import type { SecurityEvent } from './event-log.ts';

export interface RefusalPolicy {
  /** Refusals from one source logged one by one in a burst. Default 30. */
  readonly perSourceBurst: number;
  /** …and then one every this many ms from that source. Default 1 minute. */
  readonly perSourceEveryMs: number;
  /** Refusals from all sources logged one by one in a burst. Default 100. */
  readonly overallBurst: number;
  /** …and then one every this many ms from all sources together. Default 10 s (6 a minute). */
  readonly overallEveryMs: number;
  /** What was counted is written as summaries this often (ms). Default 10 minutes. */
  readonly summaryEveryMs: number;
  /** Sources that get a summary event of their own (the busiest); the rest share one. Default 4. */
  readonly summarizedSources: number;
  /** Sources with a budget of their own; beyond this (many addresses) only the overall one. Default 64. */
  readonly trackedSources: number;
}

export const DEFAULT_REFUSAL_POLICY: RefusalPolicy = {
  perSourceBurst: 30,
  perSourceEveryMs: 60_000,
  overallBurst: 100,
  overallEveryMs: 10_000,
  summaryEveryMs: 10 * 60_000,
  summarizedSources: 4,
  trackedSources: 64,
};

/** The type of a summary event. */
export const SUMMARY_EVENT_TYPE = 'audit.summary';
/** Kinds named in a summary's detail (the most frequent); the rest as "…". */
const KINDS_NAMED = 4;

interface Tally {
  count: number;
  first: number;
  last: number;
  readonly kinds: Map<string, number>;
  /** The source as the events gave it (undefined for events without one). */
  readonly source: string | undefined;
  /** The source, or the interface of events without one. */
  readonly key: string;
  /** Distinct sources behind an "others" tally. */
  readonly sources: Set<string>;
}

/** A token bucket: `tokens` as of `at`, one more every `everyMs` up to `burst`. */
interface Bucket {
  tokens: number;
  at: number;
}

export class RefusalLimiter {
  private lastSummary = Number.NEGATIVE_INFINITY;
  private readonly overall: Bucket;
  private readonly bySource = new Map<string, Bucket>();
  private readonly suppressed = new Map<string, Tally>();
  private others: Tally | null = null;

  constructor(private readonly policy: RefusalPolicy = DEFAULT_REFUSAL_POLICY) {
    this.overall = { tokens: policy.overallBurst, at: Number.NEGATIVE_INFINITY };
  }

  /** True when what was counted is due to be written as summaries (`summarize`). */
  summaryDue(now: number): boolean {
    return now - this.lastSummary >= this.policy.summaryEveryMs || now < this.lastSummary;
  }

  /** Refusals counted and not yet in a summary. */
  get pending(): number {
    let count = this.others?.count ?? 0;
    for (const tally of this.suppressed.values()) count += tally.count;
    return count;
  }

  /**
   * Decides for one refusal: true = log it one by one, false = it was counted for a summary. Call
   * `summarize` first when `summaryDue(event.time)`.
   */
  admit(event: SecurityEvent): boolean {
    const now = event.time;
    if (this.lastSummary === Number.NEGATIVE_INFINITY) this.lastSummary = now;
    const key = event.source ?? event.interface;
    const { perSourceBurst, perSourceEveryMs, overallBurst, overallEveryMs } = this.policy;
    refill(this.overall, now, overallBurst, overallEveryMs);
    let source = this.bySource.get(key);
    if (!source) {
      if (this.bySource.size >= this.policy.trackedSources) this.forgetFullBuckets(now);
      if (this.bySource.size < this.policy.trackedSources) {
        source = { tokens: perSourceBurst, at: now };
        this.bySource.set(key, source);
      }
    }
    if (source) refill(source, now, perSourceBurst, perSourceEveryMs);
    if (this.overall.tokens >= 1 && (!source || source.tokens >= 1)) {
      this.overall.tokens--;
      if (source) source.tokens--;
      return true;
    }
    this.count(event, key);
    return false;
  }

  private count(event: SecurityEvent, key: string): void {
    let tally = this.suppressed.get(key);
    if (!tally && this.suppressed.size < this.policy.trackedSources) {
      tally = this.newTally(key, event.source);
      this.suppressed.set(key, tally);
    }
    if (!tally) this.others ??= this.newTally('', undefined);
    const target = tally ?? (this.others as Tally);
    if (!tally) target.sources.add(key);
    target.count++;
    target.first = Math.min(target.first, event.time);
    target.last = Math.max(target.last, event.time);
    const kind = `${event.type} ${event.result}`;
    target.kinds.set(kind, (target.kinds.get(kind) ?? 0) + 1);
  }

  /** Sources whose budget is whole again need no memory: drop them to make room for new ones. */
  private forgetFullBuckets(now: number): void {
    for (const [key, bucket] of this.bySource) {
      refill(bucket, now, this.policy.perSourceBurst, this.policy.perSourceEveryMs);
      if (bucket.tokens >= this.policy.perSourceBurst) this.bySource.delete(key);
    }
  }

  /**
   * The summary events for what was counted so far (none if nothing was), and the counts cleared. An
   * early call (for a reader) writes them before they are due; the budgets are not reset either way.
   */
  summarize(now: number): SecurityEvent[] {
    const tallies = [...this.suppressed.values()].sort((a, b) => b.count - a.count);
    const own = tallies.slice(0, this.policy.summarizedSources);
    let others = this.others;
    for (const tally of tallies.slice(this.policy.summarizedSources)) {
      others ??= this.newTally('', undefined);
      others.count += tally.count;
      others.first = Math.min(others.first, tally.first);
      others.last = Math.max(others.last, tally.last);
      others.sources.add(tally.key);
      for (const [kind, n] of tally.kinds) others.kinds.set(kind, (others.kinds.get(kind) ?? 0) + n);
    }
    const events: SecurityEvent[] = own.map((tally) => summaryEvent(tally, now, `from ${tally.key}`));
    if (others && others.count > 0) {
      events.push(summaryEvent(others, now, `from ${others.sources.size} other sources`));
    }
    this.suppressed.clear();
    this.others = null;
    if (this.summaryDue(now)) this.lastSummary = now;
    return events;
  }

  private newTally(key: string, source: string | undefined): Tally {
    return {
      count: 0,
      first: Number.POSITIVE_INFINITY,
      last: Number.NEGATIVE_INFINITY,
      kinds: new Map(),
      source,
      key,
      sources: new Set(key ? [key] : []),
    };
  }
}

function summaryEvent(tally: Tally, now: number, from: string): SecurityEvent {
  const kinds = [...tally.kinds].sort((a, b) => b[1] - a[1]);
  const named = kinds.slice(0, KINDS_NAMED).map(([kind, n]) => `${kind} ${n}`);
  if (kinds.length > KINDS_NAMED) named.push('…');
  return {
    time: now,
    type: SUMMARY_EVENT_TYPE,
    interface: 'system',
    result: 'denied',
    source: tally.source,
    detail: `${tally.count} more refusals ${from} in ${duration(tally.last - tally.first)}, not logged one by one: ${named.join(', ')}`,
  };
}

function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

function refill(bucket: Bucket, now: number, burst: number, everyMs: number): void {
  if (bucket.at === Number.NEGATIVE_INFINITY || now < bucket.at) {
    bucket.at = now;
    return;
  }
  bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.at) / everyMs);
  bucket.at = now;
}
