/**
 * Security settings: web access (plain HTTP, the device's host names), client whitelist, lockout
 * policy, password length, API keys over HTTP.
 */
import { allowed, call, ROUTES } from '../api.ts';
import { changes } from '../changed-fields.ts';
import { say } from '../error-messages.ts';
import { mark, t } from '../i18n.ts';
import { useSession } from '../session.ts';
import {
  Field,
  Input,
  Loading,
  Section,
  Select,
  Submit,
  Toggle,
  useAction,
  useForm,
  useLoad,
} from '../ui.tsx';

interface Security {
  passwordMinLength: number;
  lockout: Record<string, number>;
  whitelist: string[];
  apiKeysOverHttp: boolean;
  http: 'on' | 'redirect' | 'off';
  hostnames: string[];
}

const HTTP_MODES: [string, string][] = [
  ['on', mark('On: pages and API over plain HTTP too')],
  ['redirect', mark('Redirect: pages go to HTTPS, the API answers over HTTPS only')],
  ['off', mark('Off: plain HTTP is closed')],
];

const lines = (text: string) => text.split(/[\s,]+/).filter(Boolean);

const LOCKOUT: [string, string, string][] = [
  ['delayAfterFailures', mark('Slow down after this many failures'), mark('per user name and address')],
  ['baseDelayMs', mark('First delay (ms)'), mark('doubles with every further failure')],
  ['lockAfterFailures', mark('Lock after this many failures'), mark('per user name and address')],
  ['lockSeconds', mark('Lock duration (s)'), ''],
  [
    'accountLockAfterFailures',
    mark('Lock a name everywhere after'),
    mark('failures from all addresses together, at most 100'),
  ],
];

function SecurityForm(props: { settings: Security; onSaved(settings: Security): void }) {
  const { me } = useSession();
  const form = useForm({
    ...props.settings,
    whitelist: props.settings.whitelist.join('\n'),
    hostnames: props.settings.hostnames.join('\n'),
  });
  // Over plain HTTP the device refuses to switch HTTP away (it would cut this page off): say so here.
  const overHttp = location.protocol === 'http:';
  const action = useAction();
  const editable = allowed(me, ROUTES.changeSecurity.requires);
  const bound = { form, action };
  return (
    <form
      aria-label={t('Security settings')}
      onSubmit={async (e) => {
        e.preventDefault();
        const body = changes(props.settings, {
          ...form.value,
          whitelist: lines(form.value.whitelist),
          hostnames: lines(form.value.hostnames),
        });
        await action.run(
          async () => body && props.onSaved(await call<Security>(ROUTES.changeSecurity, { body })),
          body ? t('Saved.') : say('nothingChanged'),
        );
      }}
    >
      <fieldset disabled={!editable} class="grid">
        <Section title={t('Web access')}>
          <Select
            {...bound}
            path="http"
            label={t('Plain HTTP')}
            options={HTTP_MODES.map(([mode, text]) => [mode, t(text)])}
            disabled={!editable || overHttp}
            hint={
              overHttp
                ? t('You are connected over plain HTTP: open this page over HTTPS to change this.')
                : t('Redirect or off also tells browsers to use HTTPS only from now on (HSTS).')
            }
          />
          <Field
            label={t('Host names of this device, one per line')}
            error={action.on('hostnames')}
            hint={t(
              'The names people type in the browser (meter-17.plant.example). Its IP addresses and localhost always work; any other name is refused, so a web page cannot reach the device under a name of its own. At most 8.',
            )}
          >
            <textarea
              name="hostnames"
              rows={3}
              value={form.value.hostnames}
              onInput={(e) => form.set('hostnames', e.currentTarget.value)}
            />
          </Field>
        </Section>
        <Section title={t('Client whitelist')}>
          <Field
            label={t('Allowed client addresses, one per line')}
            error={action.on('whitelist')}
            hint={t(
              'IPv4 or IPv6 addresses or networks (192.168.1.0/24); at most 16. Empty: any address may connect. Applies to HTTP, HTTPS and Modbus TCP.',
            )}
          >
            <textarea
              name="whitelist"
              rows={5}
              value={form.value.whitelist}
              onInput={(e) => form.set('whitelist', e.currentTarget.value)}
            />
          </Field>
        </Section>
        <Section title={t('Login protection')}>
          {LOCKOUT.map(([key, label, hint]) => (
            <Input
              {...bound}
              path={`lockout.${key}`}
              label={t(label)}
              hint={hint && t(hint)}
              type="number"
              min={0}
            />
          ))}
          <Input
            {...bound}
            path="passwordMinLength"
            label={t('Minimum password length')}
            hint="8–64"
            type="number"
          />
          <Toggle
            {...bound}
            path="apiKeysOverHttp"
            label={t(
              'Accept API keys over plain HTTP (not recommended: the key crosses the network readably)',
            )}
          />
        </Section>
      </fieldset>
      {editable ? (
        <Submit
          action={action}
          label={t('Save security settings')}
          busy={t('Saving…')}
          fields={['whitelist', 'hostnames', 'http', 'lockout', 'passwordMinLength']}
        />
      ) : (
        <p class="muted">
          {t('Read only: changing security settings needs {permission}.', { permission: 'security.write' })}
        </p>
      )}
    </form>
  );
}

export function SecurityPage() {
  const { data, error, setData } = useLoad(() => call<Security>(ROUTES.security), []);
  return data ? <SecurityForm settings={data} onSaved={setData} /> : <Loading error={error} />;
}
