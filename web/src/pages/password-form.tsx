/** The own password: the forced change of the factory password and the Account page use this form. */
import { changeOwnPassword } from '../auth.ts';
import { t } from '../i18n.ts';
import { useSession } from '../session.ts';
import { fail, Input, Submit, useAction, useForm } from '../ui.tsx';

export function PasswordForm(props: { forced?: boolean }) {
  const { me, refresh } = useSession();
  const empty = { current: '', password: '', repeat: '' };
  const form = useForm(empty);
  const action = useAction();
  const bound = { form, action, type: 'password', required: true } as const;
  return (
    <form
      class="card narrow"
      aria-label={t('Change password')}
      onSubmit={async (e) => {
        e.preventDefault();
        const { current, password, repeat } = form.value;
        const ok = await action.run(async () => {
          if (password !== repeat) fail('repeat', t('The two new passwords differ.'));
          await changeOwnPassword(me.name, current, password);
        }, t('Password changed.'));
        if (ok) {
          form.set('', empty);
          await refresh();
        }
      }}
    >
      <h2>{props.forced ? t('Set a new password') : t('Change your password')}</h2>
      {props.forced && (
        <p class="notice" role="status">
          {t('You logged in with the factory password: everything else is locked until you choose your own.')}
        </p>
      )}
      <Input {...bound} path="current" label={t('Current password')} autocomplete="current-password" />
      <Input
        {...bound}
        path="password"
        label={t('New password')}
        autocomplete="new-password"
        hint={t('At least 8 characters; not a common password, not like your user name.')}
      />
      <Input {...bound} path="repeat" label={t('Repeat the new password')} autocomplete="new-password" />
      <Submit
        action={action}
        label={t('Change password')}
        busy={t('Changing password…')}
        fields={['current', 'password', 'repeat']}
      />
    </form>
  );
}
