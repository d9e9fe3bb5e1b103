/**
 * The device website: loads who the page acts as, shows the pages that principal may use (the others
 * are not offered), and routes by the URL fragment (#/settings). Without login it shows what
 * `anonymous` may see, with a login button. A login lands on the first page the principal may use,
 * and no page is rendered (nor asks the device for anything) for a principal the page does not know
 * yet; a session that ends elsewhere brings back the login with a message. Each page has one h1,
 * which takes the focus when the page changes.
 */
import './styles.css';
import { type ComponentType, render } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import {
  allowed,
  call,
  expectSession,
  type Me,
  type Requires,
  ROUTES,
  setCsrfToken,
  whenSessionEnded,
  whenStale,
} from './api.ts';
import { logout } from './auth.ts';
import { initialLanguage, LANGUAGES, type Language, language, mark, setLanguage, t } from './i18n.ts';
import { DashboardPage } from './pages/dashboard-page.tsx';
import { LoginPage } from './pages/login-page.tsx';
import { PasswordForm } from './pages/password-form.tsx';
import { type Info, type PermissionTable, type Session, SessionContext } from './session.ts';
import { Button, lazy, useLoad } from './ui.tsx';

interface Page {
  path: string;
  title: string;
  /** Offered when the principal may use any of these. */
  requires: Requires[];
  view: ComponentType;
  /** Linked from the footer rather than the menu. */
  footer?: boolean;
}

// The pages but the dashboard and the login (what a first visit shows) load when first opened.
const SettingsPage = lazy(
  () => import('./pages/settings-page.tsx').then((m) => m.SettingsPage),
  'settings-page',
);
const UsersPage = lazy(() => import('./pages/users-page.tsx').then((m) => m.UsersPage), 'users-page');
const SecurityPage = lazy(
  () => import('./pages/security-page.tsx').then((m) => m.SecurityPage),
  'security-page',
);
const RegistryPage = lazy(
  () => import('./pages/registry-page.tsx').then((m) => m.RegistryPage),
  'registry-page',
);
const CertificatesPage = lazy(
  () => import('./pages/certificates-page.tsx').then((m) => m.CertificatesPage),
  'certificates-page',
);
const EventsPage = lazy(() => import('./pages/events-page.tsx').then((m) => m.EventsPage), 'events-page');
const FirmwarePage = lazy(
  () => import('./pages/firmware-page.tsx').then((m) => m.FirmwarePage),
  'firmware-page',
);
const BackupPage = lazy(() => import('./pages/backup-page.tsx').then((m) => m.BackupPage), 'backup-page');
const AccountPage = lazy(() => import('./pages/account-page.tsx').then((m) => m.AccountPage), 'account-page');

const PAGES: Page[] = [
  {
    path: '/',
    title: mark('Dashboard'),
    requires: [ROUTES.measurements.requires, ROUTES.meters.requires],
    view: DashboardPage,
  },
  { path: '/settings', title: mark('Settings'), requires: [ROUTES.config.requires], view: SettingsPage },
  { path: '/users', title: mark('Users'), requires: [ROUTES.users.requires], view: UsersPage },
  { path: '/security', title: mark('Security'), requires: [ROUTES.security.requires], view: SecurityPage },
  { path: '/registry', title: mark('Registry'), requires: [ROUTES.registry.requires], view: RegistryPage },
  {
    path: '/certificates',
    title: mark('Certificates'),
    requires: [ROUTES.tls.requires],
    view: CertificatesPage,
  },
  { path: '/firmware', title: mark('Firmware'), requires: [ROUTES.firmware.requires], view: FirmwarePage },
  { path: '/events', title: mark('Event log'), requires: [ROUTES.audit.requires], view: EventsPage },
  { path: '/backup', title: mark('Backup'), requires: [ROUTES.backup.requires], view: BackupPage },
  {
    path: '/account',
    title: mark('Account'),
    requires: [ROUTES.changeOwnPassword.requires],
    view: AccountPage,
  },
  {
    path: '/status',
    title: mark('Device status'),
    requires: [ROUTES.status.requires],
    // Few visitors open it: a chunk of its own.
    view: lazy(() => import('./pages/status-page.tsx').then((m) => m.StatusPage), 'status-page'),
    footer: true,
  },
];

