/** The own password: the forced change of the factory password and the Account page use this form. */
import { changeOwnPassword } from '../auth.ts';
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
      aria-label="Change password"
      onSubmit={async (e) => {
        e.preventDefault();
        const { current, password, repeat } = form.value;
        const ok = await action.run(async () => {
          if (password !== repeat) fail('repeat', 'The two new passwords differ.');
          await changeOwnPassword(me.name, current, password);
        }, 'Password changed.');
        if (ok) {
          form.set('', empty);
          await refresh();
        }
      }}
    >
      <h2>{props.forced ? 'Set a new password' : 'Change your password'}</h2>
      {props.forced && (
        <p class="notice" role="status">
          You logged in with the factory password: everything else is locked until you choose your own.
        </p>
      )}
      <Input {...bound} path="current" label="Current password" autocomplete="current-password" />
      <Input
        {...bound}
        path="password"
        label="New password"
        autocomplete="new-password"
        hint="At least 8 characters; not a common password, not like your user name."
      />
      <Input {...bound} path="repeat" label="Repeat the new password" autocomplete="new-password" />
      <Submit
        action={action}
        label="Change password"
        busy="Changing password…"
        fields={['current', 'password', 'repeat']}
      />
    </form>
  );
}
