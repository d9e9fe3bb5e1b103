/**
 * The published Modbus register map (shared/REGISTERS.md) as one declaration: address, count, type,
 * name, unit, the permission to read and to write, and the value range of writable registers.
 * docs/modbus.md is generated from this table and checked against it by a test, and the permission
 * matrix tests walk it. Reading and writing go through `modbus-gate.ts`, never around it.
 */
import type { DeviceConfig } from '../core/device-config.ts';
import type { PermissionName } from '../core/permission-table.ts';
import type { EnergyMeters, Measurements, MinMax } from '../meter/meter-source.ts';

export type RegisterType = 'float32' | 'uint64' | 'uint16' | 'string';

/** What a block's value is read from: a snapshot taken once per request. */
export interface RegisterSnapshot {
  readonly measurements: Measurements;
  readonly meters: EnergyMeters;
  readonly minMax: MinMax;
  readonly config: DeviceConfig;
  readonly serialNumber: string;
  readonly firmwareVersion: string;
}

/** A write to a block, decoded: a number (float32, uint16). */
export type WriteAction =
  | { readonly kind: 'command'; readonly command: 'meters.reset' | 'minmax.reset' }
  | { readonly kind: 'config'; readonly patch: Partial<DeviceConfig> };

export interface RegisterBlock {
  readonly address: number;
  readonly count: number;
  readonly type: RegisterType;
  readonly name: string;
  readonly unit: string;
  /** Permission to read; `public` for anyone; commands read as 0 for anyone. */
  readonly read: PermissionName | 'public';
  /** Permission to write; null = read-only (a write answers 0x01). */
  readonly write: PermissionName | null;
  /** Accepted values of a write, inclusive; outside → 0x03. */
  readonly range?: { readonly min: number; readonly max: number };
  /** The block's value from a snapshot (commands: 0). */
  readonly value: (s: RegisterSnapshot) => number | bigint | string;
  /** What writing `value` means (writable blocks only). */
  readonly onWrite?: (value: number) => WriteAction;
  /**
   * The value comes from the meter (a measurement or an energy register): while the meter's values
   * are not current (stale, never read) a read of the block answers 0x0B.
   */
  readonly fromMeter?: boolean;
}

/** The command value that triggers a reset (REGISTERS.md). */
export const COMMAND_MAGIC = 0x5aa5;

const measurement = (
  address: number,
  name: string,
  unit: string,
  value: RegisterBlock['value'],
  fromMeter = true,
): RegisterBlock => ({
  address,
  count: 2,
  type: 'float32',
  name,
  unit,
  read: 'measurements.read',
  write: null,
  value,
  fromMeter,
});

/** An energy register's value: whole units; one the meter does not have reads 0xFFFF FFFF FFFF FFFF. */
const energyValue = (wh: number): bigint =>
  Number.isFinite(wh) ? BigInt(Math.max(0, Math.floor(wh))) : NOT_AVAILABLE_U64;

/** What a uint64 register the meter does not have reads (a float32 reads a quiet NaN). */
export const NOT_AVAILABLE_U64 = 0xffff_ffff_ffff_ffffn;

const energy = (
  address: number,
  name: string,
  unit: string,
  value: RegisterBlock['value'],
): RegisterBlock => ({
  address,
  count: 4,
  type: 'uint64',
  name,
  unit,
  read: 'meters.read',
  write: null,
  value,
  fromMeter: true,
});

const command = (
  address: number,
  name: string,
  permission: 'meters.reset' | 'minmax.reset',
): RegisterBlock => ({
  address,
  count: 1,
  type: 'uint16',
  name,
  unit: '—',
  read: 'public',
  write: permission,
  range: { min: COMMAND_MAGIC, max: COMMAND_MAGIC },
  value: () => 0,
  onWrite: () => ({ kind: 'command', command: permission }),
});

const ratio = (address: number, name: string, field: 'vtRatio' | 'ctRatio'): RegisterBlock => ({
  address,
  count: 2,
  type: 'float32',
  name,
  unit: '—',
  read: 'config.read',
  write: 'config.write',
  range: { min: 1, max: 10000 },
  value: (s) => s.config[field],
  onWrite: (value) => ({ kind: 'config', patch: { [field]: value } }),
});