const offered = (page: Page, me: Me) => page.requires.some((r) => allowed(me, r));

/** Where `me` lands: the first page it may use (the dashboard when none). */
const firstPage = (me: Me) => PAGES.find((p) => offered(p, me))?.path ?? '/';

const SESSION_ENDED = mark(
  'Your session has ended (timed out, logged out elsewhere, or your password or permissions were changed). Log in again.',
);

function useHashPath(): string {
  const read = () => location.hash.slice(1) || '/';
  const [path, setPath] = useState(read);
  useEffect(() => {
    const update = () => setPath(read());
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return path;
}

function Header(props: { session: Session; path: string }) {
  const { info, me, refresh } = props.session;
  return (
    <header>
      <div>
        <b>{info.model}</b> <span class="muted">{info.serialNumber}</span>
      </div>
      <nav aria-label={t('Pages')}>
        {PAGES.filter((p) => !p.footer && offered(p, me)).map((p) => (
          <a href={`#${p.path}`} aria-current={props.path === p.path ? 'page' : undefined}>
            {t(p.title)}
          </a>
        ))}
      </nav>
      <div class="actions">
        {me.kind === 'session' ? (
          <>
            <span>{me.name}</span>
            <Button
              class="secondary"
              label={t('Log out')}
              busy={t('Logging out…')}
              run={async () => {
                // Who the page acts as is asked before it leaves the page, and a page the person
                // opened meanwhile (the login, say) is not taken away from under the typing.
                const before = location.hash;
                await logout().catch(() => undefined);
                await refresh();
                if (location.hash === before) location.hash = '#/';
              }}
            />
          </>
        ) : (
          <a class="button" href="#/login">
            {t('Log in')}
          </a>
        )}
      </div>
    </header>
  );
}

/** Plain HTTP carries the session readably: point to HTTPS. */
function HttpWarning(props: { info: Info }) {
  const { enabled, port } = props.info.https;
  if (location.protocol !== 'http:' || !enabled) return null;
  const other = port && port !== 443 ? `:${port}` : '';
  return (
    <p class="notice" role="note">
      {t('This connection is not encrypted.')}{' '}
      <a href={`https://${location.hostname}${other}/`}>{t('Use HTTPS')}</a>
    </p>
  );
}

/** The device runs, but not as committed (docs/operations.md, Degraded state): said on every page. */
function DegradedNotice(props: { info: Info }) {
  const degraded = props.info.degraded ?? [];
  if (degraded.length === 0) return null;
  return (
    <div class="notice" role="alert">
      <b>{t('Degraded:')}</b>
      <ul>
        {degraded.map((text) => (
          <li key={text}>{text}</li>
        ))}
      </ul>
    </div>
  );
}

/** The page's h1: what Content shows under it. */
function pageTitle(me: Me, path: string): string {
  if (me.mustChangePassword) return t('Account');
  if (path === '/login') return t('Log in');
  const page = PAGES.find((p) => p.path === path);
  return page ? t(page.title) : t('No such page');
}

function Content(props: { session: Session; path: string }) {
  const { me } = props.session;
  if (me.mustChangePassword) return <PasswordForm forced />;
  if (props.path === '/login') return me.kind === 'session' ? <Redirect to={firstPage(me)} /> : <LoginPage />;
  const page = PAGES.find((p) => p.path === props.path);
  if (!page)
    return (
      <p class="card">
        {t('No such page.')} <a href="#/">{t('Dashboard')}</a>
      </p>
    );
  if (!offered(page, me)) {
    return me.kind === 'anonymous' ? (
      <div class="card narrow">
        <p>{t('Log in to see more of this meter.')}</p>
        <a class="button" href="#/login">
          {t('Log in')}
        </a>
      </div>
    ) : (
      <p class="card narrow">{t('Your permissions do not include this page.')}</p>
    );
  }
  const View = page.view;
  return <View />;
}

/** Goes to `to` as the page renders (not after paint), so no later navigation is undone by it. */
function Redirect(props: { to: string }) {
  useLayoutEffect(() => {
    location.hash = `#${props.to}`;
  }, []);
  return null;
}

function App() {
  const path = useHashPath();
  // Which language is shown: set again by the switch, so every page renders anew in it.
  const [, setShown] = useState(language());
  const [ended, setEnded] = useState<string | null>(null);
  const {
    data: state,
    error,
    reload: load,
    setData,
  } = useLoad(async () => {
    const [info, table, me] = await Promise.all([
      call<Info>(ROUTES.info),
      call<PermissionTable>(ROUTES.permissions),
      call<Me>(ROUTES.me),
    ]);
    setCsrfToken(me.csrfToken);
    expectSession(me.kind === 'session');
    if (me.kind === 'session') setEnded(null);
    return { info, table, me };
  }, []);
  useEffect(() => whenStale(load), []);
  useEffect(
    () =>
      whenSessionEnded(() => {
        // Until the device says who the page now acts as, it shows the login and asks for nothing else.
        setData(null);
        setEnded(t(SESSION_ENDED));
        location.hash = '#/login';
        load();
      }),
    [],
  );
  const title = state ? pageTitle(state.me, path) : 'metergate';
  useEffect(() => {
    document.title = `${title} · ${state?.info.model ?? 'metergate'}`;
  }, [title, state]);
  const h1 = useRef<HTMLHeadingElement>(null);
  const shown = useRef<string | null>(null);
  // In the layout phase, right after the new page is rendered: a later focus would take the caret away
  // from a field the person has started typing in.
  useLayoutEffect(() => {
    // Not on the first page a visit opens: only when the page changes, as a new document would.
    if (shown.current !== null && shown.current !== title) h1.current?.focus();
    if (state) shown.current = title;
  }, [title, state]);
  // A meter that did not answer the first questions (restarting, link down) is asked again every few
  // seconds: the page comes up by itself once it answers, as a display would.
  const unanswered = !state && error !== null;
  useEffect(() => {
    if (!unanswered) return;
    const timer = setTimeout(load, 3000);
    return () => clearTimeout(timer);
  }, [unanswered, error]);
  if (!state) {
    return (
      <main>
        <p class="card" aria-busy={!error}>
          {error?.message ?? t('Connecting to the meter…')}{' '}
          {error && (
            <button type="button" onClick={load}>
              {t('Retry')}
            </button>
          )}
        </p>
      </main>
    );
  }
  const session: Session = { ...state, ended, refresh: load };
  return (
    <SessionContext.Provider value={session}>
      <Header session={session} path={path} />
      <HttpWarning info={state.info} />
      <DegradedNotice info={state.info} />
      <main>
        <h1 ref={h1} tabIndex={-1}>
          {title}
        </h1>
        <Content session={session} path={path} />
      </main>
      <footer class="muted">
        {t('firmware {version}', { version: state.info.firmwareVersion })} · {me(state.me)}
        {PAGES.filter((p) => p.footer && offered(p, state.me)).map((p) => (
          <>
            {' · '}
            <a href={`#${p.path}`}>{t(p.title)}</a>
          </>
        ))}{' '}
        · <LanguageSwitch onChange={() => setShown(language())} />
      </footer>
    </SessionContext.Provider>
  );
}

function me(principal: Me): string {
  return principal.kind === 'anonymous'
    ? t('not logged in')
    : t('logged in as {name}', { name: principal.name });
}

/** The language switch: each language named in itself; the choice is kept in this browser. */
function LanguageSwitch(props: { onChange(): void }) {
  const [failed, setFailed] = useState(false);
  return (
    <span>
      <select
        class="language"
        aria-label={t('Language')}
        value={language()}
        onChange={async (e) => {
          const code = (e.currentTarget as HTMLSelectElement).value as Language;
          try {
            await setLanguage(code, true);
            setFailed(false);
          } catch {
            setFailed(true);
          }
          props.onChange();
        }}
      >
        {Object.entries(LANGUAGES).map(([code, name]) => (
          <option value={code} lang={code}>
            {name}
          </option>
        ))}
      </select>
      {failed && <span role="alert"> {t('The language could not be loaded.')}</span>}
    </span>
  );
}

// The page starts in its language (no English flash before a translation): the pack comes first.
setLanguage(initialLanguage())
  .catch(() => undefined)
  .finally(() => render(<App />, document.getElementById('app') as HTMLElement));
