/**
 * The client registry (docs/rest-api.md, "Client registry"): opens registration for 5 minutes with a
 * countdown, lists the applications asking for an API key (polled every 2 s while open) with the key
 * fingerprint to compare with what the application shows, and allows one with a preset or denies it.
 * The key travels to the application sealed to its own key pair: this page never sees it.
 */
import { useState } from 'preact/hooks';
import { allowed, call, ROUTES, type Route } from '../api.ts';
import { t } from '../i18n.ts';
import { useSession } from '../session.ts';
import { Button, formatTime, Loading, Pairs, Section, useEvery, useForm, useLoad } from '../ui.tsx';
import { PresetSelect } from './users-page.tsx';

interface Request {
  id: string;
  name: string;
  source: string;
  time: string;
  fingerprint: string;
}

interface Registry {
  open: boolean;
  remainingSeconds: number;
  pending: Request[];
  /** When the window closes, by this browser's clock. */
  until: number;
}

function Pending(props: { request: Request; writable: boolean; onDecided(note: string): Promise<unknown> }) {
  const { request: r, onDecided } = props;
  const form = useForm({ preset: 'read-only' });
  return (
    <article class="card">
      <h3>{r.name}</h3>
      <Pairs
        rows={[
          [t('From'), r.source],
          [t('Asked at'), formatTime(r.time)],
          [t('Key fingerprint'), <code class="label">{r.fingerprint}</code>],
        ]}
      />
      {props.writable && (
        <>
          <PresetSelect form={form} />
          <div class="actions">
            <Button
              label={t('Allow')}
              busy={t('Allowing…')}
              run={async () => {
                const { slot } = await call<{ slot: number }>(ROUTES.allowRequest, {
                  id: r.id,
                  body: form.value,
                });
                await onDecided(
                  t(
                    '{name} allowed (slot {slot}): the application receives its key sealed; this page never sees it.',
                    {
                      name: r.name,
                      slot,
                    },
                  ),
                );
              }}
            />
            <Button
              label={t('Deny')}
              busy={t('Denying…')}
              class="danger"
              run={async () => {
                await call(ROUTES.denyRequest, { id: r.id });
                await onDecided(t('{name} denied.', { name: r.name }));
              }}
            />
          </div>
        </>
      )}
    </article>
  );
}

export function RegistryPage() {
  const { me } = useSession();
  const writable = allowed(me, ROUTES.openRegistry.requires);
  const [note, setNote] = useState('');
  const [, tick] = useState(0);
  const status = async (route: Route): Promise<Registry> => {
    const answer = await call<Registry>(route);
    const until = Date.now() + answer.remainingSeconds * 1000;
    const before = data?.until ?? 0;
    // Answers round up to whole seconds: keep the earliest estimate, so that the countdown never steps
    // back, unless the window was opened again.
    return { ...answer, until: until < before + 2000 ? Math.min(until, before) : until };
  };
  const { data, error, reload, setData } = useLoad<Registry>(() => status(ROUTES.registry), []);
  const open = data?.open;
  useEvery(open ? 1000 : 0, () => tick(Date.now()));
  useEvery(open ? 2000 : 0, reload);
  if (!data) return <Loading error={error} />;
  const left = Math.max(0, Math.ceil((data.until - Date.now()) / 1000));
  return (
    <Section title={t('Client registry')}>
      <p>
        {open ? (
          <>
            {t('Open for')} {/* mm:ss of an ISO time: the window is shorter than an hour */}
            <b role="timer">{new Date(left * 1000).toISOString().slice(14, 19)}</b>
            {t(': applications may ask for an API key.')}
          </>
        ) : (
          t('Closed: applications cannot ask for an API key.')
        )}
      </p>
      {writable ? (
        <div class="actions">
          <Button
            label={open ? t('Close registration') : t('Open for 5 minutes')}
            busy={open ? t('Closing…') : t('Opening…')}
            run={async () => setData(await status(open ? ROUTES.closeRegistry : ROUTES.openRegistry))}
          />
        </div>
      ) : (
        <p class="muted">
          {t('Read only: deciding requests needs {permission}.', { permission: 'security.write' })}
        </p>
      )}
      <p class="muted">{t('Allow a request only if its fingerprint is the one the application shows.')}</p>
      <p class="ok" role="status">
        {note}
      </p>
      {/* A poll that failed: what is shown may be out of date. */}
      {error && <Loading error={error} />}
      {data.pending.length ? (
        <div class="grid">
          {data.pending.map((r) => (
            <Pending
              key={r.id}
              request={r}
              writable={writable}
              onDecided={(note) => {
                setNote(note);
                return reload();
              }}
            />
          ))}
        </div>
      ) : (
        <p class="muted">{t('No requests pending.')}</p>
      )}
    </Section>
  );
}
