/**
 * Device configuration validation: the defaults pass, every field passes at its boundaries, and every
 * rule refuses with CoreError 'invalid-setting' naming its field (in details and at the message's start).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CoreError } from '../../../firmware/core/core-error.ts';
import {
  BAUD_RATES,
  DEFAULT_DEVICE_CONFIG,
  type DeviceConfig,
  validateDeviceConfig,
} from '../../../firmware/core/device-config.ts';

type Patch = Omit<Partial<DeviceConfig>, 'rtu'> & { rtu?: Partial<DeviceConfig['rtu']> };

function configWith(patch: Patch): DeviceConfig {
  return {
    ...DEFAULT_DEVICE_CONFIG,
    ...patch,
    rtu: { ...DEFAULT_DEVICE_CONFIG.rtu, ...patch.rtu },
  } as DeviceConfig;
}

function rejects(patch: Patch, field: string): void {
  assert.throws(
    () => validateDeviceConfig(configWith(patch)),
    (error: unknown) => {
      assert.ok(error instanceof CoreError);
      assert.equal(error.code, 'invalid-setting');
      assert.deepEqual(error.details, { field });
      assert.ok(error.message.startsWith(`${field}: `), error.message);
      return true;
    },
    `${JSON.stringify(patch)} should be refused naming ${field}`,
  );
}

function accepts(patch: Patch): void {
  const config = configWith(patch);
  assert.equal(validateDeviceConfig(config), config);
}

describe('validateDeviceConfig', () => {
  it('accepts the defaults', () => {
    assert.equal(validateDeviceConfig(DEFAULT_DEVICE_CONFIG), DEFAULT_DEVICE_CONFIG);
    assert.deepEqual(DEFAULT_DEVICE_CONFIG, {
      vtRatio: 1,
      ctRatio: 1,
      wordOrder: 'ABCD',
      unitId: 1,
      rtu: { baudRate: 19200, parity: 'even', stopBits: 1 },
      energyOffset: {
        activeImportWh: 0,
        activeExportWh: 0,
        reactiveImportVarh: 0,
        reactiveExportVarh: 0,
        resetAt: null,
      },
      meterSource: null,
    });
  });

  it('vtRatio and ctRatio: numbers from 1 to 10000, fractions allowed', () => {
    for (const field of ['vtRatio', 'ctRatio'] as const) {
      for (const value of [1, 1.5, 100, 10000]) accepts({ [field]: value });
      for (const value of [
        0,
        0.999,
        -1,
        10000.001,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        '100' as unknown as number,
      ]) {
        rejects({ [field]: value }, field);
      }
    }
  });

  it('wordOrder: ABCD or CDAB', () => {
    accepts({ wordOrder: 'CDAB' });
    for (const value of ['abcd', 'BADC', '', undefined])
      rejects({ wordOrder: value as DeviceConfig['wordOrder'] }, 'wordOrder');
  });

  it('unitId: whole numbers from 1 to 247', () => {
    for (const value of [1, 247]) accepts({ unitId: value });
    for (const value of [0, 248, 1.5, Number.NaN, -1]) rejects({ unitId: value }, 'unitId');
  });

  it('rtu.baudRate: one of the listed rates', () => {
    for (const value of BAUD_RATES) accepts({ rtu: { baudRate: value } });
    for (const value of [0, 300, 19201, 230400]) rejects({ rtu: { baudRate: value } }, 'rtu.baudRate');
  });

  it('rtu.parity: none, even or odd', () => {
    for (const value of ['none', 'even', 'odd'] as const) accepts({ rtu: { parity: value } });
    for (const value of ['mark', 'EVEN', '']) rejects({ rtu: { parity: value as 'none' } }, 'rtu.parity');
  });

  it('rtu.stopBits: 1 or 2', () => {
    accepts({ rtu: { stopBits: 2 } });
    for (const value of [0, 1.5, 3]) rejects({ rtu: { stopBits: value as 1 } }, 'rtu.stopBits');
  });

  it('names the first wrong field when several are wrong', () => {
    rejects({ ctRatio: 0, unitId: 0 }, 'ctRatio');
  });
});
