/**
 * The security event log as the device keeps it: two rings on flash that share one id sequence, so
 * that refusals can never push changes out.
 *
 * - The changes ring takes every event whose result is `ok` (changes of users, keys, settings and
 *   configuration, resets, logins and logouts, boots: what authenticated principals and the device
 *   did) and the loss warnings.
 * - The refusals ring takes everything refused or failed, through one RefusalLimiter per source and
 *   overall: beyond it, refusals are counted and written as summary events.
 *
 * Reading merges both rings by id. The log also knows what the reader missed (IEC 62443-4-2 CR 2.9):
 * entries erased before an audit reader saw them, and refusals only counted in a summary. The first
 * loss since the last read writes a warning event (`audit.lost`, at most one an hour); `lost()` says
 * since when and how many, until `markRead`. That state (read-through id, loss) is stored sealed with
 * every entry, so it survives a reboot as of the last entry written. The same note carries whether a
 * boot found the log behind the committed state (`check`: truncated, replayed, blocks missing) until
 * an audit reader has seen it.
 */
import { EventLog, type SecurityEvent, type StoredEvent } from './event-log.ts';
import type { Flash } from './flash.ts';
import { DEFAULT_REFUSAL_POLICY, RefusalLimiter, type RefusalPolicy } from './refusal-limiter.ts';

/** The type of the warning written when entries are first lost since the last read. */
export const LOST_EVENT_TYPE = 'audit.lost';
/** At most one loss warning in this time (ms), so an automated reader cannot fill the changes ring. */
const WARNING_INTERVAL_MS = 60 * 60_000;
const CHANGES_RING = 1;
const REFUSALS_RING = 2;

export interface RingPlace {
  readonly firstBlock: number;
  readonly blockCount: number;
}

/** Entries an audit reader missed since the last read. */
export interface LostEntries {
  /** When the first of them was lost (ms). */
  readonly since: number;
  /** Erased (the ring went round) before an audit reader saw them. */
  readonly overwritten: number;
  /** Refusals only counted in a summary event. */
  readonly summarized: number;
}

/** The type of the event written when the log is found shorter or older than the committed state. */
export const TRUNCATED_EVENT_TYPE = 'audit.truncated';

/**
 * Whether the log is whole as far as the committed state can tell (docs/flash-format.md, anchors):
 * `ok`, `unanchored` (the security record predates log anchors), or `broken` since a boot found it
 * truncated, rolled back or with missing blocks; `broken` stays until an audit reader has seen it.
 */
export interface LogIntegrity {
  readonly state: 'ok' | 'unanchored' | 'broken';
  readonly since: number | null;
  readonly detail: string | null;
}

/**
 * Stored with every entry: `[readThrough, lostSince | null, overwritten, summarized, broken]`, where
 * `broken` is null or `[since, detail]` (entries of before it have four elements).
 */
type AuditNote = [number, number | null, number, number, [number, string] | null];

export class SecurityLog {
  private readonly changes: EventLog;
  private readonly refusals: EventLog;
  private readonly limiter: RefusalLimiter;
  private readonly listeners: ((event: SecurityEvent) => void)[] = [];
  private nextId = 1;
  private readThrough = 0;
  private loss: LostEntries | null = null;
  private lastWarning = Number.NEGATIVE_INFINITY;
  private broken: { since: number; detail: string } | null = null;
  private anchored = true;
  /** Newest id in each ring: [changes, refusals]. */
  private newest: [number, number] = [0, 0];
  private warningDue = false;
  /** The time of the event being written (an erase it causes is a loss at that time). */
  private writingAt = 0;

  constructor(
    flash: Flash,
    key: Uint8Array,
    places: { readonly changes: RingPlace; readonly refusals: RingPlace },
    policy: RefusalPolicy = DEFAULT_REFUSAL_POLICY,
  ) {
    const ring = (place: RingPlace, tag: number) =>
      new EventLog(flash, place.firstBlock, place.blockCount, key, {
        ring: tag,
        nextId: () => this.nextId,
        onOverwrite: (ids) => this.overwritten(ids),
      });
    this.changes = ring(places.changes, CHANGES_RING);
    this.refusals = ring(places.refusals, REFUSALS_RING);
    this.limiter = new RefusalLimiter(policy);
    let newest: { id: number; note: unknown } | null = null;
    [this.changes, this.refusals].forEach((ring, r) => {
      for (const { event, note } of ring.readEntries()) {
        if (event.id >= this.nextId) this.nextId = event.id + 1;
        if (event.id > (this.newest[r] as number)) this.newest[r] = event.id;
        if (newest === null || event.id > newest.id) newest = { id: event.id, note };
      }
    });
    this.restore((newest as { note: unknown } | null)?.note);
  }

  /** The newest event id of each ring, [changes, refusals]: what a commit anchors. */
  newestIds(): [number, number] {
    return [...this.newest];
  }

  /**
   * Compares the log with the anchor of the committed state: a ring whose newest event is older than
   * the anchor was truncated or replayed; a ring with missing block sequence numbers lost blocks.
   * Returns what is wrong, or null. Changes nothing on flash.
   */
  check(anchor: readonly [number, number] | null): string | null {
    if (anchor === null) {
      this.anchored = false;
      return null;
    }
    this.anchored = true;
    const problems: string[] = [];
    (['changes', 'refusals'] as const).forEach((name, r) => {
      const ring = r === 0 ? this.changes : this.refusals;
      if ((this.newest[r] as number) < (anchor[r] as number)) {
        problems.push(
          `${name} ring: newest event id ${this.newest[r]}, the committed state had ${anchor[r]} (events missing: truncated or replayed)`,
        );
      }
      const gap = ring.sequenceGap();
      if (gap) problems.push(`${name} ring: ${gap}`);
    });
    // Ids never go back, even when events were lost: the next one is above everything committed.
    this.nextId = Math.max(this.nextId, anchor[0] + 1, anchor[1] + 1);
    return problems.length > 0 ? problems.join('; ') : null;
  }

