/**
 * What the firmware reads from the measuring hardware. The simulator (sim/sim-meter.ts) and the
 * upstream Modbus meter (upstream-meter.ts) implement it. Values are secondary-side unless the source
 * says `primary`; `scaleToPrimary` applies the VT/CT ratios of the configuration.
 *
 * A quantity the source does not measure (its profile lacks it) is NaN, "not available": REST shows
 * null, the Modbus map a quiet NaN (float32) or 0xFFFF… (uint64), the display "--". Never 0.
 */

/** Instantaneous values; arrays are per phase L1, L2, L3. */
export interface Measurements {
  readonly time: number;
  /** Phase-to-neutral voltages, V. */
  readonly u: readonly [number, number, number];
  /** Phase currents, A. */
  readonly i: readonly [number, number, number];
  /** Active power per phase, W. */
  readonly p: readonly [number, number, number];
  /** Reactive power per phase, var. */
  readonly q: readonly [number, number, number];
  /** Apparent power per phase, VA. */
  readonly s: readonly [number, number, number];
  readonly pf: readonly [number, number, number];
  readonly pTotal: number;
  readonly qTotal: number;
  readonly sTotal: number;
  readonly pfTotal: number;
  /** Frequency, Hz. */
  readonly f: number;
}

/** Energy registers, whole Wh / varh (uint64 on Modbus). */
export interface EnergyMeters {
  readonly activeImportWh: number;
  readonly activeExportWh: number;
  readonly reactiveImportVarh: number;
  readonly reactiveExportVarh: number;
  /** When the meters were last reset (ms), or null. */
  readonly resetAt: number | null;
}

export interface MinMax {
  readonly pMax: number;
  readonly pMin: number;
  readonly iMax: number;
  readonly since: number;
}

/**
 * Whether the values are current. `fresh`: the last poll was answered (or, within `staleAfter` missed
 * polls, one before it); `stale`: that many polls in a row went unanswered; `never-read`: no poll has
 * been answered since boot. Only `fresh` values may be shown as values.
 */
export interface MeterStatus {
  readonly state: 'fresh' | 'stale' | 'never-read';
  /** When the values became stale (the missed poll that made them so), or null. */
  readonly staleSince: number | null;
  /** When the values held were read (the poll that answered), or null when never. */
  readonly readAt: number | null;
}

export type MeterKind = 'sim' | 'modbus-rtu' | 'modbus-tcp';

export interface MeterSource {
  readonly kind: MeterKind;
  /** The profile an upstream meter is read with; null for the simulator. */
  readonly profile: string | null;
  /** The source reports primary values already (the meter has its own VT/CT set): no scaling here. */
  readonly primary: boolean;
  measurements(now: number): Measurements;
  /** Energies as the source counts them; a source without `resetMeters` has them reset by an offset. */
  meters(now: number): EnergyMeters;
  minMax(now: number): MinMax;
  status(now: number): MeterStatus;
  /** Present when the source resets its own energy registers (the simulator). */
  resetMeters?(now: number): void;
  resetMinMax(now: number): void;
  /** Stops polling and releases the line. */
  close?(): Promise<void>;
}

/** Always fresh, read at `readAt`: the simulator's values are computed on demand. */
export const ALWAYS_FRESH = (readAt: number): MeterStatus => ({ state: 'fresh', staleSince: null, readAt });

export interface Ratios {
  readonly vtRatio: number;
  readonly ctRatio: number;
}

/** Secondary to primary values: voltages × VT, currents × CT, powers × VT·CT. */
export function scaleToPrimary(m: Measurements, { vtRatio, ctRatio }: Ratios): Measurements {
  const power = vtRatio * ctRatio;
  const each = (values: readonly [number, number, number], k: number) =>
    values.map((v) => v * k) as unknown as readonly [number, number, number];
  return {
    ...m,
    u: each(m.u, vtRatio),
    i: each(m.i, ctRatio),
    p: each(m.p, power),
    q: each(m.q, power),
    s: each(m.s, power),
    pTotal: m.pTotal * power,
    qTotal: m.qTotal * power,
    sTotal: m.sTotal * power,
  };
}
