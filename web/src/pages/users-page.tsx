/**
 * The 8 slots at a glance, permissions as the permission table's labels; adding a user or an API key
 * and editing an entry (or the permissions of the standard users localgui and anonymous) in a dialog;
 * deleting and revoking in place. Read-only with security.read alone. From 360 px up without sideways
 * scrolling: below 40rem each row is a block of its own.
 */
import { useState } from 'preact/hooks';
import { allowed, call, ROUTES } from '../api.ts';
import { sealPassword } from '../crypto/password-proof.ts';
import { mark, t } from '../i18n.ts';
import { ModalDialog } from '../modal-dialog.tsx';
import { type PermissionTable, useSession } from '../session.ts';
import {
  type Action,
  Button,
  ConfirmButton,
  type Form,
  fail,
  Input,
  Loading,
  Section,
  Select,
  Toggle,
  useAction,
  useForm,
  useLoad,
} from '../ui.tsx';

export interface Slot {
  slot: number;
  type: string;
  name: string | null;
  permissions: string[];
  flags: string[];
}

const TYPE_NAMES: Record<string, string> = {
  user: mark('User'),
  'api-key': mark('API key'),
  standard: mark('Standard user'),
  empty: mark('Free'),
};

interface EntryForm {
  type: string;
  name: string;
  password: string;
  repeat: string;
  permissions: string[];
  localOnly: boolean;
  preset: string;
  role: string;
}

/** Checkboxes generated from the permission table; choosing a role template fills them in. */
function PermissionPicker(props: { form: Form<EntryForm>; error?: string | undefined }) {
  const { table } = useSession();
  const { form } = props;
  const chosen = form.value.permissions;
  return (
    <fieldset>
      <legend>{t('Permissions')}</legend>
      <Select
        form={form as Form<object>}
        path="role"
        label={t('Fill in from an IEC 62351-8 role')}
        options={[
          ['', t('choose a role…')],
          ...Object.entries(table.roles).map(([n, r]): [string, string] => [n, `${n}: ${r.description}`]),
        ]}
      />
      <div class="perm-picker">
        {table.permissions.map(({ name, label, description }) => (
          <label class="check" title={name}>
            <input
              type="checkbox"
              data-permission-name={name}
              checked={chosen.includes(name)}
              onChange={(e) =>
                form.set(
                  'permissions',
                  e.currentTarget.checked ? [...chosen, name] : chosen.filter((n) => n !== name),
                )
              }
            />{' '}
            <b>{label}</b> <small>{description}</small>
          </label>
        ))}
      </div>
      {props.error && (
        <span class="error" role="alert">
          {props.error}
        </span>
      )}
    </fieldset>
  );
}

/** Applies a chosen role template to the permission checkboxes, once. */
function useRoleFill(form: Form<EntryForm>): void {
  const { table } = useSession();
  const role = table.roles[form.value.role];
  if (role) form.set('', { ...form.value, role: '', permissions: [...role.permissions] });
}

/** Permission names as their labels, in table order. */
const labels = (table: PermissionTable, names: string[]) =>
  table.permissions
    .filter((p) => names.includes(p.name))
    .map((p) => p.label)
    .join(', ');

/** A slot's permissions as chips with the permission table's labels (the description on hover). */
function PermissionChips(props: { names: string[] }) {
  const { table } = useSession();
  const { names } = props;
  if (names.length === 0) return <span class="muted">{t('none')}</span>;
  const shown =
    names.length === table.permissions.length
      ? [{ name: 'all', label: t('All permissions'), description: '' }]
      : table.permissions.filter((p) => names.includes(p.name));
  return (
    <ul class="chips">
      {shown.map((p) => (
        <li title={p.description} data-permission={p.name}>
          {p.label}
        </li>
      ))}
    </ul>
  );
}

/** The API-key presets of the permission table, bound to `preset`, each with what it grants. */
export function PresetSelect(props: { form: Form<object>; action?: Action }) {
  const { table } = useSession();
  return (
    <Select
      {...props}
      path="preset"
      label={t('Preset')}
      options={Object.entries(table.presets).map(([id, names]) => [id, `${id}: ${labels(table, names)}`])}
    />
  );
}

