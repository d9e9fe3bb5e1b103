/**
 * What the firmware reads from the measuring hardware. The simulator (sim/sim-meter.ts) and, later,
 * the real metering front end implement it. Values are secondary-side; `scaleToPrimary` applies the
 * VT/CT ratios of the configuration.
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

export interface MeterSource {
  measurements(now: number): Measurements;
  meters(now: number): EnergyMeters;
  minMax(now: number): MinMax;
  resetMeters(now: number): void;
  resetMinMax(now: number): void;
}

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
