/**
 * Energy as a meter's display shows it: kWh, or MWh / GWh from a thousand of the smaller unit on,
 * always with three decimals (a resolution of 1 Wh, 1 kWh or 1 MWh), never in Wh with decimals no
 * meter counts ("0.500 Wh"). The decimal separator follows the language (web/src/i18n.ts).
 */
import { formatNumber } from './i18n.ts';

/** [scale, prefix], largest first; below the last, kWh. */
const LARGER: [number, string][] = [
  [1e9, 'G'],
  [1e6, 'M'],
];

/** `wh` in Wh (or varh with `unit` 'varh') as "12.345 kWh", "1.235 MWh"; "—" when there is none. */
export function formatEnergy(wh: number | null, unit = 'Wh'): string {
  if (wh === null || !Number.isFinite(wh)) return '—';
  const [scale, prefix] = LARGER.find(([size]) => Math.abs(wh) >= size) ?? [1e3, 'k'];
  return `${formatNumber(wh / scale, 3)} ${prefix}${unit}`;
}