/** A new API key, shown this once. */
function KeyReveal(props: { name: string; secret: string; onClose(): void }) {
  return (
    <section aria-label={t('New API key')}>
      <h3>{t('API key for {name}', { name: props.name })}</h3>
      <p class="notice">{t('Copy it now: the meter keeps only a hash of it and cannot show it again.')}</p>
      <input
        class="key"
        readOnly
        value={props.secret}
        aria-label={t('API key')}
        onFocus={(e) => e.currentTarget.select()}
      />
      <div class="actions">
        <Button
          label={t('Copy')}
          busy={t('Copying…')}
          done={t('Copied.')}
          run={() =>
            navigator.clipboard.writeText(props.secret).catch(() => {
              throw new Error(t('Copying is blocked here: select the key and copy it by hand.'));
            })
          }
        />
        <button type="button" class="secondary" onClick={props.onClose}>
          {t('I have stored it')}
        </button>
      </div>
    </section>
  );
}

/** The add form (slot undefined) and the edit form of one slot. */
function EntryEditor(props: {
  slot?: Slot;
  onDone(created?: { name: string; key: string }): void;
  onCancel(): void;
}) {
  const { table, info } = useSession();
  const { slot } = props;
  const form = useForm<EntryForm>({
    type: slot?.type ?? 'user',
    name: slot?.name ?? '',
    password: '',
    repeat: '',
    permissions: slot?.permissions ?? [...(table.roles.VIEWER?.permissions ?? [])],
    localOnly: slot?.flags.includes('local-only') ?? false,
    preset: 'read-only',
    role: '',
  });
  useRoleFill(form);
  const action = useAction();
  const v = form.value;
  const bound = { form: form as Form<object>, action };
  const user = v.type === 'user';
  return (
    <form
      aria-label={slot ? t('Edit {name}', { name: String(slot.name) }) : t('Add user or API key')}
      onSubmit={async (e) => {
        e.preventDefault();
        let created: { name: string; key: string } | undefined;
        const ok = await action.run(async () => {
          if (v.password !== v.repeat) fail('repeat', t('The two passwords differ.'));
          const password = v.password && sealPassword(info.deviceKey, v.name, v.password);
          if (!slot) {
            const body = user
              ? { type: 'user', name: v.name, password, permissions: v.permissions, localOnly: v.localOnly }
              : { type: 'api-key', name: v.name, preset: v.preset };
            const answer = await call<{ key?: string }>(ROUTES.addEntry, { body });
            if (answer.key) created = { name: v.name, key: answer.key };
            return;
          }
          const body: Record<string, unknown> = {};
          if (slot.type !== 'standard' && v.name !== slot.name) body.name = v.name;
          if (password) body.password = password;
          if ([...v.permissions].sort().join() !== [...slot.permissions].sort().join())
            body.permissions = v.permissions;
          if (user && v.localOnly !== slot.flags.includes('local-only')) body.localOnly = v.localOnly;
          await call(ROUTES.changeEntry, { slot: slot.slot, body });
        });
        if (ok) props.onDone(created);
      }}
    >
      {!slot && (
        <Select
          {...bound}
          path="type"
          label={t('Type')}
          options={[
            ['user', t('User: logs in with a password')],
            ['api-key', t('API key: for an application')],
          ]}
        />
      )}
      {v.type !== 'standard' && (
        <Input
          {...bound}
          path="name"
          label={t('Name')}
          hint={t('3–32 characters: letters, digits, _ and .')}
          required
        />
      )}
      {user && (
        <>
          <Input
            {...bound}
            path="password"
            label={slot ? t('New password (empty: keep)') : t('Password')}
            type="password"
            autocomplete="new-password"
            required={!slot}
          />
          <Input
            {...bound}
            path="repeat"
            label={t('Repeat the password')}
            type="password"
            autocomplete="new-password"
            required={!slot}
          />
        </>
      )}
      {slot || user ? (
        <PermissionPicker form={form} error={action.on('permissions')} />
      ) : (
        <PresetSelect {...bound} />
      )}
      {user && (
        <Toggle {...bound} path="localOnly" label={t("Local only: may log in only at the meter's display")} />
      )}
      <div class="actions">
        <Button
          action={action}
          label={slot ? t('Save') : user ? t('Add user') : t('Create API key')}
          busy={t('Saving…')}
          fields={['name', 'password', 'repeat', 'permissions', 'preset']}
        />
        <button type="button" class="secondary" onClick={props.onCancel}>
          {t('Cancel')}
        </button>
      </div>
    </form>
  );
}

