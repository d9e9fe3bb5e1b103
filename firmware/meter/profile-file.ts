/**
 * A meter profile file (YAML) read into a MeterProfile, or into problems that each name the file, the
 * line and the field. Pure: text in, profile or problems out. Every point is checked on its own (schema:
 * kinds, enumerations, ranges, the unit against the quantity) and against the others (a quantity
 * mapped twice, registers that overlap).
 *
 * `yaml` (eemeli/yaml) is used for its source positions: every node keeps its offset, so an error can
 * say which line it is about. It is loaded on the first profile parsed, not when the device starts.
 */
import type { LineCounter } from 'yaml';
import { z } from 'zod';
import { formatPath, locate, valueAt, yamlModule } from '../core/yaml-location.ts';
import {
  BYTE_ORDERS,
  ENCODING_WORDS,
  ENCODINGS,
  type MeterProfile,
  MODBUS_MAX_READ,
  type ProfilePoint,
  type ProfileProblem,
  QUANTITIES,
  QUANTITY_DIMENSION,
  type Quantity,
  UNITS,
  WORD_ORDERS,
} from './profile-model.ts';

/** The parser, loaded when the first profile is read (a device with `--meter sim` never needs it). */
const yaml = yamlModule;

const oneOf = (values: readonly string[]) => `expected one of ${values.join(', ')}`;

/** The fields of a point; all optional here, required ones are checked after `defaults` applied. */
const PointFields = {
  functionCode: z.union([z.literal(3), z.literal(4)], {
    error: 'expected 3 (holding registers) or 4 (input registers)',
  }),
  encoding: z.enum(ENCODINGS, { error: oneOf(ENCODINGS) }),
  scale: z
    .number({ error: 'expected a number (the factor a raw value is multiplied by, e.g. 0.1)' })
    .refine((n) => Number.isFinite(n) && n !== 0, 'must be a finite number other than 0'),
  exponent: z
    .number({ error: 'expected a whole number (the power of ten, e.g. -1 for tenths)' })
    .int('expected a whole number (the power of ten, e.g. -1 for tenths)')
    .min(-12, 'must be from -12 to 12')
    .max(12, 'must be from -12 to 12'),
  wordOrder: z.enum(WORD_ORDERS, { error: oneOf(WORD_ORDERS) }),
  byteOrder: z.enum(BYTE_ORDERS, { error: oneOf(BYTE_ORDERS) }),
};

const ADDRESS_RULE = 'expected a whole number from 0 to 65535 (the 0-based protocol address)';

const PointSchema = z.strictObject({
  quantity: z.enum(QUANTITIES, { error: oneOf(QUANTITIES) }),
  address: z.number({ error: ADDRESS_RULE }).int(ADDRESS_RULE).min(0, ADDRESS_RULE).max(65535, ADDRESS_RULE),
  words: z.union([z.literal(1), z.literal(2), z.literal(4)], { error: 'expected 1, 2 or 4' }).optional(),
  unit: z
    .string({ error: 'expected a unit such as V, kWh, var (in quotes if YAML reads it otherwise)' })
    .optional(),
  ...Object.fromEntries(Object.entries(PointFields).map(([k, v]) => [k, v.optional()])),
}) as unknown as z.ZodType<RawPoint>;

const DefaultsSchema = z.strictObject(
  Object.fromEntries(Object.entries(PointFields).map(([k, v]) => [k, v.optional()])),
) as unknown as z.ZodType<PointDefaults>;

interface PointDefaults {
  functionCode?: 3 | 4;
  encoding?: (typeof ENCODINGS)[number];
  scale?: number;
  exponent?: number;
  wordOrder?: (typeof WORD_ORDERS)[number];
  byteOrder?: (typeof BYTE_ORDERS)[number];
}
interface RawPoint extends PointDefaults {
  quantity: Quantity;
  address: number;
  words?: 1 | 2 | 4;
  unit?: string;
}

const NAME_RULE = 'expected lower-case letters, digits and dashes, e.g. my-meter';

