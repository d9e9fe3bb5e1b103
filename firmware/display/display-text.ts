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

/** `label` on the left, `value` on the right of a `cols` wide row. */
export function row(label: string, value: string, cols: number): string {
  const gap = cols - label.length - value.length;
  return gap >= 1 ? `${label}${' '.repeat(gap)}${value}` : `${label} ${value}`.slice(0, cols);
}

/** Words wrapped into lines of at most `cols` characters; a longer word is cut. */
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
          lines.push(rest.slice(0, cols));
          rest = rest.slice(cols);
        }
      }
    }
    lines.push(line);
  }
  return lines;
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

/** What a measurement image shows instead of values that are not current (UTC times). */
export function noDataLines(status: MeterStatus, cols: number): string[] {
  const time = (t: number) => new Date(t).toISOString().slice(11, 19);
  const lines = ['NO DATA', ''];
  if (status.state === 'never-read') {
    lines.push(...wrapText('The meter has not answered since start.', cols));
  } else {
    lines.push(...wrapText('The meter does not answer.', cols));
    if (status.staleSince !== null) lines.push(row('since', `${time(status.staleSince)} UTC`, cols));
    if (status.readAt !== null) lines.push(row('last read', `${time(status.readAt)} UTC`, cols));
  }
  return lines;
}
