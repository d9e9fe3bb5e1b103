/**
 * The simulated meter: plausible values (U 220–240 V, f 49.9–50.1 Hz, |PF| ≤ 1, S² = P² + Q² per phase,
 * totals the sums of the phases), the same values for the same times, energy that never decreases and
 * integrates P (checked against an independent numeric integral), meters reset to zero, min/max that
 * follow the load and restart at a reset. Also scaleToPrimary of firmware/meter/meter-source.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Measurements, scaleToPrimary } from '../../firmware/meter/meter-source.ts';
import { SimMeter } from '../../sim/sim-meter.ts';

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} is not within ${tolerance} of ${expected}`,
  );
}

/** Samples over an hour, every 7.3 s (not a divisor of any ripple period). */
function sampleTimes(from = T0, span = HOUR, step = 7_300): number[] {
  const times: number[] = [];
  for (let t = from; t <= from + span; t += step) times.push(t);
  return times;
}

describe('SimMeter measurements', () => {
  it('gives plausible values at every time', () => {
    const meter = new SimMeter(T0);
    for (const t of sampleTimes()) {
      const m = meter.measurements(t);
      assert.equal(m.time, t);
      close(m.f, 50, 0.1, 'f');
      for (let k = 0; k < 3; k++) {
        const [u, i, p, q, s, pf] = [m.u[k], m.i[k], m.p[k], m.q[k], m.s[k], m.pf[k]] as number[] as [
          number,
          number,
          number,
          number,
          number,
          number,
        ];
        assert.ok(u >= 220 && u <= 240, `U${k + 1} = ${u}`);
        assert.ok(i > 0, `I${k + 1} = ${i}`);
        assert.ok(Math.abs(pf) <= 1, `PF${k + 1} = ${pf}`);
        close(s, u * i, 1e-9 * s, `S${k + 1} = U·I`);
        close(s, Math.hypot(p, q), 1e-9 * s, `S${k + 1} = √(P² + Q²)`);
        close(p, s * pf, 1e-9 * s, `P${k + 1} = S·PF`);
      }
      close(m.pTotal, m.p[0] + m.p[1] + m.p[2], 1e-9, 'P total');
      close(m.qTotal, m.q[0] + m.q[1] + m.q[2], 1e-9, 'Q total');
      close(m.sTotal, m.s[0] + m.s[1] + m.s[2], 1e-9, 'S total');
      assert.ok(Math.abs(m.pfTotal) <= 1, `PF total = ${m.pfTotal}`);
      close(m.pfTotal, m.pTotal / m.sTotal, 1e-12, 'PF total = P/S');
    }
  });

  it('moves: the load and the voltages are not constant', () => {
    const meter = new SimMeter(T0);
    const values = sampleTimes(T0, 10 * MINUTE, 30_000).map((t) => meter.measurements(t));
    assert.ok(new Set(values.map((m) => m.pTotal)).size > 10);
    assert.ok(new Set(values.map((m) => m.u[0])).size > 10);
  });

  it('gives the same values for the same times, however it is read', () => {
    const a = new SimMeter(T0);
    const b = new SimMeter(T0);
    const later = T0 + 5 * MINUTE;
    b.measurements(T0 + 2 * MINUTE);
    b.meters(T0 + 3 * MINUTE);
    assert.deepEqual(a.measurements(later), b.measurements(later));
    assert.deepEqual(new SimMeter(T0 - HOUR).measurements(later), a.measurements(later));
    assert.deepEqual(a.measurements(T0 + MINUTE), new SimMeter(T0).measurements(T0 + MINUTE));
  });
});

describe('SimMeter energy', () => {
  it('starts at zero and never decreases', () => {
    const meter = new SimMeter(T0);
    assert.deepEqual(meter.meters(T0), {
      activeImportWh: 0,
      activeExportWh: 0,
      reactiveImportVarh: 0,
      reactiveExportVarh: 0,
      resetAt: null,
    });
    let previous = meter.meters(T0);
    for (const t of sampleTimes(T0, 2 * HOUR, 13_000)) {
      const now = meter.meters(t);
      assert.ok(now.activeImportWh >= previous.activeImportWh, `active import at ${t}`);
      assert.ok(now.reactiveImportVarh >= previous.reactiveImportVarh, `reactive import at ${t}`);
      assert.ok(now.activeExportWh >= previous.activeExportWh, `active export at ${t}`);
      assert.ok(now.reactiveExportVarh >= previous.reactiveExportVarh, `reactive export at ${t}`);
      previous = now;
    }
    assert.ok(previous.activeImportWh > 0);
  });

  it('integrates P and Q: matches a trapezoidal integral over ten minutes to within 1 Wh', () => {
    const span = 10 * MINUTE;
    const probe = new SimMeter(T0);
    let wh = 0;
    let varh = 0;
    const step = 100;
    for (let t = T0; t < T0 + span; t += step) {
      const a = probe.measurements(t);
      const b = probe.measurements(t + step);
      wh += ((a.pTotal + b.pTotal) / 2) * (step / HOUR);
      varh += ((a.qTotal + b.qTotal) / 2) * (step / HOUR);
    }
    // Roughly 3 × 230 V × 2.75 A × 0.9 for 10 min: a few hundred Wh, enough to see a wrong factor.
    assert.ok(wh > 100, `${wh} Wh`);
    const meters = new SimMeter(T0).meters(T0 + span);
    close(meters.activeImportWh, wh, 1, 'active import Wh');
    close(meters.reactiveImportVarh, varh, 1, 'reactive import varh');
    assert.equal(meters.activeExportWh, 0);
    assert.equal(meters.reactiveExportVarh, 0);
  });

  it('counts the same energy however often it is read', () => {
    const often = new SimMeter(T0);
    for (let t = T0; t < T0 + HOUR; t += 1_500) often.meters(t);
    const once = new SimMeter(T0);
    close(often.meters(T0 + HOUR).activeImportWh, once.meters(T0 + HOUR).activeImportWh, 1, 'Wh');
  });

  it('reports whole Wh and varh', () => {
    const meters = new SimMeter(T0).meters(T0 + 7 * MINUTE + 123);
    for (const value of [meters.activeImportWh, meters.reactiveImportVarh])
      assert.ok(Number.isInteger(value));
  });

  it('resetMeters zeroes every register, records when, and counts on from there', () => {
    const meter = new SimMeter(T0);
    assert.ok(meter.meters(T0 + HOUR).activeImportWh > 0);
    meter.resetMeters(T0 + HOUR);
    assert.deepEqual(meter.meters(T0 + HOUR), {
      activeImportWh: 0,
      activeExportWh: 0,
      reactiveImportVarh: 0,
      reactiveExportVarh: 0,
      resetAt: T0 + HOUR,
    });
    const after = meter.meters(T0 + HOUR + 10 * MINUTE);
    const fresh = new SimMeter(T0 + HOUR).meters(T0 + HOUR + 10 * MINUTE);
    close(after.activeImportWh, fresh.activeImportWh, 1, 'energy after reset');
    assert.equal(after.resetAt, T0 + HOUR);
  });

  it('resetMeters also discards energy of the time before it that was never read', () => {
    const meter = new SimMeter(T0);
    meter.resetMeters(T0 + HOUR);
    assert.equal(meter.meters(T0 + HOUR).activeImportWh, 0);
    const after = meter.meters(T0 + HOUR + 10 * MINUTE);
    close(
      after.activeImportWh,
      new SimMeter(T0 + HOUR).meters(T0 + HOUR + 10 * MINUTE).activeImportWh,
      1,
      'Wh',
    );
  });
});

