/**
 * The measurement history kept in RAM for trends: 1 s values of the last 10 minutes and 1 min averages
 * of the last 24 hours, for the quantities the dashboard draws (U and I per phase, P per phase and in
 * total). Plain data, no clock: whoever records passes `now` in (the metering service, once a second).
 *
 * Each ring is a fixed-size Float32Array per series, indexed by time (second or minute number modulo
 * the ring length) beside an array of the time each slot holds. A slot whose time is not the one asked
 * for was never written (a missed second, the meter did not answer): it reads as a gap (null), never
 * as the neighbour's value. A sample whose meter was not current is recorded as a gap too, and a
 * quantity the source does not measure (NaN) is a gap in that series only.
 *
 * A minute's average is taken over the seconds of that minute that hold a value; a minute without any
 * is a gap. The second or minute in progress is not reported until it has ended (a window read then
 * stays as it was read).
 *
 * Memory, fixed at construction: 1 s ring 600 slots × 10 series × 4 bytes = 24,000 bytes + 600 × 8
 * bytes of slot times = 4,800; 1 min ring 1,440 × 10 × 4 = 57,600 + 1,440 × 8 = 11,520; the minute's
 * sums 10 × 8 × 2. About 98,000 bytes (~96 KiB) whatever the uptime.
 */

/** The recorded quantities, in the order of the ring's series. */
export const HISTORY_SERIES = ['u1', 'u2', 'u3', 'i1', 'i2', 'i3', 'p1', 'p2', 'p3', 'pTotal'] as const;
export type HistorySeries = (typeof HISTORY_SERIES)[number];

/** One second's values (primary side); NaN: not available from this source. */
export type HistorySample = Readonly<Record<HistorySeries, number>>;

export type HistoryResolution = '1s' | '1min';

export const HISTORY_RESOLUTIONS: Readonly<
  Record<HistoryResolution, { readonly stepMs: number; readonly slots: number }>
> = {
  '1s': { stepMs: 1000, slots: 600 },
  '1min': { stepMs: 60_000, slots: 1440 },
};

/** A window of the history, oldest first: `time[k]` is the start of the step `values[series][k]` covers. */
export interface HistoryWindow {
  readonly resolution: HistoryResolution;
  readonly stepMs: number;
  readonly time: readonly number[];
  /** null: a gap (no current value in that step). */
  readonly values: Readonly<Record<HistorySeries, readonly (number | null)[]>>;
}

const NO_STEP = -1;

/** One ring: a Float32Array per series and the step number each slot holds. */
class Ring {
  private readonly series: Float32Array[];
  private readonly steps: Float64Array;

  constructor(readonly slots: number) {
    this.series = HISTORY_SERIES.map(() => new Float32Array(slots));
    this.steps = new Float64Array(slots).fill(NO_STEP);
  }

  write(step: number, values: readonly number[]): void {
    const at = step % this.slots;
    this.steps[at] = step;
    values.forEach((value, s) => {
      (this.series[s] as Float32Array)[at] = value;
    });
  }

  /** The value of `series` at `step`, or null when the slot holds another step or no value. */
  read(step: number, s: number): number | null {
    const at = step % this.slots;
    if (this.steps[at] !== step) return null;
    const value = (this.series[s] as Float32Array)[at] as number;
    // A float32 has about 7 significant digits: more would be noise of the conversion.
    return Number.isFinite(value) ? Number(value.toPrecision(7)) : null;
  }
}

export class MeasurementHistory {
  private readonly seconds = new Ring(HISTORY_RESOLUTIONS['1s'].slots);
  private readonly minutes = new Ring(HISTORY_RESOLUTIONS['1min'].slots);
  /** The first second recorded: no window reaches before it (nothing was measured then, not a gap). */
  private firstSecond: number | null = null;
  private minute: number | null = null;
  private readonly sums = new Float64Array(HISTORY_SERIES.length);
  private readonly counts = new Float64Array(HISTORY_SERIES.length);

  /**
   * Records the second of `now`: `sample`, or null when the meter's values are not current (a gap).
   * A second recorded twice keeps the later sample; a time before the last one recorded is ignored
   * (the clock was set back: the rings hold what was measured, in order).
   */
  record(now: number, sample: HistorySample | null): void {
    const second = Math.floor(now / 1000);
    const minute = Math.floor(now / 60_000);
    if (this.minute !== null && minute < this.minute) return;
    if (this.firstSecond === null) this.firstSecond = second;
    if (this.minute !== null && minute > this.minute) this.closeMinute();
    this.minute = minute;
    const values = HISTORY_SERIES.map((name) => (sample === null ? Number.NaN : sample[name]));
    this.seconds.write(second, values);
    values.forEach((value, s) => {
      if (!Number.isFinite(value)) return;
      this.sums[s] = (this.sums[s] as number) + value;
      this.counts[s] = (this.counts[s] as number) + 1;
    });
  }

  /** The window of `resolution` that ends at `now`, from the first second recorded at the earliest. */
  read(resolution: HistoryResolution, now: number): HistoryWindow {
    const { stepMs, slots } = HISTORY_RESOLUTIONS[resolution];
    const ring = resolution === '1s' ? this.seconds : this.minutes;
    // Both windows end with the last completed step: the one in progress may not be recorded yet.
    const last = Math.floor(now / stepMs) - 1;
    const earliest = this.firstSecond === null ? last + 1 : Math.floor((this.firstSecond * 1000) / stepMs);
    const first = Math.max(last - slots + 1, earliest);
    const time: number[] = [];
    const values = Object.fromEntries(
      HISTORY_SERIES.map((name) => [name, [] as (number | null)[]]),
    ) as Record<HistorySeries, (number | null)[]>;
    if (resolution === '1min') this.closeMinuteBefore(Math.floor(now / 60_000));
    for (let step = first; step <= last; step++) {
      time.push(step * stepMs);
      HISTORY_SERIES.forEach((name, s) => {
        values[name].push(ring.read(step, s));
      });
    }
    return { resolution, stepMs, time, values };
  }

  /** Writes the minute in progress when `minute` has begun without a sample yet (reads come first). */
  private closeMinuteBefore(minute: number): void {
    if (this.minute !== null && minute > this.minute) {
      this.closeMinute();
      this.minute = minute;
    }
  }

  private closeMinute(): void {
    if (this.minute === null) return;
    const averages = HISTORY_SERIES.map((_, s) =>
      (this.counts[s] as number) > 0 ? (this.sums[s] as number) / (this.counts[s] as number) : Number.NaN,
    );
    this.minutes.write(this.minute, averages);
    this.sums.fill(0);
    this.counts.fill(0);
  }
}
