/** Energy in kWh, MWh or GWh by magnitude, three decimals, never Wh with decimals (issue 16, defect 10). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatEnergy } from '../../web/src/energy-format.ts';

describe('formatEnergy', () => {
  it('chooses kWh, MWh or GWh by magnitude, with three decimals', () => {
    const cases: [number | null, string][] = [
      [0, '0.000 kWh'],
      [500, '0.500 kWh'],
      [12_345, '12.345 kWh'],
      [999_999, '999.999 kWh'],
      [1_000_000, '1.000 MWh'],
      [1_234_567, '1.235 MWh'],
      [2_500_000_000, '2.500 GWh'],
      [-1_500, '-1.500 kWh'],
      [null, '—'],
      [Number.NaN, '—'],
    ];
    for (const [wh, shown] of cases) assert.equal(formatEnergy(wh), shown, String(wh));
    assert.equal(formatEnergy(2_000_000, 'varh'), '2.000 Mvarh');
  });
});
