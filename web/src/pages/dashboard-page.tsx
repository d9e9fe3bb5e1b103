/**
 * Live measurements per phase (refreshed every second without reloading), their trends, energy meters, min/max, and
 * the reset actions for those allowed to use them. Values that are not current (the upstream meter
 * does not answer) are not shown: the cards say there is no data, and since when.
 */
import { allowed, call, ROUTES, type Route } from '../api.ts';
import { formatEnergy } from '../energy-format.ts';
import { useSession } from '../session.ts';
import {
  ConfirmButton,
  formatTime,
  Loading,
  lazy,
  NotUpdating,
  Pairs,
  Section,
  Table,
  useLoad,
} from '../ui.tsx';

/** The trend chart is a chunk of its own, loaded once the dashboard shows (scripts/build.mjs). */
const TrendCard = lazy(() => import('./trend-card.tsx').then((m) => m.TrendCard));

/** null: not available, or not current (see `state`). */
type Value = number | null;

/** Whether the values are current (docs/rest-api.md). */
interface MeterState {
  state: 'fresh' | 'stale' | 'never-read';
  staleSince: string | null;
  time: string | null;
}

interface Measurements extends MeterState {
  voltage: Value[];
  current: Value[];
  activePower: Value[];
  reactivePower: Value[];
  apparentPower: Value[];
  powerFactor: Value[];
  total: { activePower: Value; reactivePower: Value; apparentPower: Value; powerFactor: Value };
  frequency: Value;
}

interface Meters extends MeterState {
  activeImportWh: Value;
  activeExportWh: Value;
  reactiveImportVarh: Value;
  reactiveExportVarh: Value;
  resetAt: string | null;
}

interface MinMax {
  activePowerMax: Value;
  activePowerMin: Value;
  currentMax: Value;
  since: string;
}

/** A value with an SI prefix: 12 345 W → "12.35 kW"; without a unit, the number alone; "—" when none. */
function si(value: Value, unit: string, digits = 2): string {
  if (value === null || !Number.isFinite(value)) return '—';
  const size = Math.abs(value);
  const [scale, prefix] = size >= 1e6 ? [1e6, 'M'] : size >= 1e3 ? [1e3, 'k'] : [1, ''];
  return `${(value / scale).toFixed(digits)} ${prefix}${unit}`.trim();
}

const ROWS: [string, keyof Measurements, string, keyof Measurements['total'] | null, number][] = [
  ['Voltage U', 'voltage', 'V', null, 1],
  ['Current I', 'current', 'A', null, 3],
  ['Active power P', 'activePower', 'W', 'activePower', 2],
  ['Reactive power Q', 'reactivePower', 'var', 'reactivePower', 2],
  ['Apparent power S', 'apparentPower', 'VA', 'apparentPower', 2],
  ['Power factor PF', 'powerFactor', '', 'powerFactor', 3],
];

/** "No data" with since when, for values that are not current; nothing when they are. */
function NoData(props: { data: MeterState }) {
  const { state, staleSince, time } = props.data;
  if (state === 'fresh') return null;
  return (
    <p class="error" role="status" data-meter-state={state}>
      No data:{' '}
      {state === 'never-read' ? 'the meter has not answered since start' : 'the meter does not answer'}
      {staleSince && ` since ${formatTime(staleSince)}`}
      {time && ` (last read ${formatTime(time)})`}.
    </p>
  );
}

function MeasurementsCard() {
  const { data, error } = useLoad(() => call<Measurements>(ROUTES.measurements), [], 1000);
  if (!data) return <Loading error={error} />;
  return (
    <Section title="Measurements" wide>
      <NotUpdating error={error} />
      <NoData data={data} />
      <Table class="values" head={['Quantity', 'L1', 'L2', 'L3', 'Total']}>
        {ROWS.map(([label, key, unit, total, digits]) => (
          <tr>
            <th scope="row">{label}</th>
            {(data[key] as Value[]).map((v, phase) => (
              <td data-value={`${key}.${phase}`}>{si(v, unit, digits)}</td>
            ))}
            <td data-value={`total.${key}`}>{total && si(data.total[total], unit, digits)}</td>
          </tr>
        ))}
      </Table>
      <p>
        Frequency f: <b data-value="frequency">{si(data.frequency, 'Hz', 3)}</b>
      </p>
      <p class="muted">
        Primary values
        {data.state === 'fresh' && data.time && `, measured ${new Date(data.time).toLocaleTimeString()}`}
      </p>
    </Section>
  );
}

/** A card of values, refreshed every 5 s, with its reset action for those allowed to use it. */
function ResetCard<T>(props: {
  title: string;
  load: Route;
  reset: Route;
  rows(data: T): [string, string][];
  question: string;
  done: string;
  /** The values' state, for a card of values from the meter. */
  state?(data: T): MeterState;
}) {
  const { me } = useSession();
  const { data, error, reload } = useLoad(() => call<T>(props.load), [], 5000);
  if (!data) return <Loading error={error} />;
  return (
    <Section title={props.title}>
      <NotUpdating error={error} />
      {props.state && <NoData data={props.state(data)} />}
      <Pairs rows={props.rows(data)} />
      {allowed(me, props.reset.requires) && (
        <ConfirmButton
          label={`Reset ${props.title.toLowerCase()}`}
          question={props.question}
          confirm="Yes, reset"
          busy="Resetting…"
          done={props.done}
          onConfirm={async () => {
            await call(props.reset);
            await reload();
          }}
        />
      )}
    </Section>
  );
}

export function DashboardPage() {
  const { me } = useSession();
  const measurements = allowed(me, ROUTES.measurements.requires);
  return (
    <div class="grid">
      {measurements && <MeasurementsCard />}
      {measurements && <TrendCard />}
      {allowed(me, ROUTES.meters.requires) && (
        <ResetCard<Meters>
          title="Energy meters"
          load={ROUTES.meters}
          reset={ROUTES.resetMeters}
          question="Set all four energy meters to zero? Their readings (active and reactive energy, import and export) are lost; this cannot be undone."
          done="Energy meters reset."
          state={(m) => m}
          rows={(m) => [
            ['Active energy import', formatEnergy(m.activeImportWh)],
            ['Active energy export', formatEnergy(m.activeExportWh)],
            ['Reactive energy import', formatEnergy(m.reactiveImportVarh, 'varh')],
            ['Reactive energy export', formatEnergy(m.reactiveExportVarh, 'varh')],
            ['Last reset', m.resetAt ? formatTime(m.resetAt) : 'never'],
          ]}
        />
      )}
      {measurements && (
        <ResetCard<MinMax>
          title="Min/max values"
          load={ROUTES.minmax}
          reset={ROUTES.resetMinmax}
          question="Start minimum and maximum values afresh? The values recorded so far are lost."
          done="Min/max values reset."
          rows={(m) => [
            ['Active power max', si(m.activePowerMax, 'W')],
            ['Active power min', si(m.activePowerMin, 'W')],
            ['Current max', si(m.currentMax, 'A', 3)],
            ['Since', formatTime(m.since)],
          ]}
        />
      )}
    </div>
  );
}
