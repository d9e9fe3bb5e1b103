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
import { AccountPage } from './pages/account-page.tsx';
import { CertificatesPage } from './pages/certificates-page.tsx';
import { DashboardPage } from './pages/dashboard-page.tsx';
import { EventsPage } from './pages/events-page.tsx';
import { FirmwarePage } from './pages/firmware-page.tsx';
import { LoginPage } from './pages/login-page.tsx';
import { PasswordForm } from './pages/password-form.tsx';
import { RegistryPage } from './pages/registry-page.tsx';
import { SecurityPage } from './pages/security-page.tsx';
import { SettingsPage } from './pages/settings-page.tsx';
import { UsersPage } from './pages/users-page.tsx';
import { type Info, type PermissionTable, type Session, SessionContext } from './session.ts';
import { Button, useLoad } from './ui.tsx';

interface Page {
  path: string;
  title: string;
  /** Offered when the principal may use any of these. */
  requires: Requires[];
  view: ComponentType;
}

const PAGES: Page[] = [
  {
    path: '/',
    title: 'Dashboard',
    requires: [ROUTES.measurements.requires, ROUTES.meters.requires],
    view: DashboardPage,
  },
  { path: '/settings', title: 'Settings', requires: [ROUTES.config.requires], view: SettingsPage },
  { path: '/users', title: 'Users', requires: [ROUTES.users.requires], view: UsersPage },
  { path: '/security', title: 'Security', requires: [ROUTES.security.requires], view: SecurityPage },
  { path: '/registry', title: 'Registry', requires: [ROUTES.registry.requires], view: RegistryPage },
  { path: '/certificates', title: 'Certificates', requires: [ROUTES.tls.requires], view: CertificatesPage },
  { path: '/firmware', title: 'Firmware', requires: [ROUTES.firmware.requires], view: FirmwarePage },
  { path: '/events', title: 'Event log', requires: [ROUTES.audit.requires], view: EventsPage },
  { path: '/account', title: 'Account', requires: [ROUTES.changeOwnPassword.requires], view: AccountPage },
];

const offered = (page: Page, me: Me) => page.requires.some((r) => allowed(me, r));

/** Where `me` lands: the first page it may use (the dashboard when none). */
const firstPage = (me: Me) => PAGES.find((p) => offered(p, me))?.path ?? '/';

const SESSION_ENDED =
  'Your session has ended (timed out, logged out elsewhere, or your password or permissions were changed). Log in again.';

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
      <nav aria-label="Pages">
        {PAGES.filter((p) => offered(p, me)).map((p) => (
          <a href={`#${p.path}`} aria-current={props.path === p.path ? 'page' : undefined}>
            {p.title}
          </a>
        ))}
      </nav>
      <div class="actions">
        {me.kind === 'session' ? (
          <>
            <span>{me.name}</span>
            <Button
              class="secondary"
              label="Log out"
              busy="Logging out…"
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
            Log in
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
      This connection is not encrypted. <a href={`https://${location.hostname}${other}/`}>Use HTTPS</a>.
    </p>
  );
}

/** The device runs, but not as committed (docs/operations.md, Degraded state): said on every page. */
function DegradedNotice(props: { info: Info }) {
  const degraded = props.info.degraded ?? [];
  if (degraded.length === 0) return null;
  return (
    <div class="notice" role="alert">
      <b>Degraded:</b>
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
  if (me.mustChangePassword) return 'Account';
  if (path === '/login') return 'Log in';
  return PAGES.find((p) => p.path === path)?.title ?? 'No such page';
}

function Content(props: { session: Session; path: string }) {
  const { me } = props.session;
  if (me.mustChangePassword) return <PasswordForm forced />;
  if (props.path === '/login') return me.kind === 'session' ? <Redirect to={firstPage(me)} /> : <LoginPage />;
  const page = PAGES.find((p) => p.path === props.path);
  if (!page)
    return (
      <p class="card">
        No such page. <a href="#/">Dashboard</a>
      </p>
    );
  if (!offered(page, me)) {
    return me.kind === 'anonymous' ? (
      <div class="card narrow">
        <p>Log in to see more of this meter.</p>
        <a class="button" href="#/login">
          Log in
        </a>
      </div>
    ) : (
      <p class="card narrow">Your permissions do not include this page.</p>
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
        setEnded(SESSION_ENDED);
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
  if (!state) {
    return (
      <main>
        <p class="card" aria-busy={!error}>
          {error?.message ?? 'Connecting to the meter…'}{' '}
          {error && (
            <button type="button" onClick={load}>
              Retry
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
        firmware {state.info.firmwareVersion} · {me(state.me)}
      </footer>
    </SessionContext.Provider>
  );
}

function me(principal: Me): string {
  return principal.kind === 'anonymous' ? 'not logged in' : `logged in as ${principal.name}`;
}

render(<App />, document.getElementById('app') as HTMLElement);
