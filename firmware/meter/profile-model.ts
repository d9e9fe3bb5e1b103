/**
 * What a meter profile is, as data: the quantities metergate knows, the register encodings, the word
 * and byte orders and the units a profile may state (each with its factor to metergate's base unit).
 * Shared by the profile parser (profile-file.ts) and the decoder (register-decoding.ts); the public
 * face is meter-profile.ts.
 */

/** Every quantity a profile can map; base units V, A, W, var, VA, Hz, Wh, varh; power factors unitless. */
export const QUANTITIES = [
  'u1',
  'u2',
  'u3',
  'i1',
  'i2',
  'i3',
  'p1',
  'p2',
  'p3',
  'q1',
  'q2',
  'q3',
  's1',
  's2',
  's3',
  'pf1',
  'pf2',
  'pf3',
  'pTotal',
  'qTotal',
  'sTotal',
  'pfTotal',
  'f',
  'activeImportWh',
  'activeExportWh',
  'reactiveImportVarh',
  'reactiveExportVarh',
] as const;
export type Quantity = (typeof QUANTITIES)[number];

export const ENCODINGS = ['float32', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** Registers each encoding occupies. */
export const ENCODING_WORDS: Readonly<Record<Encoding, 1 | 2 | 4>> = {
  float32: 2,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  int64: 4,
  uint64: 4,
};

/** `msw-first`: the most significant word at the lower address (Modbus's own big-endian order). */
export const WORD_ORDERS = ['msw-first', 'lsw-first'] as const;
export type WordOrder = (typeof WORD_ORDERS)[number];
/** `msb-first`: each 16-bit register big-endian, as the Modbus specification has it. */
export const BYTE_ORDERS = ['msb-first', 'lsb-first'] as const;
export type ByteOrder = (typeof BYTE_ORDERS)[number];

/** The Modbus PDU limit for one read (FC3/FC4): 125 registers. */
export const MODBUS_MAX_READ = 125;

export interface MeterProfile {
  readonly name: string;
  readonly title: string;
  /** Citation: document title, version or date, URL. */
  readonly source: string;
  /**
   * The meter reports primary values (its own CT/VT ratios configured, or another metergate):
   * metergate's VT/CT ratios are then not applied again.
   */
  readonly primary: boolean;
  /** Registers the meter lets a read skip (reserved ones it answers with zeros); 0 = none. */
  readonly maxGap: number;
  /** Most registers the meter answers in one read (Eastron SDM630: 80); at most 125. */
  readonly maxWords: number;
  readonly points: readonly ProfilePoint[];
}

export interface ProfilePoint {
  readonly quantity: Quantity;
  readonly functionCode: 3 | 4;
  /** 0-based protocol address (register 30001 is input register address 0). */
  readonly address: number;
  readonly words: 1 | 2 | 4;
  readonly encoding: Encoding;
  /** The raw value is multiplied by this (0.1 for a register in tenths) before the unit conversion. */
  readonly scale: number;
  readonly wordOrder: WordOrder;
  readonly byteOrder: ByteOrder;
  /** The unit the meter reports in, as the profile says ('kWh', 'V', '' for a power factor). */
  readonly unit: string;
}

export interface ReadBlock {
  readonly functionCode: 3 | 4;
  readonly address: number;
  readonly count: number;
}

export type Readings = { readonly [q in Quantity]?: number };

/** A value decoding left out (NaN or infinite float, a block that came back short). */
export interface DecodeProblem {
  readonly quantity: Quantity;
  readonly message: string;
}

type Dimension =
  | 'voltage'
  | 'current'
  | 'active power'
  | 'reactive power'
  | 'apparent power'
  | 'power factor'
  | 'frequency'
  | 'active energy'
  | 'reactive energy';

/** What each quantity measures. */
export const QUANTITY_DIMENSION: Readonly<Record<Quantity, Dimension>> = {
  u1: 'voltage',
  u2: 'voltage',
  u3: 'voltage',
  i1: 'current',
  i2: 'current',
  i3: 'current',
  p1: 'active power',
  p2: 'active power',
  p3: 'active power',
  pTotal: 'active power',
  q1: 'reactive power',
  q2: 'reactive power',
  q3: 'reactive power',
  qTotal: 'reactive power',
  s1: 'apparent power',
  s2: 'apparent power',
  s3: 'apparent power',
  sTotal: 'apparent power',
  pf1: 'power factor',
  pf2: 'power factor',
  pf3: 'power factor',
  pfTotal: 'power factor',
  f: 'frequency',
  activeImportWh: 'active energy',
  activeExportWh: 'active energy',
  reactiveImportVarh: 'reactive energy',
  reactiveExportVarh: 'reactive energy',
};

/** The units a profile may state for each dimension, with the factor to the base unit (listed first). */
export const UNITS: Readonly<Record<Dimension, Readonly<Record<string, number>>>> = {
  voltage: { V: 1, mV: 1e-3, kV: 1e3 },
  current: { A: 1, mA: 1e-3, kA: 1e3 },
  'active power': { W: 1, kW: 1e3, MW: 1e6 },
  'reactive power': { var: 1, kvar: 1e3, Mvar: 1e6 },
  'apparent power': { VA: 1, kVA: 1e3, MVA: 1e6 },
  // A power factor has no unit; '' (or leaving `unit` out) says so.
  'power factor': { '': 1 },
  frequency: { Hz: 1, mHz: 1e-3 },
  'active energy': { Wh: 1, kWh: 1e3, MWh: 1e6 },
  'reactive energy': { varh: 1, kvarh: 1e3, Mvarh: 1e6 },
};

/** One problem in a profile file; `line` is 1-based, null when not known. */
export interface ProfileProblem {
  readonly file: string;
  readonly line: number | null;
  /** `points[3].encoding`; empty for the file as a whole. */
  readonly field: string;
  readonly message: string;
}

/** `sdm.yaml:12: points[3].encoding: expected one of float32, int16, …`. */
export function formatProfileProblem(p: ProfileProblem): string {
  const where = p.line === null ? p.file : `${p.file}:${p.line}`;
  return `${where}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

/** A profile that cannot be used; the message lists every problem, one a line, file:line: field: message. */
export class ProfileError extends Error {
  override readonly name = 'ProfileError';
  readonly code = 'invalid-profile';
  constructor(readonly problems: readonly ProfileProblem[]) {
    super(problems.map(formatProfileProblem).join('\n'));
  }
}