  /** Marks the log broken (a failed `check`), kept with every entry written until an audit read. */
  markBroken(time: number, detail: string): void {
    this.broken = { since: time, detail };
  }

  integrity(): LogIntegrity {
    if (this.broken) return { state: 'broken', since: this.broken.since, detail: this.broken.detail };
    return { state: this.anchored ? 'ok' : 'unanchored', since: null, detail: null };
  }

  /** The committed state anchors the log again (after a commit). */
  anchoredNow(): void {
    this.anchored = true;
  }

  /**
   * Writes a tamper or damage finding to the changes ring whatever its result, so that no flood of
   * refusals can push it out and the limiter never folds it into a summary.
   */
  alert(event: SecurityEvent): void {
    this.write(this.changes, event);
  }

  /** Entries that failed to verify during the last read, in both rings. */
  get damagedEntries(): number {
    return this.changes.damagedEntries + this.refusals.damagedEntries;
  }

  /** Tells `listener` about every event once it is on flash; a listener that throws is ignored. */
  observe(listener: (event: SecurityEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Logs one event: `ok` to the changes ring, anything else through the limiter to the refusals ring. */
  append(event: SecurityEvent): void {
    if (event.result === 'ok') {
      this.write(this.changes, event);
      return;
    }
    if (this.limiter.summaryDue(event.time)) this.writeSummaries(event.time);
    if (this.limiter.admit(event)) {
      this.write(this.refusals, event);
    } else {
      this.lose(event.time, { summarized: 1 });
      this.warnIfDue(event.time);
    }
  }

  /**
   * Writes the summaries of a finished window (call it now and then), or with `now` = true of what was
   * counted so far (before a reader looks).
   */
  flush(time: number, now = false): void {
    if (now ? this.limiter.pending > 0 : this.limiter.summaryDue(time)) this.writeSummaries(time);
  }

  /** Every readable event of both rings, oldest first. */
  readAll(): StoredEvent[] {
    return [...this.changes.readAll(), ...this.refusals.readAll()].sort((a, b) => a.id - b.id);
  }

  /** What was lost since the last `markRead`, or null. */
  lost(): LostEntries | null {
    return this.loss;
  }

  /** An audit reader has seen every event up to `throughId` and the loss report: it starts afresh. */
  markRead(throughId: number): void {
    this.readThrough = Math.max(this.readThrough, throughId);
    this.loss = null;
    this.broken = null;
  }

  /** Erases both rings (factory reset). */
  eraseAll(): void {
    this.changes.eraseAll();
    this.refusals.eraseAll();
    this.loss = null;
    this.readThrough = 0;
    this.broken = null;
    this.newest = [0, 0];
  }

  private write(ring: EventLog, event: SecurityEvent): void {
    this.writingAt = event.time;
    const id = ring.append(event, () => this.note());
    this.nextId = id + 1;
    const r = ring === this.changes ? 0 : 1;
    if (id > (this.newest[r] as number)) this.newest[r] = id;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {}
    }
    this.warnIfDue(event.time);
  }

  private writeSummaries(time: number): void {
    for (const summary of this.limiter.summarize(time)) this.write(this.refusals, summary);
  }

  private overwritten(ids: readonly number[]): void {
    const unread = ids.filter((id) => id > this.readThrough).length;
    if (unread > 0) this.lose(this.writingAt, { overwritten: unread });
  }

  private lose(time: number, count: { overwritten?: number; summarized?: number }): void {
    if (this.loss === null) this.warningDue = true;
    const loss = this.loss ?? { since: time, overwritten: 0, summarized: 0 };
    this.loss = {
      since: loss.since,
      overwritten: loss.overwritten + (count.overwritten ?? 0),
      summarized: loss.summarized + (count.summarized ?? 0),
    };
  }

  /** The warning event, once per loss since the last read and at most once in WARNING_INTERVAL_MS. */
  private warnIfDue(time: number): void {
    if (!this.warningDue || this.loss === null) return;
    this.warningDue = false;
    if (time - this.lastWarning < WARNING_INTERVAL_MS && time >= this.lastWarning) return;
    this.lastWarning = time;
    this.write(this.changes, {
      time,
      type: LOST_EVENT_TYPE,
      interface: 'system',
      result: 'failed',
      detail:
        'security events lost since the log was last read (overwritten before being read, or only ' +
        'counted in a summary): read the log; GET /api/v1/audit says how many',
    });
  }

  private note(): AuditNote {
    const loss = this.loss;
    const broken: [number, string] | null = this.broken ? [this.broken.since, this.broken.detail] : null;
    return [this.readThrough, loss?.since ?? null, loss?.overwritten ?? 0, loss?.summarized ?? 0, broken];
  }

  private restore(note: unknown): void {
    if (!Array.isArray(note) || (note.length !== 4 && note.length !== 5)) return;
    const [readThrough, since, overwritten, summarized, broken] = note as unknown[];
    if (Array.isArray(broken) && typeof broken[0] === 'number' && typeof broken[1] === 'string') {
      this.broken = { since: broken[0], detail: broken[1] };
    }
    if (typeof readThrough === 'number' && Number.isSafeInteger(readThrough)) this.readThrough = readThrough;
    if (typeof since === 'number' && typeof overwritten === 'number' && typeof summarized === 'number') {
      this.loss = { since, overwritten, summarized };
    }
  }
}
