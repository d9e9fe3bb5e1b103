/**
 * Login with the challenge-response of docs/auth-protocol.md; the key is derived in the browser (over
 * plain HTTP in a Web Worker, with its progress shown). A session that ended elsewhere is said here.
 */
import { useState } from 'preact/hooks';
import { login } from '../auth.ts';
import { t } from '../i18n.ts';
import { useSession } from '../session.ts';
import { Input, Submit, useAction, useForm } from '../ui.tsx';

export function LoginPage() {
  const { refresh, ended } = useSession();
  const form = useForm({ username: '', password: '' });
  const action = useAction();
  const [progress, setProgress] = useState<number | null>(null);
  return (
    <form
      class="card narrow"
      aria-label={t('Log in')}
      onSubmit={async (e) => {
        e.preventDefault();
        const { username, password } = form.value;
        form.set('password', '');
        setProgress(null);
        // The app lands the new principal on its first permitted page once it knows who that is.
        if (await action.run(() => login(username, password, setProgress))) await refresh();
      }}
    >
      {ended && !action.pending && (
        <p class="notice" role="alert">
          {ended}
        </p>
      )}
      <Input
        form={form}
        action={action}
        path="username"
        label={t('User name')}
        autocomplete="username"
        required
      />
      <Input
        form={form}
        path="password"
        label={t('Password')}
        type="password"
        autocomplete="current-password"
        required
      />
      <Submit action={action} label={t('Log in')} busy={t('Checking password…')} fields={['username']} />
      {action.pending && (
        <progress aria-label={t('Checking password…')} max={1} value={progress ?? undefined}>
          {progress === null ? '' : `${Math.round(progress * 100)} %`}
        </progress>
      )}
      <p class="muted">{t('The password never leaves this browser: it only signs a one-time challenge.')}</p>
    </form>
  );
}
