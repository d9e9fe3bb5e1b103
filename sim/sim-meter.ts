/**
 * The simulated three-phase meter: 230 V / 50 Hz with small deterministic ripple, a load that drifts
 * over minutes, power factor around 0.9, energy integrated over time, min/max tracked. Deterministic
 * in `now`: the same times give the same values, so tests can reason about them.
 */
import {
  ALWAYS_FRESH,
  type EnergyMeters,
  type Measurements,
  type MeterSource,
  type MeterStatus,
  type MinMax,
} from '../firmware/meter/meter-source.ts';

const PHASE_OFFSETS = [0, 2.1, 4.2] as const;
/** Instantaneous values are computed once per cycle, like the meter's measurement cycle. */
export const MEASUREMENT_CYCLE_MS = 100;

export class SimMeter implements MeterSource {
  readonly kind = 'sim';
  readonly profile = null;
  readonly primary = false;
  private lastIntegration: number;
  private cycle: Measurements | null = null;
  private activeImportWh = 0;
  private activeExportWh = 0;
  private reactiveImportVarh = 0;
  private reactiveExportVarh = 0;
  private resetAt: number | null = null;
  private minMaxState: MinMax;

  constructor(start: number) {
    this.lastIntegration = start;
    const m = this.sample(start);
    this.minMaxState = { pMax: m.pTotal, pMin: m.pTotal, iMax: Math.max(...m.i), since: start };
  }

  /** Values of the current measurement cycle (MEASUREMENT_CYCLE_MS), as a real meter updates them. */
  measurements(now: number): Measurements {
    this.integrate(now);
    const cycle = now - (now % MEASUREMENT_CYCLE_MS);
    if (this.cycle?.time !== cycle) this.cycle = this.sample(cycle);
    return this.cycle;
  }

  meters(now: number): EnergyMeters {
    this.integrate(now);
    return {
      activeImportWh: Math.floor(this.activeImportWh),
      activeExportWh: Math.floor(this.activeExportWh),
      reactiveImportVarh: Math.floor(this.reactiveImportVarh),
      reactiveExportVarh: Math.floor(this.reactiveExportVarh),
      resetAt: this.resetAt,
    };
  }

  /** Always fresh; read at the start of the measurement cycle the values belong to. */
  status(now: number): MeterStatus {
    return ALWAYS_FRESH(this.measurements(now).time);
  }

  minMax(now: number): MinMax {
    this.integrate(now);
    return this.minMaxState;
  }

  resetMeters(now: number): void {
    this.integrate(now);
    this.activeImportWh = 0;
    this.activeExportWh = 0;
    this.reactiveImportVarh = 0;
    this.reactiveExportVarh = 0;
    this.resetAt = now;
  }

  resetMinMax(now: number): void {
    // Samples up to now must be folded in first, or the next read would fold them in after the reset.
    this.integrate(now);
    const m = this.sample(now);
    this.minMaxState = { pMax: m.pTotal, pMin: m.pTotal, iMax: Math.max(...m.i), since: now };
  }

  /** Integrates energy in steps of at most one second, so coarse reads still follow the load curve. */
  private integrate(now: number): void {
    while (this.lastIntegration < now) {
      const step = Math.min(1000, now - this.lastIntegration);
      const t = this.lastIntegration + step;
      const m = this.sample(t);
      const hours = step / 3_600_000;
      if (m.pTotal >= 0) this.activeImportWh += m.pTotal * hours;
      else this.activeExportWh -= m.pTotal * hours;
      if (m.qTotal >= 0) this.reactiveImportVarh += m.qTotal * hours;
      else this.reactiveExportVarh -= m.qTotal * hours;
      const iMax = Math.max(...m.i);
      this.minMaxState = {
        pMax: Math.max(this.minMaxState.pMax, m.pTotal),
        pMin: Math.min(this.minMaxState.pMin, m.pTotal),
        iMax: Math.max(this.minMaxState.iMax, iMax),
        since: this.minMaxState.since,
      };
      this.lastIntegration = t;
    }
  }

  private sample(now: number): Measurements {
    const s = now / 1000;
    const phase = (k: 0 | 1 | 2) => {
      const offset = PHASE_OFFSETS[k];
      const u = 230 + 2.5 * Math.sin(s / 7 + offset) + 0.4 * Math.sin(s * 1.3 + offset);
      const load = 0.55 + 0.35 * Math.sin(s / 90 + offset) + 0.08 * Math.sin(s / 3.1 + offset * 2);
      const i = 5 * Math.max(0.02, load);
      const pf = 0.9 + 0.07 * Math.sin(s / 45 + offset);
      const sa = u * i;
      const p = sa * pf;
      const q = Math.sqrt(Math.max(0, sa * sa - p * p));
      return { u, i, p, q, s: sa, pf };
    };
    const phases = [phase(0), phase(1), phase(2)] as const;
    const three = <K extends 'u' | 'i' | 'p' | 'q' | 's' | 'pf'>(key: K) =>
      [phases[0][key], phases[1][key], phases[2][key]] as const;
    const pTotal = phases.reduce((sum, ph) => sum + ph.p, 0);
    const qTotal = phases.reduce((sum, ph) => sum + ph.q, 0);
    const sTotal = phases.reduce((sum, ph) => sum + ph.s, 0);
    return {
      time: now,
      u: three('u'),
      i: three('i'),
      p: three('p'),
      q: three('q'),
      s: three('s'),
      pf: three('pf'),
      pTotal,
      qTotal,
      sTotal,
      pfTotal: sTotal === 0 ? 1 : pTotal / sTotal,
      f: 50 + 0.02 * Math.sin(s / 11),
    };
  }
}
