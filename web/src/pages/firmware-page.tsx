/**
 * The firmware (docs/updates.md): what runs, what it falls back to, the last update's result, and the
 * upload of a signed update bundle (HTTPS only, `service`), installed at once or at the next restart.
 */
import { useState } from 'preact/hooks';
import { call, ROUTES } from '../api.ts';
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

const slotText = (slot: SlotInfo | null | undefined) =>
  slot
    ? `${slot.version ?? 'unknown'} (slot ${slot.slot}, ${slot.signed ? 'signed bundle' : 'installed from a checkout'})`
    : 'none';

function Upload(props: { onDone(): void }) {
  const [file, setFile] = useState<File | null>(null);
  const [later, setLater] = useState(false);
  const action = useAction();
  if (location.protocol !== 'https:') {
    return <p class="notice">A firmware update can be uploaded only over HTTPS.</p>;
  }
  return (
    <form
      aria-label="Upload firmware update"
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
            ? 'Accepted: it is installed at the next restart.'
            : 'Accepted: the meter restarts and installs it; reload this page in a minute.',
        );
        if (ok) props.onDone();
      }}
    >
      <Field label="Update bundle" error={action.on('bundle')} hint="A signed .mgb file from the vendor">
        <input
          type="file"
          name="bundle"
          accept=".mgb"
          onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)}
        />
      </Field>
      <label>
        <input type="checkbox" checked={later} onChange={(e) => setLater(e.currentTarget.checked)} /> Install
        at the next restart, not now
      </label>
      <Submit action={action} label="Upload update" busy="Uploading…" />
    </form>
  );
}

export function FirmwarePage() {
  const status = useLoad(() => call<FirmwareStatus>(ROUTES.firmware), []);
  const s = status.data;
  const last = s?.lastResult;
  return (
    <div class="grid">
      <Section title="Installed versions">
        {s ? (
          s.managed ? (
            <Pairs
              rows={[
                ['Running', slotText(s.running)],
                ['Previous', slotText(s.previous)],
                ['Lowest installable version', s.floor ?? 'any'],
                ['On trial', s.trial ? `${s.trial.version} (${s.trial.state})` : 'no'],
                ['Pending', s.pending ? 'a bundle waits for the next restart' : 'none'],
                [
                  'Last update',
                  last
                    ? `${last.result}${last.version ? ` ${last.version}` : ''}${last.code ? ` (${last.code})` : ''}, ${formatTime(last.at)}`
                    : 'none',
                ],
              ]}
            />
          ) : (
            <p>Running {s.built}. This meter was not started by the update launcher: no updates here.</p>
          )
        ) : (
          <Loading error={status.error} />
        )}
      </Section>
      {s?.managed && (
        <Section title="Update">
          <Upload onDone={status.reload} />
        </Section>
      )}
    </div>
  );
}