export const REGISTER_MAP: readonly RegisterBlock[] = [
  measurement(0, 'U1N voltage L1–N', 'V', (s) => s.measurements.u[0]),
  measurement(2, 'U2N voltage L2–N', 'V', (s) => s.measurements.u[1]),
  measurement(4, 'U3N voltage L3–N', 'V', (s) => s.measurements.u[2]),
  measurement(6, 'I1 current', 'A', (s) => s.measurements.i[0]),
  measurement(8, 'I2 current', 'A', (s) => s.measurements.i[1]),
  measurement(10, 'I3 current', 'A', (s) => s.measurements.i[2]),
  measurement(12, 'P total active power', 'W', (s) => s.measurements.pTotal),
  measurement(14, 'Q total reactive power', 'var', (s) => s.measurements.qTotal),
  measurement(16, 'S total apparent power', 'VA', (s) => s.measurements.sTotal),
  measurement(18, 'PF total power factor', '—', (s) => s.measurements.pfTotal),
  measurement(20, 'f frequency', 'Hz', (s) => s.measurements.f),
  energy(100, 'active energy import', 'Wh', (s) => energyValue(s.meters.activeImportWh)),
  energy(104, 'active energy export', 'Wh', (s) => energyValue(s.meters.activeExportWh)),
  energy(108, 'reactive energy import', 'varh', (s) => energyValue(s.meters.reactiveImportVarh)),
  energy(112, 'reactive energy export', 'varh', (s) => energyValue(s.meters.reactiveExportVarh)),
  // Min/max are metergate's own, from current values only: readable while the meter is stale.
  measurement(200, 'P max since reset', 'W', (s) => s.minMax.pMax, false),
  measurement(202, 'P min since reset', 'W', (s) => s.minMax.pMin, false),
  measurement(204, 'I max (any phase) since reset', 'A', (s) => s.minMax.iMax, false),
  command(300, 'command: write 0x5AA5 to reset energy meters', 'meters.reset'),
  command(301, 'command: write 0x5AA5 to reset min/max', 'minmax.reset'),
  ratio(400, 'VT ratio (primary/secondary)', 'vtRatio'),
  ratio(402, 'CT ratio', 'ctRatio'),
  {
    address: 404,
    count: 1,
    type: 'uint16',
    name: 'float word order: 0 = ABCD, 1 = CDAB',
    unit: '—',
    read: 'config.read',
    write: 'config.write',
    range: { min: 0, max: 1 },
    value: (s) => (s.config.wordOrder === 'CDAB' ? 1 : 0),
    onWrite: (value) => ({ kind: 'config', patch: { wordOrder: value === 1 ? 'CDAB' : 'ABCD' } }),
  },
  {
    address: 500,
    count: 8,
    type: 'string',
    name: 'serial number',
    unit: '—',
    read: 'public',
    write: null,
    value: (s) => s.serialNumber,
  },
  {
    address: 508,
    count: 8,
    type: 'string',
    name: 'firmware version',
    unit: '—',
    read: 'public',
    write: null,
    value: (s) => s.firmwareVersion,
  },
];

/** The block containing `address`, or undefined. */
export function blockAt(
  address: number,
  map: readonly RegisterBlock[] = REGISTER_MAP,
): RegisterBlock | undefined {
  return map.find((block) => address >= block.address && address < block.address + block.count);
}

/**
 * Four bytes to turn a float32 into its two registers and back. One for the module, not one per
 * call: a fresh ArrayBuffer per value made encoding most of a 22-register read's cost (issue 18).
 */
const FLOAT_BITS = new DataView(new ArrayBuffer(4));

/** Encodes a block's value into its registers (float32 word order as configured). */
export function encodeBlock(
  block: RegisterBlock,
  value: number | bigint | string,
  wordOrder: DeviceConfig['wordOrder'],
): number[] {
  switch (block.type) {
    case 'uint16':
      return [Number(value) & 0xffff];
    case 'float32': {
      FLOAT_BITS.setFloat32(0, Number(value));
      const high = FLOAT_BITS.getUint16(0);
      const low = FLOAT_BITS.getUint16(2);
      return wordOrder === 'CDAB' ? [low, high] : [high, low];
    }
    case 'uint64': {
      const v = BigInt.asUintN(64, BigInt(value));
      return [48n, 32n, 16n, 0n].map((shift) => Number((v >> shift) & 0xffffn));
    }
    case 'string': {
      const text = String(value);
      return Array.from({ length: block.count }, (_, i) => {
        const hi = text.charCodeAt(i * 2) || 0;
        const lo = text.charCodeAt(i * 2 + 1) || 0;
        return ((hi & 0x7f) << 8) | (lo & 0x7f);
      });
    }
  }
}

/** Decodes the registers written to a whole writable block (float32 by word order; uint16 as is). */
export function decodeBlock(
  block: RegisterBlock,
  registers: readonly number[],
  wordOrder: DeviceConfig['wordOrder'],
): number {
  if (block.type === 'uint16') return registers[0] as number;
  const [a, b] = registers as [number, number];
  const [high, low] = wordOrder === 'CDAB' ? [b, a] : [a, b];
  FLOAT_BITS.setUint16(0, high);
  FLOAT_BITS.setUint16(2, low);
  return FLOAT_BITS.getFloat32(0);
}
