/**
 * Meter profiles: which registers of an upstream Modbus meter hold which quantity, how they are
 * encoded and in which unit. A profile is data (a YAML file, or one of the built-in profiles); this
 * module validates it, plans the block reads and decodes the words read into values in metergate's
 * base units. Pure: no sockets, no clocks (loading a user's profile file is the one file read).
 */

/** Every quantity a profile can map; units: V, A, W, var, VA, Hz, Wh, varh, power factor unitless. */
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

/** `msw-first`: the most significant word at the lower address (Modbus's own big-endian order). */
export type WordOrder = 'msw-first' | 'lsw-first';
/** `msb-first`: each 16-bit register big-endian, as Modbus specifies. */
export type ByteOrder = 'msb-first' | 'lsb-first';

export interface MeterProfile {
  readonly name: string;
  readonly title: string;
  /** Citation: document title, version or date, URL. */
  readonly source: string;
  /**
   * The meter reports primary values (its own CT/VT ratios configured): metergate's VT/CT ratios are
   * then not applied again.
   */
  readonly primary: boolean;
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
  /** The unit the meter reports in, as the profile says ('kWh', 'V', ...). */
  readonly unit: string;
}

export interface ReadBlock {
  readonly functionCode: 3 | 4;
  readonly address: number;
  readonly count: number;
}

export type Readings = { readonly [q in Quantity]?: number };

/** One problem in a profile file; `line` is 1-based, null when not known. */
export interface ProfileProblem {
  readonly file: string;
  readonly line: number | null;
  /** `points[3].encoding`; empty for the file as a whole. */
  readonly field: string;
  readonly message: string;
}

/** A profile that cannot be used; the message lists every problem as `file:line: field: message`. */
export class ProfileError extends Error {
  override readonly name = 'ProfileError';
  readonly code = 'invalid-profile';
  constructor(readonly problems: readonly ProfileProblem[]) {
    super(problems.map(formatProfileProblem).join('\n'));
  }
}

export function formatProfileProblem(p: ProfileProblem): string {
  const where = p.line === null ? p.file : `${p.file}:${p.line}`;
  return `${where}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

/** The names `loadProfile` accepts besides a file path. */
export const BUILT_IN_PROFILES: readonly string[] = [
  'eastron-sdm630',
  'eastron-sdm72d-m',
  'carlo-gavazzi-em24',
  'metergate',
];

/** Built-in name or a file path (YAML); throws ProfileError whose message names file, line and field. */
export function loadProfile(nameOrPath: string): MeterProfile {
  throw new Error(`not yet: loadProfile(${nameOrPath})`);
}

/** The reads to make: points merged into blocks (same function code, gaps ≤ maxGap, ≤ 125 words). */
export function planReads(profile: MeterProfile, options?: { maxGap?: number }): readonly ReadBlock[] {
  void profile;
  void options;
  throw new Error('not yet: planReads');
}

/** A value decoding left out (NaN or infinite float, a point no block covers). */
export interface DecodeProblem {
  readonly quantity: Quantity;
  readonly message: string;
}

/**
 * Values (in base units, as the meter reports them) from the words the blocks returned, in planReads
 * order. A value that is not a finite number is left out, never invented; `onProblem` hears why.
 */
export function decodeReadings(
  profile: MeterProfile,
  blocks: readonly ReadBlock[],
  words: readonly Uint16Array[],
  onProblem?: (problem: DecodeProblem) => void,
): Readings {
  void profile;
  void blocks;
  void words;
  void onProblem;
  throw new Error('not yet: decodeReadings');
}
