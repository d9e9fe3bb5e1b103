/** The logged-in user's own account: the password change and logout. */
import { t } from '../i18n.ts';
import { useSession } from '../session.ts';
import { PasswordForm } from './password-form.tsx';

export function AccountPage() {
  const { me } = useSession();
  return (
    <div class="grid">
      <section class="card narrow" aria-label={t('Account')}>
        <p>
          {t('Logged in as {name} (slot {slot}).', { name: me.name, slot: me.slot })}{' '}
          {t('Permissions: {list}.', { list: me.permissions.join(', ') || t('none') })}
        </p>
      </section>
      <PasswordForm />
    </div>
  );
}
