/** Login with the challenge-response of docs/auth-protocol.md; the key is derived in the browser. */
import { login } from '../auth.ts';
import { useSession } from '../session.ts';
import { Input, Submit, useAction, useForm } from '../ui.tsx';

export function LoginPage() {
  const { refresh } = useSession();
  const form = useForm({ username: '', password: '' });
  const action = useAction();
  return (
    <form
      class="card narrow"
      aria-label="Log in"
      onSubmit={async (e) => {
        e.preventDefault();
        const { username, password } = form.value;
        form.set('password', '');
        if (await action.run(() => login(username, password))) {
          location.hash = '#/';
          await refresh();
        }
      }}
    >
      <h2>Log in</h2>
      <Input form={form} action={action} path="username" label="User name" autocomplete="username" required />
      <Input
        form={form}
        path="password"
        label="Password"
        type="password"
        autocomplete="current-password"
        required
      />
      <Submit action={action} label="Log in" busy="Checking password…" fields={['username']} />
      <p class="muted">The password never leaves this browser: it only signs a one-time challenge.</p>
    </form>
  );
}