function Actions(props: { slot: Slot; onEdit(): void; onDeleted(): Promise<void> }) {
  const { slot: s } = props;
  if (s.type === 'empty') return null;
  const key = s.type === 'api-key';
  return (
    <div class="actions">
      <button type="button" class="secondary" onClick={props.onEdit}>
        {s.type === 'standard' ? t('Permissions') : t('Edit')}
      </button>
      {s.slot >= 3 && (
        <Button
          class="secondary"
          label={s.flags.includes('disabled') ? 'Enable' : 'Disable'}
          busy="Saving…"
          run={async () => {
            await call(ROUTES.changeEntry, {
              slot: s.slot,
              body: { disabled: !s.flags.includes('disabled') },
            });
            await props.onDeleted();
          }}
        />
      )}
      {s.slot >= 3 && (
        <ConfirmButton
          label={key ? t('Revoke') : t('Delete')}
          question={
            key
              ? t(
                  'Revoke the key {name}? Applications using it lose access at once; the key cannot be restored.',
                  {
                    name: String(s.name),
                  },
                )
              : t("Delete {name}? The user's password and permissions are lost; this cannot be undone.", {
                  name: String(s.name),
                })
          }
          confirm={t('Yes')}
          busy={t('Deleting…')}
          done=""
          onConfirm={async () => {
            await call(ROUTES.deleteEntry, { slot: s.slot });
            await props.onDeleted();
          }}
        />
      )}
    </div>
  );
}

const COLUMNS = [mark('Slot'), mark('Name'), mark('Type'), mark('Permissions')];

/** What the dialog shows: the add form, the edit form of a slot, or a new key to copy. */
type Open = { add: true } | { slot: number } | { created: { name: string; key: string } };

export function UsersPage() {
  const { me, refresh } = useSession();
  const { data, error, reload } = useLoad(() => call<{ slots: Slot[] }>(ROUTES.users), []);
  const [open, setOpen] = useState<Open | null>(null);
  if (!data) return <Loading error={error} />;
  const writable = allowed(me, ROUTES.changeEntry.requires);
  // Asked again on every close: the table may have changed behind a refusal ("all slots are in use").
  const close = async () => {
    setOpen(null);
    await reload();
    await refresh();
  };
  const editSlot = open && 'slot' in open ? data.slots.find((s) => s.slot === open.slot) : undefined;
  const full = data.slots.every((s) => s.type !== 'empty');
  return (
    <Section title={t('Users and API keys')} wide>
      <table class="slots">
        <thead>
          <tr>{[...COLUMNS, writable && mark('Actions')].map((h) => h && <th scope="col">{t(h)}</th>)}</tr>
        </thead>
        <tbody>
          {data.slots.map((s) => (
            <tr key={s.slot} data-slot={s.slot}>
              <td data-label={t(COLUMNS[0] as string)}>{s.slot}</td>
              <td data-label={t(COLUMNS[1] as string)}>{s.name ?? '—'}</td>
              <td data-label={t(COLUMNS[2] as string)}>
                {t(TYPE_NAMES[s.type] ?? s.type)}
                {s.flags.includes('local-only') && ` ${t('(local only)')}`}
                {s.flags.includes('disabled') && ` ${t('(disabled)')}`}
              </td>
              <td data-label={t(COLUMNS[3] as string)} class="perms">
                {s.type !== 'empty' && <PermissionChips names={s.permissions} />}
              </td>
              {writable && (
                <td class="slot-actions">
                  <Actions slot={s} onEdit={() => setOpen({ slot: s.slot })} onDeleted={close} />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">
        {t(
          "{localgui} is what the meter's display may do without login, {anonymous} what this website and Modbus may do without login.",
        )
          .split(/\{(localgui|anonymous)\}/)
          .map((part, k) => (k % 2 ? <b>{part}</b> : part))}
      </p>
      {writable && (
        <div class="actions">
          <button type="button" disabled={full} onClick={() => setOpen({ add: true })}>
            {t('Add a user or API key')}
          </button>
          {full && <span>{t('All slots are in use: delete a user or revoke a key to add another.')}</span>}
        </div>
      )}
      {editSlot && (
        <ModalDialog title={t('Edit {name}', { name: String(editSlot.name) })} onClose={close}>
          <EntryEditor slot={editSlot} onDone={close} onCancel={close} />
        </ModalDialog>
      )}
      {open && 'add' in open && (
        <ModalDialog title={t('Add a user or API key')} onClose={close}>
          <EntryEditor onDone={(created) => (created ? setOpen({ created }) : close())} onCancel={close} />
        </ModalDialog>
      )}
      {open && 'created' in open && (
        <ModalDialog title={t('New API key')} onClose={close}>
          <KeyReveal name={open.created.name} secret={open.created.key} onClose={close} />
        </ModalDialog>
      )}
    </Section>
  );
}
