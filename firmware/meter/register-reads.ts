/**
 * From a profile to Modbus reads and back: `planReads` merges the points into as few block reads as
 * the meter allows, `decodeReadings` turns the words those reads returned into values in metergate's
 * base units. Pure; the poller does the I/O.
 */
import {
  type DecodeProblem,
  type MeterProfile,
  MODBUS_MAX_READ,
  type ProfilePoint,
  QUANTITY_DIMENSION,
  type Quantity,
  type ReadBlock,
  type Readings,
  UNITS,
} from './profile-model.ts';

export interface PlanOptions {
  /** Unmapped registers a block may span between two points; default: the profile's `maxGap` (0 unless it says). */
  readonly maxGap?: number;
  /** Longest block; default: the profile's `maxWords` (125 unless it says), never above 125. */
  readonly maxWords?: number;
}

/**
 * The reads to make, in address order per function code (3 before 4): consecutive points with the same
 * function code share a block while the gap between them is at most `maxGap` registers and the block
 * stays within `maxWords`.
 */
export function planReads(profile: MeterProfile, options: PlanOptions = {}): readonly ReadBlock[] {
  const maxGap = Math.max(0, options.maxGap ?? profile.maxGap);
  const maxWords = Math.min(MODBUS_MAX_READ, options.maxWords ?? profile.maxWords);
  const points = [...profile.points].sort((a, b) => a.functionCode - b.functionCode || a.address - b.address);
  const blocks: { functionCode: 3 | 4; address: number; count: number }[] = [];
  for (const point of points) {
    const last = blocks.at(-1);
    const end = point.address + point.words;
    if (
      last &&
      last.functionCode === point.functionCode &&
      point.address - (last.address + last.count) <= maxGap &&
      end - last.address <= maxWords
    ) {
      last.count = Math.max(last.count, end - last.address);
    } else {
      blocks.push({ functionCode: point.functionCode, address: point.address, count: point.words });
    }
  }
  return blocks;
}

/**
 * Values from the words each block returned (`words[k]` answers `blocks[k]`). A point no complete
 * block covers, or whose value is not a finite number (a float register holding NaN or infinity), is
 * left out and reported to `onProblem`: never a value invented.
 */
export function decodeReadings(
  profile: MeterProfile,
  blocks: readonly ReadBlock[],
  words: readonly Uint16Array[],
  onProblem?: (problem: DecodeProblem) => void,
): Readings {
  const readings: { [q in Quantity]?: number } = {};
  for (const point of profile.points) {
    const k = blocks.findIndex(
      (b) =>
        b.functionCode === point.functionCode &&
        b.address <= point.address &&
        point.address + point.words <= b.address + b.count,
    );
    const block = blocks[k];
    const returned = words[k];
    if (!block || !returned) {
      onProblem?.({ quantity: point.quantity, message: `no read covers ${describe(point)}` });
      continue;
    }
    const offset = point.address - block.address;
    if (returned.length < offset + point.words) {
      onProblem?.({
        quantity: point.quantity,
        message: `the read of ${block.count} registers at ${block.address} returned ${returned.length}`,
      });
      continue;
    }
    const value = decodePoint(point, returned.subarray(offset, offset + point.words));
    if (!Number.isFinite(value)) {
      onProblem?.({ quantity: point.quantity, message: `${describe(point)} holds ${value}` });
      continue;
    }
    readings[point.quantity] = value;
  }
  return readings;
}

/** One point's value in its base unit: raw × scale × the unit's factor. */
export function decodePoint(point: ProfilePoint, registers: Uint16Array): number {
  const bytes = new DataView(new ArrayBuffer(point.words * 2));
  for (let w = 0; w < point.words; w++) {
    const source = point.wordOrder === 'msw-first' ? w : point.words - 1 - w;
    let word = registers[source] ?? 0;
    if (point.byteOrder === 'lsb-first') word = ((word & 0xff) << 8) | (word >> 8);
    bytes.setUint16(w * 2, word);
  }
  const raw = rawValue(point, bytes);
  const factor = UNITS[QUANTITY_DIMENSION[point.quantity]][point.unit] ?? Number.NaN;
  return scaled(raw, point.scale * factor);
}

function rawValue(point: ProfilePoint, bytes: DataView): number {
  switch (point.encoding) {
    case 'float32':
      return bytes.getFloat32(0);
    case 'int16':
      return bytes.getInt16(0);
    case 'uint16':
      return bytes.getUint16(0);
    case 'int32':
      return bytes.getInt32(0);
    case 'uint32':
      return bytes.getUint32(0);
    case 'int64':
      return Number(bytes.getBigInt64(0));
    case 'uint64':
      return Number(bytes.getBigUint64(0));
  }
}

/**
 * raw × k, dividing when k is the reciprocal of a whole number: 2301 × 0.1 is 230.10000000000002, but
 * 2301 / 10 is 230.1, the value the meter meant.
 */
function scaled(raw: number, k: number): number {
  if (k !== 0 && Math.abs(k) < 1) {
    const divisor = Math.round(1 / k);
    if (Math.abs(1 / k - divisor) < 1e-9 * Math.abs(divisor)) return raw / divisor;
  }
  return raw * k;
}

function describe(point: ProfilePoint): string {
  return `${point.quantity} (${point.encoding} at ${point.address}, function code ${point.functionCode})`;
}
