/**
 * The measurement history (firmware/core/measurement-history.ts): 1 s values for 10 minutes, 1 min
 * averages for 24 hours, gaps where no current value was recorded (never a neighbour's value), the
 * window trimmed to what was recorded, and the rings' fixed size.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  HISTORY_SERIES,
  type HistorySample,
  MeasurementHistory,
} from '../../../firmware/core/measurement-history.ts';

const T0 = Date.UTC(2026, 11, 6, 10, 0, 0);

const sample = (u: number, overrides: Partial<HistorySample> = {}): HistorySample => ({
  u1: u,
  u2: u + 1,
  u3: u + 2,
  i1: 5,
  i2: 5,
  i3: 5,
  p1: 1000,
  p2: 1000,
  p3: 1000,
  pTotal: 3000,
  ...overrides,
});

describe('MeasurementHistory, 1 s', () => {
  it('holds the seconds recorded, oldest first, with their times', () => {
    const history = new MeasurementHistory();
    for (let k = 0; k < 5; k++) history.record(T0 + k * 1000 + 500, sample(230 + k));
    const window = history.read('1s', T0 + 5 * 1000 + 100);
    assert.deepEqual(
      window.time,
      [0, 1, 2, 3, 4].map((k) => T0 + k * 1000),
    );
    assert.deepEqual(window.values.u1, [230, 231, 232, 233, 234]);
    assert.deepEqual(window.values.u3, [232, 233, 234, 235, 236]);
    assert.equal(window.stepMs, 1000);
  });

  it('a missed second and a stale meter are gaps, never the neighbour value', () => {
    const history = new MeasurementHistory();
    history.record(T0 + 500, sample(230));
    // second 1 missed (no call), second 2 stale
    history.record(T0 + 2500, null);
    history.record(T0 + 3500, sample(233));
    const window = history.read('1s', T0 + 4000);
    assert.deepEqual(window.values.u1, [230, null, null, 233]);
    assert.deepEqual(window.values.pTotal, [3000, null, null, 3000]);
  });

  it('a quantity the source lacks (NaN) is a gap in that series only', () => {
    const history = new MeasurementHistory();
    history.record(T0, sample(230, { i2: Number.NaN }));
    const window = history.read('1s', T0 + 1000);
    assert.deepEqual(window.values.i2, [null]);
    assert.deepEqual(window.values.i1, [5]);
  });

  it('keeps the last 600 seconds; older slots, overwritten, do not come back as values', () => {
    const history = new MeasurementHistory();
    for (let k = 0; k < 700; k++) history.record(T0 + k * 1000, sample(k));
    const window = history.read('1s', T0 + 700 * 1000);
    assert.equal(window.time.length, 600);
    assert.equal(window.time[0], T0 + 100 * 1000);
    assert.equal(window.values.u1[0], 100);
    assert.equal(window.values.u1[599], 699);
    // 10 minutes later without any record: every second of the window is a gap.
    const later = history.read('1s', T0 + 1400 * 1000);
    assert.equal(later.time.length, 600);
    assert.ok(later.values.u1.every((v) => v === null));
  });

  it('reads nothing before the first record, and ignores a clock set back', () => {
    const history = new MeasurementHistory();
    assert.equal(history.read('1s', T0).time.length, 0);
    history.record(T0 + 120_000, sample(230));
    history.record(T0, sample(999));
    assert.deepEqual(history.read('1s', T0 + 120_500).time, [], 'the second in progress is not given');
    const window = history.read('1s', T0 + 121_000);
    assert.deepEqual(window.values.u1, [230]);
  });

  it('gives float32 values at their precision (no conversion noise)', () => {
    const history = new MeasurementHistory();
    history.record(T0, sample(230.1));
    assert.equal(history.read('1s', T0 + 1000).values.u1[0], 230.1);
  });
});

describe('MeasurementHistory, 1 min', () => {
  it('averages the seconds of each completed minute that hold a value', () => {
    const history = new MeasurementHistory();
    // minute 0: 230 for 30 s, 240 for 30 s; minute 1: stale except one second at 250; minute 2: nothing
    for (let k = 0; k < 60; k++) history.record(T0 + k * 1000, sample(k < 30 ? 230 : 240));
    for (let k = 60; k < 120; k++) history.record(T0 + k * 1000, k === 90 ? sample(250) : null);
    const window = history.read('1min', T0 + 3 * 60_000 + 5000);
    assert.deepEqual(window.time, [T0, T0 + 60_000, T0 + 120_000]);
    assert.deepEqual(window.values.u1, [235, 250, null]);
    assert.equal(window.stepMs, 60_000);
  });

  it('does not report the minute in progress', () => {
    const history = new MeasurementHistory();
    history.record(T0 + 1000, sample(230));
    assert.deepEqual(history.read('1min', T0 + 30_000).time, []);
    assert.deepEqual(history.read('1min', T0 + 60_000).values.u1, [230]);
    // Reading closed the minute; recording goes on in the next one.
    history.record(T0 + 61_000, sample(240));
    assert.deepEqual(history.read('1min', T0 + 125_000).values.u1, [230, 240]);
  });

  it('keeps 24 hours of minutes', () => {
    const history = new MeasurementHistory();
    for (let m = 0; m < 1500; m++) history.record(T0 + m * 60_000, sample(m));
    const window = history.read('1min', T0 + 1500 * 60_000);
    assert.equal(window.time.length, 1440);
    assert.equal(window.values.u1[0], 60);
    assert.equal(window.values.u1[1439], 1499);
    assert.deepEqual(Object.keys(window.values), [...HISTORY_SERIES]);
  });
});
