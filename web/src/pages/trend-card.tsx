/**
 * The dashboard's trend card: U and I per phase and the total active power over the last 10 minutes
 * (1 s values) or 24 hours (1 min averages), from the device's history (docs/rest-api.md, Measurement
 * history), drawn as inline SVG. A step without a value is a gap in the line, never bridged. Loaded on
 * demand (its own chunk), with a link to the same history as CSV.
 */
import { useState } from 'preact/hooks';
import { call, ROUTES } from '../api.ts';
import { formatNumber, formatTimeOfDay, mark, t } from '../i18n.ts';
import { Loading, NotUpdating, Section, useLoad } from '../ui.tsx';

type Value = number | null;

interface HistoryPoint {
  time: string;
  voltage: Value[];
  current: Value[];
  activePower: Value[];
  totalActivePower: Value;
}

interface History {
  resolution: '1s' | '1min';
  intervalSeconds: number;
  points: HistoryPoint[];
}

interface Range {
  label: string;
  resolution: History['resolution'];
  /** The span the chart's time axis covers. */
  spanMs: number;
  everyMs: number;
}

const RANGES: Range[] = [
  { label: '10 min', resolution: '1s', spanMs: 600_000, everyMs: 5000 },
  { label: '24 h', resolution: '1min', spanMs: 86_400_000, everyMs: 60_000 },
];

interface Line {
  name: string;
  /** CSS class giving its colour. */
  kind: 'l1' | 'l2' | 'l3' | 'total';
  value(point: HistoryPoint): Value;
}

const phases = (field: 'voltage' | 'current'): Line[] =>
  (['l1', 'l2', 'l3'] as const).map((kind, k) => ({
    name: `L${k + 1}`,
    kind,
    value: (p) => p[field][k] ?? null,
  }));

const CHARTS: { title: string; unit: string; lines: Line[] }[] = [
  { title: mark('Voltage U'), unit: 'V', lines: phases('voltage') },
  { title: mark('Current I'), unit: 'A', lines: phases('current') },
  {
    title: mark('Active power P'),
    unit: 'W',
    lines: [{ name: 'Total', kind: 'total', value: (p) => p.totalActivePower }],
  },
];

const WIDTH = 600;
const HEIGHT = 120;

/**
 * The SVG path of `values` at `xs`: a subpath per run of values, so a gap stays open; a lone value is
 * a dot (a zero-length line with round caps). Also how many values and runs it drew.
 */
export function tracePath(
  xs: readonly number[],
  values: readonly Value[],
  y: (v: number) => number,
): { d: string; points: number; runs: number } {
  let d = '';
  let points = 0;
  let runs = 0;
  let run = 0;
  values.forEach((v, k) => {
    if (v === null) {
      if (run === 1) d += 'h0';
      run = 0;
      return;
    }
    d += `${run === 0 ? 'M' : 'L'}${(xs[k] as number).toFixed(1)},${y(v).toFixed(1)}`;
    if (run === 0) runs++;
    run++;
    points++;
  });
  if (run === 1) d += 'h0';
  return { d, points, runs };
}

/** `v` with four significant digits, as the language writes numbers (toPrecision(4), localised). */
const precise = (v: number) =>
  formatNumber(v, Math.min(20, Math.max(0, 3 - Math.floor(Math.log10(Math.abs(v) || 1)))));

const format = (v: number, unit: string) =>
  `${Math.abs(v) >= 1000 ? `${precise(v / 1000)} k` : `${precise(v)} `}${unit}`;

function Chart(props: { history: History; range: Range; chart: (typeof CHARTS)[number] }) {
  const { history, range, chart } = props;
  const points = history.points;
  const times = points.map((p) => Date.parse(p.time));
  const end = times.at(-1) ?? 0;
  const start = end - range.spanMs + history.intervalSeconds * 1000;
  const xs = times.map((t) => ((t - start) / (end - start)) * WIDTH);
  const all = chart.lines.flatMap((line) => points.map(line.value)).filter((v): v is number => v !== null);
  const low = Math.min(...all);
  const high = Math.max(...all);
  // A flat line sits in the middle rather than on an edge.
  const pad = high > low ? (high - low) * 0.05 : Math.abs(high) * 0.01 || 1;
  const [min, max] = [low - pad, high + pad];
  const y = (v: number) => HEIGHT - ((v - min) / (max - min)) * HEIGHT;
  const title = t(chart.title);
  const label = t('{chart}, last {range}', { chart: title, range: range.label });
  return (
    <figure class="trend">
      <figcaption>
        <b>{title}</b>
        <span class="muted">
          {all.length ? `${format(low, chart.unit)} – ${format(high, chart.unit)}` : t('no values')}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={
          all.length
            ? `${label}: ${t('{low} to {high}', { low: format(low, chart.unit), high: format(high, chart.unit) })}`
            : `${label}: ${t('no values')}`
        }
        data-chart={chart.unit}
        data-from={points[0]?.time}
        data-to={points.at(-1)?.time}
      >
        {all.length > 0 &&
          chart.lines.map((line) => {
            const path = tracePath(xs, points.map(line.value), y);
            return (
              <path
                class={line.kind}
                d={path.d}
                data-series={line.name}
                data-points={path.points}
                data-runs={path.runs}
              />
            );
          })}
      </svg>
      <div class="axis muted">
        <span>{formatTimeOfDay(new Date(start))}</span>
        <span>{formatTimeOfDay(new Date(end))}</span>
      </div>
    </figure>
  );
}

export function TrendCard() {
  const [range, setRange] = useState(RANGES[0] as Range);
  const { data, error } = useLoad(
    () => call<History>(ROUTES.history, { query: { resolution: range.resolution } }),
    [range],
    range.everyMs,
  );
  const shown = data?.resolution === range.resolution ? data : null;
  return (
    <Section title={t('Trends')} wide>
      {/* Lines already drawn stay, marked as not current, like every other card. */}
      {shown && <NotUpdating error={error} />}
      <div class="actions">
        {RANGES.map((r) => (
          <button
            type="button"
            class={r === range ? '' : 'secondary'}
            aria-pressed={r === range}
            onClick={() => setRange(r)}
          >
            {r.label}
          </button>
        ))}
        <a
          class="button secondary"
          href={`${ROUTES.history.path}?resolution=${range.resolution}&format=csv`}
          download
        >
          {t('Download CSV')}
        </a>
        <span class="legend">
          {(['L1', 'L2', 'L3', 'Total'] as const).map((name) => (
            <span class={name.toLowerCase()}>{t(name)}</span>
          ))}
        </span>
      </div>
      {shown ? (
        shown.points.length === 0 ? (
          <p class="muted">{t('No history yet: the meter records one value a second from its start.')}</p>
        ) : (
          <div class="trends">
            {CHARTS.map((chart) => (
              <Chart history={shown} range={range} chart={chart} />
            ))}
          </div>
        )
      ) : (
        <Loading error={error} />
      )}
      <p class="muted">
        {range.resolution === '1s'
          ? t('Values of each second; a gap: no current value (the meter did not answer).')
          : t('Averages of each minute; a gap: no current value (the meter did not answer).')}
      </p>
    </Section>
  );
}
