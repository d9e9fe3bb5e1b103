/**
 * The device configuration that is not security: measurement settings (VT/CT ratio, float word order)
 * and Modbus link parameters. Plain data, defaults, and validation with messages naming the field.
 */
import { CoreError } from './core-error.ts';

export type WordOrder = 'ABCD' | 'CDAB';
export type Parity = 'none' | 'even' | 'odd';

export interface DeviceConfig {
  /** Voltage transformer ratio, primary/secondary, 1–10000. */
  readonly vtRatio: number;
  /** Current transformer ratio, 1–10000. */
  readonly ctRatio: number;
  readonly wordOrder: WordOrder;
  /** Modbus unit id, 1–247. */
  readonly unitId: number;
  readonly rtu: { readonly baudRate: number; readonly parity: Parity; readonly stopBits: 1 | 2 };
  /**
   * The energy reset of an upstream meter (docs/meters.md): its registers at the last reset, in the
   * meter's own units (Wh, varh, before VT/CT), subtracted from what it reports. Zero until a reset.
   */
  readonly energyOffset: EnergyOffset;
  /**
   * The meter source stored by `metergate provision` (the commissioning file's `meter:`), in the
   * `--meter` syntax, or null. Boot uses it when no `--meter` flag is given (docs/meters.md).
   */
  readonly meterSource: string | null;
}

export interface EnergyOffset {
  readonly activeImportWh: number;
  readonly activeExportWh: number;
  readonly reactiveImportVarh: number;
  readonly reactiveExportVarh: number;
  /** When the reset was made (ms), or null: never. */
  readonly resetAt: number | null;
}

export const NO_ENERGY_OFFSET: EnergyOffset = {
  activeImportWh: 0,
  activeExportWh: 0,
  reactiveImportVarh: 0,
  reactiveExportVarh: 0,
  resetAt: null,
};

export const DEFAULT_DEVICE_CONFIG: DeviceConfig = {
  vtRatio: 1,
  ctRatio: 1,
  wordOrder: 'ABCD',
  unitId: 1,
  rtu: { baudRate: 19200, parity: 'even', stopBits: 1 },
  energyOffset: NO_ENERGY_OFFSET,
  meterSource: null,
};

export const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] as const;

/** Throws CoreError `invalid-setting` naming the first field out of range. */
export function validateDeviceConfig(config: DeviceConfig): DeviceConfig {
  const fail = (field: string, message: string): never => {
    throw new CoreError('invalid-setting', `${field}: ${message}`, { field });
  };
  const ratio = (field: 'vtRatio' | 'ctRatio') => {
    const value = config[field];
    if (!Number.isFinite(value) || value < 1 || value > 10000)
      fail(field, 'must be a number from 1 to 10000');
  };
  ratio('vtRatio');
  ratio('ctRatio');
  if (config.wordOrder !== 'ABCD' && config.wordOrder !== 'CDAB')
    fail('wordOrder', "must be 'ABCD' or 'CDAB'");
  if (!Number.isInteger(config.unitId) || config.unitId < 1 || config.unitId > 247) {
    fail('unitId', 'must be a whole number from 1 to 247');
  }
  if (!(BAUD_RATES as readonly number[]).includes(config.rtu.baudRate)) {
    fail('rtu.baudRate', `must be one of ${BAUD_RATES.join(', ')}`);
  }
  if (!['none', 'even', 'odd'].includes(config.rtu.parity))
    fail('rtu.parity', "must be 'none', 'even' or 'odd'");
  if (config.rtu.stopBits !== 1 && config.rtu.stopBits !== 2) fail('rtu.stopBits', 'must be 1 or 2');
  const offset = config.energyOffset;
  for (const field of [
    'activeImportWh',
    'activeExportWh',
    'reactiveImportVarh',
    'reactiveExportVarh',
  ] as const) {
    if (typeof offset?.[field] !== 'number' || !Number.isFinite(offset[field]) || offset[field] < 0) {
      fail(`energyOffset.${field}`, 'must be a number ≥ 0');
    }
  }
  if (offset.resetAt !== null && !Number.isFinite(offset.resetAt)) {
    fail('energyOffset.resetAt', 'must be a time or null');
  }
  if (
    config.meterSource !== null &&
    (typeof config.meterSource !== 'string' || config.meterSource === '' || config.meterSource.length > 1024)
  ) {
    fail('meterSource', 'must be a meter source (at most 1024 characters) or null');
  }
  return config;
}