const ProfileSchema = z.strictObject({
  name: z.string({ error: NAME_RULE }).regex(/^[a-z0-9][a-z0-9-]{0,63}$/, NAME_RULE),
  title: z.string({ error: 'expected a string' }).min(1, 'must not be empty'),
  source: z
    .string({ error: 'expected a string: where the register map comes from (document, version, URL)' })
    .min(1, 'must not be empty: say where the register map comes from (document, version, URL)'),
  primary: z.boolean({ error: 'expected true or false' }).optional(),
  maxGap: z
    .number({ error: 'expected a whole number from 0 to 125' })
    .int('expected a whole number from 0 to 125')
    .min(0, 'expected a whole number from 0 to 125')
    .max(MODBUS_MAX_READ, 'expected a whole number from 0 to 125')
    .optional(),
  maxWords: z
    .number({ error: 'expected a whole number from 4 to 125' })
    .int('expected a whole number from 4 to 125')
    .min(4, 'expected a whole number from 4 to 125')
    .max(MODBUS_MAX_READ, 'expected a whole number from 4 to 125')
    .optional(),
  defaults: DefaultsSchema.optional(),
  points: z
    .array(z.unknown(), { error: 'expected a list of points' })
    .min(1, 'a profile needs at least one point'),
});

export type ProfileParse =
  | { readonly ok: true; readonly profile: MeterProfile }
  | { readonly ok: false; readonly problems: readonly ProfileProblem[] };

/** Reads a profile from YAML text; `file` is how problems name it. Never throws for bad input. */
export function parseProfile(text: string, file: string): ProfileParse {
  const { parseDocument, LineCounter: Lines } = yaml();
  const lines: LineCounter = new Lines();
  const doc = parseDocument(text.replace(/^\uFEFF/, ''), {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const at = (offset: number) => lines.linePos(offset).line;
  const problems: ProfileProblem[] = [];
  if (doc.errors.length > 0) {
    return failed(
      doc.errors.map((e) => ({ file, line: at(e.pos[0]), field: '', message: firstLine(e.message) })),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return failed([{ file, line: 1, field: '', message: (error as Error).message }]);
  }
  const report = (path: readonly PropertyKey[], message: string) =>
    problems.push({ file, line: locate(doc, path, at), field: formatPath(path), message });
  const issues = (base: readonly PropertyKey[], error: z.ZodError, value: unknown) => {
    for (const issue of error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) report([...base, ...issue.path, key], `unknown field '${key}'`);
      } else {
        const path = [...base, ...issue.path];
        const missing = issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined;
        report(path, missing ? 'required' : issue.message);
      }
    }
  };

  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return failed([
      { file, line: 1, field: '', message: 'expected a mapping with name, title, source and points' },
    ]);
  }
  const top = ProfileSchema.safeParse(data);
  if (!top.success) issues([], top.error, data);
  const rawPoints = Array.isArray((data as { points?: unknown }).points)
    ? ((data as { points: unknown[] }).points as unknown[])
    : [];
  const defaults = top.success ? (top.data.defaults ?? {}) : {};

  const points: { point: ProfilePoint; index: number }[] = [];
  rawPoints.forEach((raw, index) => {
    const parsed = PointSchema.safeParse(raw);
    if (!parsed.success) {
      issues(['points', index], parsed.error, raw);
      return;
    }
    const point = completePoint(parsed.data, defaults, (field, message) =>
      report(['points', index, ...(field ? [field] : [])], message),
    );
    if (point) points.push({ point, index });
  });
  checkDuplicateQuantities(rawPoints, report);
  checkOverlaps(points, report);
  if (problems.length > 0 || !top.success) return failed(problems);

  const profile: MeterProfile = {
    name: top.data.name,
    title: top.data.title,
    source: top.data.source,
    primary: top.data.primary ?? false,
    maxGap: top.data.maxGap ?? 0,
    maxWords: top.data.maxWords ?? MODBUS_MAX_READ,
    points: points.map((p) => p.point),
  };
  return { ok: true, profile };
}

