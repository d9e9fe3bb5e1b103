/**
 * The security event log: newest first, paged, filterable by type, and as a CSV download (every event
 * of the chosen type). When events were lost since the log
 * was last read (the device's answer says so once: reading is acknowledging), a notice says how many.
 */
import { useEffect, useState } from 'preact/hooks';
import { call, ROUTES } from '../api.ts';
import { t } from '../i18n.ts';
import { Field, formatTime, Loading, Section, Table, useLoad } from '../ui.tsx';

interface SecurityEvent {
  id: number;
  time: string;
  type: string;
  interface: string;
  result: string;
  slot?: number;
  /** A Modbus/TCP Security certificate's role (no slot then). */
  role?: string;
  source?: string;
  detail?: string;
}

/** Events lost since the log was last read (IEC 62443-4-2 CR 2.9). */
interface LostEntries {
  since: string;
  count: number;
  overwritten: number;
  summarized: number;
}

const PAGE_SIZE = 25;
/** Event type prefixes (the device filters by prefix). */
const TYPES = [
  'login',
  'logout',
  'password',
  'user',
  'apikey',
  'entry',
  'settings',
  'communication',
  'config',
  'meters',
  'minmax',
  'access',
  'modbus',
  'tls',
  'registry',
  'audit',
  'boot',
];

export function EventsPage() {
  const [type, setType] = useState('');
  // Each page is fetched with `before` = the `next` of the page before it; the stack allows going back.
  const [pages, setPages] = useState<(number | undefined)[]>([undefined]);
  const before = pages[pages.length - 1];
  const { data, error } = useLoad(
    () =>
      call<{ events: SecurityEvent[]; next: number | null; lost: LostEntries | null }>(ROUTES.audit, {
        query: { limit: PAGE_SIZE, before, type },
      }),
    [before, type],
  );
  // Only the first answer after a loss carries it: keep it while the page is open.
  const [lost, setLost] = useState<LostEntries | null>(null);
  useEffect(() => {
    if (data?.lost) setLost(data.lost);
  }, [data]);
  return (
    <Section title={t('Security event log')}>
      {lost && (
        <p class="notice" role="alert">
          {t(
            '{count} events lost since the log was last read (from {since}): {overwritten} overwritten before being read, {summarized} refusals only counted in summary events (type audit.summary).',
            {
              count: lost.count,
              since: formatTime(lost.since),
              overwritten: lost.overwritten,
              summarized: lost.summarized,
            },
          )}
        </p>
      )}
      <div class="actions">
        <Field label={t('Type')}>
          <select
            name="type"
            value={type}
            onChange={(e) => {
              setType(e.currentTarget.value);
              setPages([undefined]);
            }}
          >
            <option value="">{t('all events')}</option>
            {TYPES.map((prefix) => (
              <option value={prefix}>{prefix}</option>
            ))}
          </select>
        </Field>
        <button
          type="button"
          class="secondary"
          disabled={pages.length < 2}
          onClick={() => setPages(pages.slice(0, -1))}
        >
          {t('Newer')}
        </button>
        <button
          type="button"
          class="secondary"
          disabled={!data?.next}
          onClick={() => data?.next && setPages([...pages, data.next])}
        >
          {t('Older')}
        </button>
        <a
          class="button secondary"
          href={`${ROUTES.audit.path}?format=csv${type ? `&type=${encodeURIComponent(type)}` : ''}`}
          download
        >
          {t('Download CSV')}
        </a>
      </div>
      {data ? (
        <Table
          head={[t('Time'), t('Event'), t('Result'), t('Via'), t('From'), t('Slot / role'), t('Detail')]}
        >
          {data.events.map((e) => (
            <tr key={e.id} class={e.result === 'ok' ? '' : 'failed'}>
              <td>{formatTime(e.time)}</td>
              <td>{e.type}</td>
              <td>{e.result}</td>
              <td>{e.interface}</td>
              <td>{e.source ?? ''}</td>
              <td>{e.slot ?? e.role ?? ''}</td>
              <td>{e.detail ?? ''}</td>
            </tr>
          ))}
        </Table>
      ) : (
        <Loading error={error} />
      )}
      {data?.events.length === 0 && <p class="muted">{t('No events.')}</p>}
      <p class="muted">{t('Page {number}', { number: pages.length })}</p>
    </Section>
  );
}
