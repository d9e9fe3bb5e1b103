/**
 * Measurement and communication settings. Read-only without config.write; the Modbus principals can be
 * changed only with security.write as well, as the device enforces.
 */
import { allowed, call, ROUTES } from '../api.ts';
import { changes } from '../changed-fields.ts';
import { say } from '../error-messages.ts';
import { useSession } from '../session.ts';
import { Input, Loading, Section, Select, Submit, Toggle, useAction, useForm, useLoad } from '../ui.tsx';
import type { Slot } from './users-page.tsx';

interface Config {
  measurement: { vtRatio: number; ctRatio: number; wordOrder: string };
  communication: Record<string, unknown> & { rtu: Record<string, unknown> };
}

const BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200];

function SettingsForm(props: { config: Config; slots: Slot[] | null; onSaved(config: Config): void }) {
  const { me } = useSession();
  const form = useForm(props.config);
  const action = useAction();
  const editable = allowed(me, ROUTES.changeConfig.requires);
  const slots = (props.slots ?? [0, 1, 2, 3, 4, 5, 6, 7].map((slot) => ({ slot, name: null, type: 'user' })))
    .filter((s) => s.type !== 'empty')
    .map((s): [number, string] => [s.slot, `slot ${s.slot}${s.name ? `: ${s.name}` : ''}`]);
  const bound = { form, action };
  const principal = (path: string, label: string) => (
    <Select
      {...bound}
      path={path}
      label={label}
      hint="Whose permissions apply to requests without a login"
      options={slots}
      disabled={!allowed(me, ROUTES.changeEntry.requires)}
    />
  );
  return (
    <form
      aria-label="Settings"
      onSubmit={async (e) => {
        e.preventDefault();
        const body = changes(props.config, form.value);
        await action.run(
          async () => body && props.onSaved(await call<Config>(ROUTES.changeConfig, { body })),
          body ? 'Saved.' : say('nothingChanged'),
        );
      }}
    >
      <fieldset disabled={!editable} class="grid">
        <Section title="Measurement">
          <Input
            {...bound}
            path="measurement.vtRatio"
            label="VT ratio"
            hint="1–10000"
            type="number"
            step="any"
          />
          <Input
            {...bound}
            path="measurement.ctRatio"
            label="CT ratio"
            hint="1–10000"
            type="number"
            step="any"
          />
          <Select
            {...bound}
            path="measurement.wordOrder"
            label="Word order of 32-bit Modbus values"
            options={[
              ['ABCD', 'ABCD: high word first'],
              ['CDAB', 'CDAB: low word first'],
            ]}
          />
        </Section>
        <Section title="Modbus">
          <Toggle {...bound} path="communication.modbusTcp" label="Modbus TCP" />
          <Toggle {...bound} path="communication.modbusTls" label="Modbus/TCP Security (TLS)" />
          <Toggle {...bound} path="communication.modbusRtu" label="Modbus RTU" />
          <Input {...bound} path="communication.unitId" label="Unit id" hint="1–247" type="number" />
          {principal('communication.modbusSlot', 'Modbus TCP principal')}
          {principal('communication.rtuSlot', 'Modbus RTU principal')}
          <Select
            {...bound}
            path="communication.rtu.baudRate"
            label="RTU baud rate"
            options={BAUD_RATES.map((b) => [b, `${b} Bd`])}
          />
          <Select
            {...bound}
            path="communication.rtu.parity"
            label="RTU parity"
            options={['even', 'odd', 'none'].map((p) => [p, p])}
          />
          <Select
            {...bound}
            path="communication.rtu.stopBits"
            label="RTU stop bits"
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
          label="Save settings"
          busy="Saving…"
          fields={['measurement', 'communication']}
        />
      ) : (
        <p class="muted">Read only: changing settings needs config.write.</p>
      )}
    </form>
  );
}

export function SettingsPage() {
  const { me } = useSession();
  const config = useLoad(() => call<Config>(ROUTES.config), []);
  const users = useLoad(
    () =>
      allowed(me, ROUTES.users.requires) ? call<{ slots: Slot[] }>(ROUTES.users) : Promise.resolve(null),
    [],
  );
  if (!config.data) return <Loading error={config.error} />;
  return <SettingsForm config={config.data} slots={users.data?.slots ?? null} onSaved={config.setData} />;
}
