/**
 * The device status page (`#/status`, linked from the footer): firmware, uptime, bound ports, the
 * HTTPS certificate's validity and the store's health, from ROUTES.status (config.read),
 * refreshed every 10 s. Loaded on demand (its own chunk).
 */
import { call, ROUTES } from '../api.ts';
import { mark, t } from '../i18n.ts';
import { formatTime, Loading, Pairs, Section, useLoad } from '../ui.tsx';

interface Status {
  model: string;
  serialNumber: string;
  firmwareVersion: string;
  time: string;
  startedAt: string;
  uptimeSeconds: number;
  ports: Record<'http' | 'https' | 'modbusTcp' | 'modbusTls', number | null>;
  certificate: {
    source: string;
    subject: string;
    fingerprint256: string;
    validFrom: string;
    validTo: string;
    daysLeft: number;
    state: 'valid' | 'expiring' | 'expired' | 'not-yet-valid';
  };
  store: { state: 'ok' | 'degraded'; configuration: string; eventLog: string; degraded: string[] };
}

/** 93784 s → "1 d 2 h 3 min". */
function duration(seconds: number): string {
  const parts: [number, string][] = [
    [Math.floor(seconds / 86400), 'd'],
    [Math.floor(seconds / 3600) % 24, 'h'],
    [Math.floor(seconds / 60) % 60, 'min'],
  ];
  const text = parts
    .filter(([n]) => n > 0)
    .map(([n, unit]) => `${n} ${unit}`)
    .join(' ');
  return text || `${seconds} s`;
}

const port = (p: number | null) => (p === null ? t('off') : String(p));

const CERTIFICATE_STATE: Record<Status['certificate']['state'], string> = {
  valid: mark('valid'),
  expiring: mark('expires soon'),
  expired: mark('expired'),
  'not-yet-valid': mark('not valid yet'),
};

export function StatusPage() {
  const { data, error } = useLoad(() => call<Status>(ROUTES.status), [], 10_000);
  if (!data) return <Loading error={error} />;
  const { certificate, store } = data;
  const certificateOk = certificate.state === 'valid';
  return (
    <div class="grid">
      <Section title={t('Device')}>
        <Pairs
          rows={[
            [t('Model'), data.model],
            [t('Serial number'), data.serialNumber],
            [t('Firmware'), data.firmwareVersion],
            [t('Uptime'), <span data-status="uptime">{duration(data.uptimeSeconds)}</span>],
            [t('Started'), formatTime(data.startedAt)],
            [t('Device clock'), formatTime(data.time)],
          ]}
        />
      </Section>
      <Section title={t('Ports')}>
        <Pairs
          rows={[
            ['HTTP', port(data.ports.http)],
            ['HTTPS', port(data.ports.https)],
            ['Modbus TCP', port(data.ports.modbusTcp)],
            ['Modbus/TCP Security', port(data.ports.modbusTls)],
          ]}
        />
      </Section>
      <Section title={t('HTTPS certificate')}>
        <p class={certificateOk ? 'ok' : 'error'} data-status="certificate">
          {certificate.state === 'expired'
            ? t(CERTIFICATE_STATE[certificate.state])
            : t('{state}: {days} days left', {
                state: t(CERTIFICATE_STATE[certificate.state]),
                days: certificate.daysLeft,
              })}
        </p>
        <Pairs
          rows={[
            [t('Valid from'), formatTime(certificate.validFrom)],
            [t('Valid until'), formatTime(certificate.validTo)],
            [t('Subject'), certificate.subject],
            [t('Source'), certificate.source],
            ['SHA-256', <code>{certificate.fingerprint256}</code>],
          ]}
        />
      </Section>
      <Section title={t('Store')}>
        <p class={store.state === 'ok' ? 'ok' : 'error'} data-status="store">
          {store.state === 'ok' ? t('healthy') : t('degraded')}
        </p>
        <Pairs
          rows={[
            [t('Configuration'), store.configuration],
            [t('Event log'), store.eventLog],
          ]}
        />
        {store.degraded.length > 0 && (
          <ul>
            {store.degraded.map((text) => (
              <li>{text}</li>
            ))}
          </ul>
        )}
      </Section>
    </div>
  );
}
