/**
 * Measurement and communication settings. Read-only without config.write; the Modbus principals can be
 * changed only with security.write as well, as the device enforces. Modbus has no login, so choosing
 * a principal that holds any permission that writes (the permission table's `writes`) first says that
 * every unauthenticated master gets those rights and asks to confirm; Modbus/TCP Security switched on
 * without a client CA says it will accept no client.
 */
import { useRef, useState } from 'preact/hooks';
import { allowed, call, ROUTES } from '../api.ts';
import { changes } from '../changed-fields.ts';
import { say } from '../error-messages.ts';
import { t } from '../i18n.ts';
import { useSession } from '../session.ts';
import {
  Confirm,
  type Form,
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
import type { Slot } from './users-page.tsx';

interface Config {
  measurement: { vtRatio: number; ctRatio: number; wordOrder: string };
  communication: Record<string, unknown> & { rtu: Record<string, unknown> };
}

const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200];

/** localgui (slot 1): what the display allows without login; the device refuses it as a principal. */
const LOCALGUI_SLOT = 1;

/** A chosen principal that would give unauthenticated Modbus masters rights to change the device. */
interface Asking {
  path: string;
  slot: number;
  question: string;
}

function SettingsForm(props: {
  config: Config;
  slots: Slot[] | null;
  /** Whether a Modbus/TCP Security client CA is installed; undefined: not known to this principal. */
  hasCa: boolean | undefined;
  onSaved(config: Config): void;
}) {
  const { me, table } = useSession();
  const form = useForm(props.config);
  const action = useAction();
  const [asking, setAsking] = useState<Asking | null>(null);
  const element = useRef<HTMLFormElement>(null);
  const editable = allowed(me, ROUTES.changeConfig.requires);
  const known = props.slots ?? [0, 1, 2, 3, 4, 5, 6, 7].map((slot) => ({ slot, name: null, type: 'user' }));
  const choices = (path: string) =>
    (known as Partial<Slot>[])
      .filter(
        (s) =>
          s.slot === form.get(path) ||
          (s.type !== 'empty' && s.slot !== LOCALGUI_SLOT && !s.flags?.includes('local-only')),
      )
      .map((s): [number, string] => [
        s.slot as number,
        `${t('slot {slot}', { slot: s.slot as number })}${s.name ? `: ${s.name}` : ''}`,
      ]);
  // Choosing a principal that may change the device waits for a confirmation; any other goes through.
  const guarded: Form<object> = {
    ...form,
    set(path, value) {
      const entry = props.slots?.find((s) => s.slot === value);
      const writes = table.permissions.filter((p) => p.writes && entry?.permissions.includes(p.name));
      if (!entry || writes.length === 0) return form.set(path, value);
      setAsking({
        path,
        slot: entry.slot,
        question: t(
          'Modbus has no login: every Modbus master that reaches the meter would act as {name} and could change the device: {rights}. Give these rights to every unauthenticated Modbus master?',
          { name: String(entry.name), rights: writes.map((p) => p.label).join(', ') },
        ),
      });
    },
  };
  const bound = { form, action };
  const principal = (path: string, label: string) => (
    <>
      <Select
        form={guarded}
        action={action}
        path={path}
        label={label}
        hint={t('Whose permissions apply to requests without a login')}
        options={choices(path)}
        disabled={!allowed(me, ROUTES.changeEntry.requires)}
      />
      {asking?.path === path && (
        <div class="notice">
          <Confirm
            question={asking.question}
            confirm={t('Yes, give these rights')}
            onConfirm={() => {
              form.set(path, asking.slot);
              setAsking(null);
            }}
            onCancel={() => {
              setAsking(null);
              (element.current?.elements.namedItem(path.split('.').pop() as string) as HTMLElement)?.focus();
            }}
          />
        </div>
      )}
    </>
  );
  return (
    <form
      ref={element}
      aria-label={t('Settings')}
      onSubmit={async (e) => {
        e.preventDefault();
        const body = changes(props.config, form.value);
        await action.run(
          async () => body && props.onSaved(await call<Config>(ROUTES.changeConfig, { body })),
          body ? t('Saved.') : say('nothingChanged'),
        );
      }}
    >
      <fieldset disabled={!editable} class="grid">
        <Section title={t('Measurement')}>
          <Input
            {...bound}
            path="measurement.vtRatio"
            label={t('VT ratio')}
            hint="1–10000"
            type="number"
            step="any"
          />
          <Input
            {...bound}
            path="measurement.ctRatio"
            label={t('CT ratio')}
            hint="1–10000"
            type="number"
            step="any"
          />
          <Select
            {...bound}
            path="measurement.wordOrder"
            label={t('Word order of 32-bit Modbus values')}
            options={[
              ['ABCD', t('ABCD: high word first')],
              ['CDAB', t('CDAB: low word first')],
            ]}
          />
        </Section>
        <Section title="Modbus">
          <Toggle {...bound} path="communication.modbusTcp" label="Modbus TCP" />
          <Toggle {...bound} path="communication.modbusTls" label="Modbus/TCP Security (TLS)" />
          {form.value.communication.modbusTls && props.hasCa === false && (
            <p class="notice" role="note">
              {t(
                'No client CA is installed: Modbus/TCP Security accepts no client until one is (Certificates page).',
              )}
            </p>
          )}
          <Toggle {...bound} path="communication.modbusRtu" label="Modbus RTU" />
          <Input {...bound} path="communication.unitId" label={t('Unit id')} hint="1–247" type="number" />
          {principal('communication.modbusSlot', t('Modbus TCP principal'))}
          {principal('communication.rtuSlot', t('Modbus RTU principal'))}
          <Select
            {...bound}
            path="communication.rtu.baudRate"
            label={t('RTU baud rate')}
            options={BAUD_RATES.map((b) => [b, `${b} Bd`])}
          />
          <Select
            {...bound}
            path="communication.rtu.parity"
            label={t('RTU parity')}
            options={[
              ['even', t('even')],
              ['odd', t('odd')],
              ['none', t('none')],
            ]}
          />
          <Select
            {...bound}
            path="communication.rtu.stopBits"
            label={t('RTU stop bits')}
            options={[
              [1, '1'],
              [2, '2'],
            ]}
          />
        </Section>
      </fieldset>
      {editable ? (
        <Submit
          action={action}
          label={t('Save settings')}
          busy={t('Saving…')}
          fields={['measurement', 'communication']}
        />
      ) : (
        <p class="muted">
          {t('Read only: changing settings needs {permission}.', { permission: 'config.write' })}
        </p>
      )}
    </form>
  );
}

export function SettingsPage() {
  const { me } = useSession();
  const config = useLoad(() => call<Config>(ROUTES.config), []);
  // Only what this principal may read: a request it may not make is an "access denied" event.
  const users = useLoad(
    () =>
      allowed(me, ROUTES.users.requires) ? call<{ slots: Slot[] }>(ROUTES.users) : Promise.resolve(null),
    [],
  );
  const ca = useLoad(
    () =>
      allowed(me, ROUTES.modbusCa.requires)
        ? call<{ ca: object | null }>(ROUTES.modbusCa)
        : Promise.resolve(null),
    [],
  );
  if (!config.data) return <Loading error={config.error} />;
  return (
    <SettingsForm
      config={config.data}
      slots={users.data?.slots ?? null}
      hasCa={ca.data ? ca.data.ca !== null : undefined}
      onSaved={config.setData}
    />
  );
}