describe('SimMeter min/max', () => {
  it('starts at the first sample and follows the extremes of P and I', () => {
    const meter = new SimMeter(T0);
    const first = meter.measurements(T0);
    assert.deepEqual(meter.minMax(T0), {
      pMax: first.pTotal,
      pMin: first.pTotal,
      iMax: Math.max(...first.i),
      since: T0,
    });
    const probe = new SimMeter(T0);
    let pMax = first.pTotal;
    let pMin = first.pTotal;
    let iMax = Math.max(...first.i);
    for (let t = T0 + 1000; t <= T0 + HOUR; t += 1000) {
      const m = probe.measurements(t);
      pMax = Math.max(pMax, m.pTotal);
      pMin = Math.min(pMin, m.pTotal);
      iMax = Math.max(iMax, ...m.i);
    }
    const tracked = meter.minMax(T0 + HOUR);
    close(tracked.pMax, pMax, 1e-9, 'pMax');
    close(tracked.pMin, pMin, 1e-9, 'pMin');
    close(tracked.iMax, iMax, 1e-9, 'iMax');
    assert.ok(tracked.pMax > tracked.pMin);
  });

  it('only ever widens between resets', () => {
    const meter = new SimMeter(T0);
    let previous = meter.minMax(T0);
    for (const t of sampleTimes(T0, HOUR, 60_000)) {
      const now = meter.minMax(t);
      assert.ok(now.pMax >= previous.pMax && now.pMin <= previous.pMin && now.iMax >= previous.iMax);
      previous = now;
    }
  });

  it('resetMinMax restarts from the value at the reset and forgets everything before it', () => {
    const meter = new SimMeter(T0);
    const reset = T0 + HOUR;
    meter.resetMinMax(reset);
    const at = meter.measurements(reset);
    assert.deepEqual(meter.minMax(reset), {
      pMax: at.pTotal,
      pMin: at.pTotal,
      iMax: Math.max(...at.i),
      since: reset,
    });
    const later = reset + 10 * MINUTE;
    const fresh = new SimMeter(reset);
    assert.deepEqual(meter.minMax(later), fresh.minMax(later));
  });
});

describe('scaleToPrimary', () => {
  const m = new SimMeter(T0).measurements(T0 + 12_345);

  it('multiplies voltages by VT, currents by CT, powers by VT·CT, and leaves PF, f and time', () => {
    const scaled = scaleToPrimary(m, { vtRatio: 100, ctRatio: 40 });
    for (let k = 0; k < 3; k++) {
      close(scaled.u[k] as number, (m.u[k] as number) * 100, 1e-9, 'U');
      close(scaled.i[k] as number, (m.i[k] as number) * 40, 1e-9, 'I');
      for (const key of ['p', 'q', 's'] as const)
        close(scaled[key][k] as number, (m[key][k] as number) * 4000, 1e-6, key);
    }
    for (const key of ['pTotal', 'qTotal', 'sTotal'] as const) close(scaled[key], m[key] * 4000, 1e-6, key);
    assert.deepEqual(scaled.pf, m.pf);
    assert.equal(scaled.pfTotal, m.pfTotal);
    assert.equal(scaled.f, m.f);
    assert.equal(scaled.time, m.time);
  });

  it('is the identity for ratios of 1 and leaves its input untouched', () => {
    const copy: Measurements = structuredClone(m);
    assert.deepEqual(scaleToPrimary(m, { vtRatio: 1, ctRatio: 1 }), m);
    scaleToPrimary(m, { vtRatio: 3, ctRatio: 7 });
    assert.deepEqual(m, copy);
  });
});
