/**
 * The one limiter every refusal passes on its way to the security log (a failed or throttled login, a
 * stale nonce, a bad API key, a denied request or Modbus write, a refused registry request…): in each
 * window, at most `perSource` refusals from one source and `overall` from all sources are logged one by
 * one; the rest are counted and become summary events ("N more refusals from S in T: login failed N1,
 * apikey.auth failed N2"), one per busiest source and one for all the others. So a flood costs a
 * bounded number of log entries (and flash erases) per hour whatever its rate or number of sources.
 * Pure: the caller passes the time in.
 */
import type { SecurityEvent } from './event-log.ts';

export interface RefusalPolicy {
  /** Length of a window (ms). Default 10 minutes. */
  readonly windowMs: number;
  /** Refusals from one source logged one by one in a window. Default 10. */
  readonly perSource: number;
  /** Refusals from all sources logged one by one in a window. Default 60. */
  readonly overall: number;
  /** Sources that get a summary event of their own (the busiest); the rest share one. Default 4. */
  readonly summarizedSources: number;
  /** Sources counted apart; beyond this (many addresses), refusals count as "other sources". Default 64. */
  readonly trackedSources: number;
}

export const DEFAULT_REFUSAL_POLICY: RefusalPolicy = {
  windowMs: 10 * 60_000,
  perSource: 10,
  overall: 60,
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

export class RefusalLimiter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private loggedOverall = 0;
  private readonly loggedBySource = new Map<string, number>();
  private readonly suppressed = new Map<string, Tally>();
  private others: Tally | null = null;

  constructor(private readonly policy: RefusalPolicy = DEFAULT_REFUSAL_POLICY) {}

  /** True when the window that counts has run out: `summarize(now)` then starts a new one. */
  windowOver(now: number): boolean {
    return now - this.windowStart >= this.policy.windowMs || now < this.windowStart;
  }

  /** Refusals counted and not yet in a summary. */
  get pending(): number {
    let count = this.others?.count ?? 0;
    for (const tally of this.suppressed.values()) count += tally.count;
    return count;
  }

  /**
   * Decides for one refusal: true = log it one by one, false = it was counted for a summary. Call
   * `summarize` first when `windowOver(event.time)`.
   */
  admit(event: SecurityEvent): boolean {
    if (this.windowStart === Number.NEGATIVE_INFINITY) this.windowStart = event.time;
    const key = event.source ?? event.interface;
    const fromSource = this.loggedBySource.get(key) ?? 0;
    const tracked = this.loggedBySource.has(key) || this.loggedBySource.size < this.policy.trackedSources;
    if (tracked && fromSource < this.policy.perSource && this.loggedOverall < this.policy.overall) {
      this.loggedBySource.set(key, fromSource + 1);
      this.loggedOverall++;
      return true;
    }
    const tally =
      this.suppressed.get(key) ??
      (this.suppressed.size < this.policy.trackedSources ? this.newTally(key, event.source) : null);
    if (tally) this.suppressed.set(key, tally);
    if (!tally) this.others ??= this.newTally('', undefined);
    const target = tally ?? (this.others as Tally);
    if (!tally) target.sources.add(key);
    target.count++;
    target.first = Math.min(target.first, event.time);
    target.last = Math.max(target.last, event.time);
    const kind = `${event.type} ${event.result}`;
    target.kinds.set(kind, (target.kinds.get(kind) ?? 0) + 1);
    return false;
  }

  /**
   * The summary events for what was counted so far (none if nothing was), and the counts cleared. When
   * the window is over, a new one starts; otherwise (an early summary, for a reader) the window's
   * budget stays spent.
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
    if (this.windowOver(now)) {
      this.windowStart = now;
      this.loggedOverall = 0;
      this.loggedBySource.clear();
    }
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