/** A point with `defaults` applied and its own rules checked; null (problems reported) when it fails. */
function completePoint(
  raw: RawPoint,
  defaults: PointDefaults,
  report: (field: string, message: string) => void,
): ProfilePoint | null {
  const merged = { ...defaults, ...raw };
  // scale and exponent are one setting: a point's own choice replaces the default's either way.
  if (raw.scale !== undefined || raw.exponent !== undefined) {
    merged.scale = raw.scale;
    merged.exponent = raw.exponent;
  }
  let ok = true;
  const fail = (field: string, message: string) => {
    report(field, message);
    ok = false;
  };
  if (merged.functionCode === undefined) fail('functionCode', 'required (here or in defaults)');
  if (merged.encoding === undefined) fail('encoding', 'required (here or in defaults)');
  if (raw.scale !== undefined && raw.exponent !== undefined)
    fail('scale', 'give scale or exponent, not both');
  if (!ok || merged.functionCode === undefined || merged.encoding === undefined) return null;

  const words = ENCODING_WORDS[merged.encoding];
  if (raw.words !== undefined && raw.words !== words) {
    fail('words', `${merged.encoding} takes ${words} register${words > 1 ? 's' : ''}, not ${raw.words}`);
  }
  if (raw.address + words - 1 > 65535) {
    fail('address', `${merged.encoding} at ${raw.address} runs past the last address, 65535`);
  }
  const dimension = QUANTITY_DIMENSION[raw.quantity];
  const units = UNITS[dimension];
  const unit = raw.unit ?? (dimension === 'power factor' ? '' : undefined);
  if (unit === undefined) {
    fail(
      'unit',
      `required: the unit the meter reports ${raw.quantity} in (${Object.keys(units).join(', ')})`,
    );
  } else if (!(unit in units)) {
    const known = Object.keys(units);
    fail(
      'unit',
      dimension === 'power factor'
        ? `a power factor has no unit; leave unit out`
        : `'${unit}' is not a unit of ${dimension} (${raw.quantity}); ${oneOf(known)}`,
    );
  }
  if (!ok || unit === undefined) return null;
  const scale = merged.exponent !== undefined ? 10 ** merged.exponent : (merged.scale ?? 1);
  return {
    quantity: raw.quantity,
    functionCode: merged.functionCode,
    address: raw.address,
    words,
    encoding: merged.encoding,
    scale,
    wordOrder: merged.wordOrder ?? 'msw-first',
    byteOrder: merged.byteOrder ?? 'msb-first',
    unit,
  };
}

/** A quantity mapped twice (judged on every point that names a quantity, valid or not). */
function checkDuplicateQuantities(
  rawPoints: readonly unknown[],
  report: (path: readonly PropertyKey[], message: string) => void,
): void {
  const seen = new Map<unknown, number>();
  rawPoints.forEach((raw, index) => {
    const quantity = (raw as { quantity?: unknown } | null)?.quantity;
    if (typeof quantity !== 'string' || !(QUANTITIES as readonly string[]).includes(quantity)) return;
    const first = seen.get(quantity);
    if (first !== undefined) {
      report(['points', index, 'quantity'], `${quantity} is already mapped by points[${first}]`);
    } else {
      seen.set(quantity, index);
    }
  });
}

/** Two points whose registers overlap (same function code). */
function checkOverlaps(
  points: readonly { point: ProfilePoint; index: number }[],
  report: (path: readonly PropertyKey[], message: string) => void,
): void {
  const sorted = [...points].sort(
    (a, b) =>
      a.point.functionCode - b.point.functionCode || a.point.address - b.point.address || a.index - b.index,
  );
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1];
    const cur = sorted[k];
    if (!prev || !cur || prev.point.functionCode !== cur.point.functionCode) continue;
    const prevEnd = prev.point.address + prev.point.words - 1;
    if (cur.point.address <= prevEnd) {
      const later = cur.index > prev.index ? cur : prev;
      const earlier = later === cur ? prev : cur;
      report(
        ['points', later.index, 'address'],
        `registers ${range(later.point)} overlap points[${earlier.index}] (${earlier.point.quantity}, ${range(earlier.point)}) with function code ${cur.point.functionCode}`,
      );
    }
  }
}

const range = (p: ProfilePoint) =>
  p.words === 1 ? `${p.address}` : `${p.address}–${p.address + p.words - 1}`;

function failed(problems: readonly ProfileProblem[]): ProfileParse {
  return { ok: false, problems: [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0)) };
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:$/, '');
}
