/**
 * Bounds the comm-lost / comm-restored events a flapping line can write to the security log: a burst
 * (default 6 transitions) is logged one by one, then one transition every 10 minutes. Transitions in
 * between are counted; the next one logged says how many were not, and when the line settles the
 * state it settled in is logged as soon as the budget allows, so the log never ends on a state that
 * is no longer true for longer than the budget's period. Pure: the caller passes the time in.
 */

export type CommState = 'lost' | 'restored';

export interface CommEventPolicy {
  /** Transitions logged one by one in a burst. Default 6. */
  readonly burst: number;
  /** …and then one every this many ms. Default 10 minutes. */
  readonly everyMs: number;
}

export const DEFAULT_COMM_EVENT_POLICY: CommEventPolicy = { burst: 6, everyMs: 10 * 60_000 };

export interface CommEventToLog {
  readonly state: CommState;
  /** Transitions since the previous logged event that were only counted. */
  readonly notLogged: number;
}

export class CommEventLimiter {
  private tokens: number;
  private at = Number.NEGATIVE_INFINITY;
  private current: CommState | null = null;
  private logged: CommState | null = null;
  private counted = 0;

  constructor(private readonly policy: CommEventPolicy = DEFAULT_COMM_EVENT_POLICY) {
    this.tokens = policy.burst;
  }

  /** A transition happened: the event to log now, or null when it was only counted. */
  transition(state: CommState, now: number): CommEventToLog | null {
    this.current = state;
    return this.take(now, true);
  }

  /** Called now and then (each poll): the settled state, once the budget allows, if it was not logged. */
  settle(now: number): CommEventToLog | null {
    if (this.current === null || this.current === this.logged) return null;
    return this.take(now, false);
  }

  private take(now: number, isTransition: boolean): CommEventToLog | null {
    this.refill(now);
    const state = this.current as CommState;
    if (this.tokens < 1) {
      if (isTransition) this.counted++;
      return null;
    }
    this.tokens--;
    const event = { state, notLogged: this.counted };
    this.counted = 0;
    this.logged = state;
    return event;
  }

  private refill(now: number): void {
    if (this.at === Number.NEGATIVE_INFINITY || now < this.at) {
      this.at = now;
      return;
    }
    this.tokens = Math.min(this.policy.burst, this.tokens + (now - this.at) / this.policy.everyMs);
    this.at = now;
  }
}
