/** The logged-in user's own account: the password change and logout. */
import { useSession } from '../session.ts';
import { PasswordForm } from './password-form.tsx';

export function AccountPage() {
  const { me } = useSession();
  return (
    <div class="grid">
      <section class="card narrow" aria-label="Account">
        <p>
          Logged in as <b>{me.name}</b> (slot {me.slot}). Permissions: {me.permissions.join(', ') || 'none'}.
        </p>
      </section>
      <PasswordForm />
    </div>
  );
}
