/**
 * Backup and restore of the security settings (ROUTES.backup, ROUTES.restore; docs/operations.md,
 * Backups): a backup sealed with a passphrase, downloaded as a file; a restore from such a file, which
 * ends every session (this one too) and makes the device serve the backup's certificate. HTTPS only.
 */
import { useState } from 'preact/hooks';
import { call, ROUTES } from '../api.ts';
import { t } from '../i18n.ts';
import { useSession } from '../session.ts';
import { Field, fail, Section, Submit, useAction } from '../ui.tsx';

/** The device's own rule, checked here first so a typo costs no round trip. */
const MIN_PASSPHRASE = 12;

function BackupForm() {
  const [passphrase, setPassphrase] = useState('');
  const [repeat, setRepeat] = useState('');
  const action = useAction();
  return (
    <form
      aria-label={t('Make a backup')}
      onSubmit={async (e) => {
        e.preventDefault();
        await action.run(async () => {
          if ([...passphrase].length < MIN_PASSPHRASE)
            fail('passphrase', t('Enter at least {0} characters.', { 0: MIN_PASSPHRASE }));
          if (repeat !== passphrase) fail('repeat', t('The two passphrases differ.'));
          const made = await call<{ fileName: string; backup: string }>(ROUTES.backup, {
            body: { passphrase },
          });
          const bytes = Uint8Array.from(atob(made.backup), (c) => c.charCodeAt(0));
          const link = document.createElement('a');
          link.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
          link.download = made.fileName;
          link.click();
          URL.revokeObjectURL(link.href);
          setPassphrase('');
          setRepeat('');
        }, t('Backup downloaded. Keep the passphrase apart from the file.'));
      }}
    >
      <Field
        label={t('Passphrase')}
        hint={t('Enter at least {0} characters.', { 0: MIN_PASSPHRASE })}
        error={action.on('passphrase')}
      >
        <input
          type="password"
          name="passphrase"
          autocomplete="new-password"
          value={passphrase}
          onInput={(e) => setPassphrase(e.currentTarget.value)}
        />
      </Field>
      <Field label={t('Repeat the passphrase')} error={action.on('repeat')}>
        <input
          type="password"
          name="repeat"
          autocomplete="new-password"
          value={repeat}
          onInput={(e) => setRepeat(e.currentTarget.value)}
        />
      </Field>
      <Submit
        action={action}
        label={t('Download backup')}
        busy={t('Sealing…')}
        fields={['passphrase', 'repeat']}
      />
    </form>
  );
}

function RestoreForm() {
  const { refresh } = useSession();
  const [file, setFile] = useState<File | null>(null);
  const [passphrase, setPassphrase] = useState('');
  const action = useAction();
  return (
    <form
      aria-label={t('Restore a backup')}
      onSubmit={async (e) => {
        e.preventDefault();
        const ok = await action.run(async () => {
          if (!file) fail('backup', t('Choose the backup file.'));
          const bytes = new Uint8Array(await file.arrayBuffer());
          const backup = btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));
          await call(ROUTES.restore, { body: { passphrase, backup } });
        });
        setPassphrase('');
        // Every session ended, this one too: the page goes back to the login.
        if (ok) await refresh();
      }}
    >
      <p class="notice">
        {t(
          "A restore replaces every user, password, API key, permission, security setting and certificate of this device with the backup's, and ends every session, yours too.",
        )}
      </p>
      <Field label={t('Backup file')} error={action.on('backup')}>
        <input
          type="file"
          name="backup"
          accept=".mgbackup"
          onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
        />
      </Field>
      <Field label={t('Passphrase')} error={action.on('passphrase')}>
        <input
          type="password"
          name="restore-passphrase"
          autocomplete="off"
          value={passphrase}
          onInput={(e) => setPassphrase(e.currentTarget.value)}
        />
      </Field>
      <Submit
        action={action}
        label={t('Restore backup')}
        busy={t('Restoring…')}
        fields={['backup', 'passphrase']}
      />
    </form>
  );
}

export function BackupPage() {
  if (location.protocol !== 'https:') {
    return (
      <div class="grid">
        <Section title={t('Backup and restore')}>
          <p class="notice">
            {t("Backups are made and restored over HTTPS only: they hold the device's secrets.")}
          </p>
        </Section>
      </div>
    );
  }
  return (
    <div class="grid">
      <Section title={t('Make a backup')}>
        <p class="muted">
          {t(
            'Users and their password verifiers, API-key hashes, permissions, security settings and certificates, encrypted with a passphrase you choose. Restore it here or on a replacement meter.',
          )}
        </p>
        <BackupForm />
      </Section>
      <Section title={t('Restore a backup')}>
        <RestoreForm />
      </Section>
    </div>
  );
}
