/**
 * Text for a small character display: measured values with an SI prefix in a fixed number of
 * significant digits, label/value rows, word wrapping, and the lines of each measurement image.
 * ASCII only, as a serial text display shows it.
 */
import type { EnergyMeters, Measurements, MeterStatus } from '../meter/meter-source.ts';
import type { ImageId } from './menu-model.ts';

const PREFIXES = [
  { factor: 1e9, prefix: 'G' },
  { factor: 1e6, prefix: 'M' },
  { factor: 1e3, prefix: 'k' },
  { factor: 1, prefix: '' },
] as const;

/** `value` with an SI prefix and `significant` digits: 23012.4, 'V' → '23.01 kV'. */
export function formatQuantity(value: number, unit: string, significant = 5): string {
  if (!Number.isFinite(value)) return `--- ${unit}`;
  const magnitude = Math.abs(value);
  const { factor, prefix } = PREFIXES.find((p) => magnitude >= p.factor) ?? { factor: 1, prefix: '' };
  const scaled = value / factor;
  const integerDigits = Math.max(1, Math.floor(Math.log10(Math.abs(scaled) || 1)) + 1);
  const decimals = Math.max(0, significant - integerDigits);
  return `${scaled.toFixed(decimals)} ${prefix}${unit}`;
}

/** `label` on the left, `value` on the right of a `cols` wide row (wider when both do not fit). */
export function row(label: string, value: string, cols: number): string {
  const gap = cols - label.length - value.length;
  return gap >= 1 ? `${label}${' '.repeat(gap)}${value}` : `${label} ${value}`;
}

/**
 * `label` and `value` on one row when they fit, else the label on its line and the value wrapped
 * below it, indented by one space.
 */
export function field(label: string, value: string, cols: number): string[] {
  if (label.length + 1 + value.length <= cols) return [row(label, value, cols)];
  return [`${label}:`, ...wrapText(value, cols - 1).map((line) => ` ${line}`)];
}

/**
 * `name` in at most `room` characters: whole when it fits, else its start and `~` (the abbreviation
 * mark of short file names), so a cut name never reads as a whole one.
 */
export function fit(name: string, room: number): string {
  if (name.length <= room) return name;
  return room <= 1 ? '~'.slice(0, Math.max(0, room)) : `${name.slice(0, room - 1)}~`;
}

/**
 * Words wrapped into lines of at most `cols` characters. A word longer than a line is broken after a
 * `:` or `.` where it has one (addresses), else hyphenated, so no line ends in half a word unmarked.
 */
export function wrapText(text: string, cols: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      for (let rest = word; rest.length > 0; ) {
        const candidate = line ? `${line} ${rest}` : rest;
        if (candidate.length <= cols) {
          line = candidate;
          rest = '';
        } else if (line) {
          lines.push(line);
          line = '';
        } else {
          const head = breakWord(rest, cols);
          lines.push(head.line);
          rest = rest.slice(head.taken);
        }
      }
    }
    lines.push(line);
  }
  return lines;
}

/** The first line of a word longer than `cols`: up to its last `:` or `.` that fits, else hyphenated. */
function breakWord(word: string, cols: number): { line: string; taken: number } {
  const room = word.slice(0, cols);
  const at = Math.max(room.lastIndexOf(':'), room.lastIndexOf('.'));
  if (at > 0) return { line: word.slice(0, at + 1), taken: at + 1 };
  const taken = Math.max(1, cols - 1);
  return { line: `${word.slice(0, taken)}-`, taken };
}

/** The body lines of a measurement image (primary values). */
export function imageLines(
  id: ImageId,
  values: { measurements?: Measurements; meters?: EnergyMeters },
  cols: number,
): string[] {
  const m = values.measurements;
  const phases = (label: string, v: readonly number[] | undefined, unit: string, digits?: number) =>
    [0, 1, 2].map((i) =>
      row(`${label}${i + 1}`, v ? formatQuantity(v[i] as number, unit, digits) : '---', cols),
    );
  switch (id) {
    case 'voltage':
      return phases('U', m?.u, 'V');
    case 'current':
      return phases('I', m?.i, 'A', 4);
    case 'power':
      return [
        row('P', m ? formatQuantity(m.pTotal, 'W') : '---', cols),
        row('Q', m ? formatQuantity(m.qTotal, 'var') : '---', cols),
        row('S', m ? formatQuantity(m.sTotal, 'VA') : '---', cols),
        ...phases('P', m?.p, 'W'),
      ];
    case 'pf-frequency':
      return [
        ...[0, 1, 2].map((i) => row(`PF${i + 1}`, m ? fixed(m.pf[i] as number, 3) : '---', cols)),
        row('PF', m ? fixed(m.pfTotal, 3) : '---', cols),
        row('f', m ? `${fixed(m.f, 3)} Hz` : '---', cols),
      ];
    case 'energy': {
      const e = values.meters;
      const energy = (wh: number | undefined, unit: string) =>
        wh === undefined ? '---' : formatQuantity(wh, unit, 7);
      return [
        row('Imp', energy(e?.activeImportWh, 'Wh'), cols),
        row('Exp', energy(e?.activeExportWh, 'Wh'), cols),
        row('Imp', energy(e?.reactiveImportVarh, 'varh'), cols),
        row('Exp', energy(e?.reactiveExportVarh, 'varh'), cols),
      ];
    }
  }
}

/** A value with `decimals` decimals, or '---' when not available. */
function fixed(value: number, decimals: number): string {
  return Number.isFinite(value) ? value.toFixed(decimals) : '---';
}

/**
 * What a measurement image shows instead of values that are not current (UTC times), in at most
 * `body` lines: the full explanation where it fits, else `NO DATA: no answer` and since when.
 */
export function noDataLines(status: MeterStatus, cols: number, body = Number.POSITIVE_INFINITY): string[] {
  const time = (t: number) => `${new Date(t).toISOString().slice(11, 19)} UTC`;
  const times: string[] = [];
  if (status.state !== 'never-read') {
    if (status.staleSince !== null) times.push(...field('since', time(status.staleSince), cols));
    if (status.readAt !== null) times.push(...field('last read', time(status.readAt), cols));
  }
  const text =
    status.state === 'never-read' ? 'The meter has not answered since start.' : 'The meter does not answer.';
  const full = ['NO DATA', '', ...wrapText(text, cols), ...times];
  if (full.length <= body) return full;
  // The short form keeps when the values became stale, or else when they were last read.
  const since =
    status.state === 'never-read'
      ? 'since start'
      : status.staleSince !== null
        ? `since ${time(status.staleSince)}`
        : status.readAt !== null
          ? `read ${time(status.readAt)}`
          : '';
  return [...wrapText('NO DATA: no answer', cols), ...(since ? wrapText(since, cols) : [])];
}
