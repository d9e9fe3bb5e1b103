/**
 * Live measurements per phase (refreshed every second without reloading), their trends, energy meters, min/max, and
 * the reset actions for those allowed to use them. Values that are not current (the upstream meter
 * does not answer) are not shown: the cards say there is no data, and since when.
 */
import { allowed, call, ROUTES, type Route } from '../api.ts';
import { formatEnergy } from '../energy-format.ts';
import { formatNumber, formatTimeOfDay, mark, t } from '../i18n.ts';
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
const TrendCard = lazy(() => import('./trend-card.tsx').then((m) => m.TrendCard), 'trend-card');

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
  return `${formatNumber(value / scale, digits)} ${prefix}${unit}`.trim();
}

const ROWS: [string, keyof Measurements, string, keyof Measurements['total'] | null, number][] = [
  [mark('Voltage U'), 'voltage', 'V', null, 1],
  [mark('Current I'), 'current', 'A', null, 3],
  [mark('Active power P'), 'activePower', 'W', 'activePower', 2],
  [mark('Reactive power Q'), 'reactivePower', 'var', 'reactivePower', 2],
  [mark('Apparent power S'), 'apparentPower', 'VA', 'apparentPower', 2],
  [mark('Power factor PF'), 'powerFactor', '', 'powerFactor', 3],
];

/** "No data" with since when, for values that are not current; nothing when they are. */
function NoData(props: { data: MeterState }) {
  const { state, staleSince, time } = props.data;
  if (state === 'fresh') return null;
  return (
    <p class="error" role="status" data-meter-state={state}>
      {state === 'never-read'
        ? t('No data: the meter has not answered since start')
        : t('No data: the meter does not answer')}
      {staleSince && ` ${t('since {time}', { time: formatTime(staleSince) })}`}
      {time && ` ${t('(last read {time})', { time: formatTime(time) })}`}.
    </p>
  );
}

function MeasurementsCard() {
  const { data, error } = useLoad(() => call<Measurements>(ROUTES.measurements), [], 1000);
  if (!data) return <Loading error={error} />;
  return (
    <Section title={t('Measurements')} wide>
      <NotUpdating error={error} />
      <NoData data={data} />
      <Table class="values" head={[t('Quantity'), 'L1', 'L2', 'L3', t('Total')]}>
        {ROWS.map(([label, key, unit, total, digits]) => (
          <tr>
            <th scope="row">{t(label)}</th>
            {(data[key] as Value[]).map((v, phase) => (
              <td data-value={`${key}.${phase}`}>{si(v, unit, digits)}</td>
            ))}
            <td data-value={`total.${key}`}>{total && si(data.total[total], unit, digits)}</td>
          </tr>
        ))}
      </Table>
      <p>
        {t('Frequency f:')} <b data-value="frequency">{si(data.frequency, 'Hz', 3)}</b>
      </p>
      <p class="muted">
        {data.state === 'fresh' && data.time
          ? t('Primary values, measured {time}', { time: formatTimeOfDay(new Date(data.time)) })
          : t('Primary values')}
      </p>
    </Section>
  );
}

/** A card of values, refreshed every 5 s, with its reset action for those allowed to use it. */
function ResetCard<T>(props: {
  title: string;
  /** The reset button's label. */
  label: string;
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
          label={props.label}
          question={props.question}
          confirm={t('Yes, reset')}
          busy={t('Resetting…')}
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
          title={t('Energy meters')}
          label={t('Reset energy meters')}
          load={ROUTES.meters}
          reset={ROUTES.resetMeters}
          question={t(
            'Set all four energy meters to zero? Their readings (active and reactive energy, import and export) are lost; this cannot be undone.',
          )}
          done={t('Energy meters reset.')}
          state={(m) => m}
          rows={(m) => [
            [t('Active energy import'), formatEnergy(m.activeImportWh)],
            [t('Active energy export'), formatEnergy(m.activeExportWh)],
            [t('Reactive energy import'), formatEnergy(m.reactiveImportVarh, 'varh')],
            [t('Reactive energy export'), formatEnergy(m.reactiveExportVarh, 'varh')],
            [t('Last reset'), m.resetAt ? formatTime(m.resetAt) : t('never')],
          ]}
        />
      )}
      {measurements && (
        <ResetCard<MinMax>
          title={t('Min/max values')}
          label={t('Reset min/max values')}
          load={ROUTES.minmax}
          reset={ROUTES.resetMinmax}
          question={t('Start minimum and maximum values afresh? The values recorded so far are lost.')}
          done={t('Min/max values reset.')}
          rows={(m) => [
            [t('Active power max'), si(m.activePowerMax, 'W')],
            [t('Active power min'), si(m.activePowerMin, 'W')],
            [t('Current max'), si(m.currentMax, 'A', 3)],
            [t('Since'), formatTime(m.since)],
          ]}
        />
      )}
    </div>
  );
}
