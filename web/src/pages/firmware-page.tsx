/**
 * The firmware (docs/updates.md): what runs, what it falls back to, the last update's result, and the
 * upload of a signed update bundle (HTTPS only, `service`), installed at once or at the next restart.
 */
import { useState } from 'preact/hooks';
import { call, ROUTES } from '../api.ts';
import { t } from '../i18n.ts';
import { Field, formatTime, Loading, Pairs, Section, Submit, useAction, useLoad } from '../ui.tsx';

interface SlotInfo {
  slot: string;
  version: string | null;
  signed: boolean;
}

interface FirmwareStatus {
  managed: boolean;
  built: string;
  running?: SlotInfo | null;
  previous?: SlotInfo | null;
  trial?: { version: string; state: string } | null;
  pending?: boolean;
  floor?: string | null;
  lastResult?: { result: string; version: string | null; code?: string; reason?: string; at: string } | null;
}

const slotText = (slot: SlotInfo | null | undefined) => {
  if (!slot) return t('none');
  const values = { version: slot.version ?? t('unknown'), slot: slot.slot };
  return slot.signed
    ? t('{version} (slot {slot}, signed bundle)', values)
    : t('{version} (slot {slot}, installed from a checkout)', values);
};

function Upload(props: { onDone(): void }) {
  const [file, setFile] = useState<File | null>(null);
  const [later, setLater] = useState(false);
  const action = useAction();
  if (location.protocol !== 'https:') {
    return <p class="notice">{t('A firmware update can be uploaded only over HTTPS.')}</p>;
  }
  return (
    <form
      aria-label={t('Upload firmware update')}
      onSubmit={async (e) => {
        e.preventDefault();
        if (!file) return;
        const ok = await action.run(
          () =>
            call<{ version: string; restart: boolean }>(ROUTES.uploadFirmware, {
              body: file,
              query: { restart: later ? 'later' : undefined },
            }),
          later
            ? t('Accepted: it is installed at the next restart.')
            : t('Accepted: the meter restarts and installs it; reload this page in a minute.'),
        );
        if (ok) props.onDone();
      }}
    >
      <Field
        label={t('Update bundle')}
        error={action.on('bundle')}
        hint={t('A signed .mgb file from the vendor')}
      >
        <input
          type="file"
          name="bundle"
          accept=".mgb"
          onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
        />
      </Field>
      <label>
        <input type="checkbox" checked={later} onChange={(e) => setLater(e.currentTarget.checked)} />{' '}
        {t('Install at the next restart, not now')}
      </label>
      <Submit action={action} label={t('Upload update')} busy={t('Uploading…')} />
    </form>
  );
}

export function FirmwarePage() {
  const status = useLoad(() => call<FirmwareStatus>(ROUTES.firmware), []);
  const s = status.data;
  const last = s?.lastResult;
  return (
    <div class="grid">
      <Section title={t('Installed versions')}>
        {s ? (
          s.managed ? (
            <Pairs
              rows={[
                [t('Running'), slotText(s.running)],
                [t('Previous'), slotText(s.previous)],
                [t('Lowest installable version'), s.floor ?? t('any')],
                [t('On trial'), s.trial ? `${s.trial.version} (${s.trial.state})` : t('no')],
                [t('Pending'), s.pending ? t('a bundle waits for the next restart') : t('none')],
                [
                  t('Last update'),
                  last
                    ? `${last.result}${last.version ? ` ${last.version}` : ''}${last.code ? ` (${last.code})` : ''}, ${formatTime(last.at)}`
                    : t('none'),
                ],
              ]}
            />
          ) : (
            <p>
              {t('Running {version}. This meter was not started by the update launcher: no updates here.', {
                version: s.built,
              })}
            </p>
          )
        ) : (
          <Loading error={status.error} />
        )}
      </Section>
      {s?.managed && (
        <Section title={t('Update')}>
          <Upload onDone={status.reload} />
        </Section>
      )}
    </div>
  );
}
