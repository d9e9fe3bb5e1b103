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
 * every entry, so it survives a reboot as of the last entry written.
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

/** Stored with every entry: `[readThrough, lostSince | null, overwritten, summarized]`. */
type AuditNote = [number, number | null, number, number];

export class SecurityLog {
  private readonly changes: EventLog;
  private readonly refusals: EventLog;
  private readonly limiter: RefusalLimiter;
  private readonly listeners: ((event: SecurityEvent) => void)[] = [];
  private nextId = 1;
  private readThrough = 0;
  private loss: LostEntries | null = null;
  private lastWarning = Number.NEGATIVE_INFINITY;
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
    for (const { event, note } of [...this.changes.readEntries(), ...this.refusals.readEntries()]) {
      if (event.id >= this.nextId) this.nextId = event.id + 1;
      if (newest === null || event.id > newest.id) newest = { id: event.id, note };
    }
    this.restore(newest?.note);
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
  }

  /** Erases both rings (factory reset). */
  eraseAll(): void {
    this.changes.eraseAll();
    this.refusals.eraseAll();
    this.loss = null;
    this.readThrough = 0;
  }

  private write(ring: EventLog, event: SecurityEvent): void {
    this.writingAt = event.time;
    const id = ring.append(event, () => this.note());
    this.nextId = id + 1;
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
    return [this.readThrough, loss?.since ?? null, loss?.overwritten ?? 0, loss?.summarized ?? 0];
  }

  private restore(note: unknown): void {
    if (!Array.isArray(note) || note.length !== 4) return;
    const [readThrough, since, overwritten, summarized] = note as unknown[];
    if (typeof readThrough === 'number' && Number.isSafeInteger(readThrough)) this.readThrough = readThrough;
    if (typeof since === 'number' && typeof overwritten === 'number' && typeof summarized === 'number') {
      this.loss = { since, overwritten, summarized };
    }
  }
}
