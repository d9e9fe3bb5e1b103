/**
 * The website's one way to the REST API: the routes it calls, each with the permission the device
 * requires for it (checked against the device's own route declarations by
 * test/web/web-routes.test.ts), a fetch wrapper that adds the CSRF token, and errors in words a person
 * understands.
 */

import { fieldPath, readable } from './error-messages.ts';
import { t } from './i18n.ts';

export type Requires = 'public' | 'user-session' | string;

export interface Route {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly requires: Requires;
}

const route = (method: Route['method'], path: string, requires: Requires): Route => ({
  method,
  path: `/api/v1${path}`,
  requires,
});

export const ROUTES = {
  info: route('GET', '/info', 'public'),
  permissions: route('GET', '/permissions', 'public'),
  challenge: route('POST', '/auth/challenge', 'public'),
  login: route('POST', '/auth/login', 'public'),
  logout: route('POST', '/auth/logout', 'user-session'),
  me: route('GET', '/me', 'public'),
  changeOwnPassword: route('POST', '/me/password', 'user-session'),
  measurements: route('GET', '/measurements', 'measurements.read'),
  history: route('GET', '/measurements/history', 'measurements.read'),
  meters: route('GET', '/meters', 'meters.read'),
  resetMeters: route('POST', '/meters/reset', 'meters.reset'),
  minmax: route('GET', '/minmax', 'measurements.read'),
  resetMinmax: route('POST', '/minmax/reset', 'minmax.reset'),
  config: route('GET', '/config', 'config.read'),
  status: route('GET', '/status', 'config.read'),
  changeConfig: route('PATCH', '/config', 'config.write'),
  users: route('GET', '/users', 'security.read'),
  addEntry: route('POST', '/users', 'security.write'),
  changeEntry: route('PATCH', '/users/{slot}', 'security.write'),
  deleteEntry: route('DELETE', '/users/{slot}', 'security.write'),
  security: route('GET', '/security', 'security.read'),
  changeSecurity: route('PATCH', '/security', 'security.write'),
  audit: route('GET', '/audit', 'audit.read'),
  tls: route('GET', '/tls', 'security.read'),
  uploadTls: route('PUT', '/tls', 'security.write'),
  modbusCa: route('GET', '/modbus/ca', 'security.read'),
  uploadModbusCa: route('PUT', '/modbus/ca', 'security.write'),
  backup: route('POST', '/backup', 'security.write'),
  restore: route('POST', '/restore', 'security.write'),
  firmware: route('GET', '/firmware', 'service'),
  uploadFirmware: route('POST', '/firmware', 'service'),
  registry: route('GET', '/registry', 'security.read'),
  openRegistry: route('POST', '/registry/open', 'security.write'),
  closeRegistry: route('POST', '/registry/close', 'security.write'),
  allowRequest: route('POST', '/registry/requests/{id}/allow', 'security.write'),
  denyRequest: route('POST', '/registry/requests/{id}/deny', 'security.write'),
} as const;

/** Who the page acts as: GET /api/v1/me. */
export interface Me {
  kind: 'anonymous' | 'session' | 'api-key';
  slot: number;
  name: string;
  type: string;
  permissions: string[];
  mustChangePassword: boolean;
  csrfToken?: string;
}

/** May `me` use a route (or anything declared with the same requirement)? The device decides again. */
export function allowed(me: Me | null, requires: Requires): boolean {
  if (requires === 'public') return true;
  if (!me) return false;
  if (requires === 'user-session') return me.kind === 'session';
  return !me.mustChangePassword && me.permissions.includes(requires);
}

export class ApiError extends Error {
  // Assigned in the constructor rather than declared as parameter properties: the bundle then needs no
  // class-field helper.
  declare readonly status: number;
  declare readonly code: string;
  declare readonly field?: string;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    Object.assign(this, { status, code, field });
  }
}

/** How long a read waits for the device's answer. */
const READ_TIMEOUT_MS = 8000;

let csrfToken: string | undefined;
let onStale: () => void = () => undefined;
let sessionExpected = false;
let onEnded: () => void = () => undefined;

/** Called when an answer says the page's idea of the principal's rights is out of date. */
export function whenStale(listener: () => void): void {
  onStale = listener;
}

/**
 * Whether the page acts as a logged-in user: then an answer saying the session ended (`X-Session:
 * ended`, or a 401 asking to authenticate) calls the listener of `whenSessionEnded`, once.
 */
export function expectSession(expected: boolean): void {
  sessionExpected = expected;
}

export function whenSessionEnded(listener: () => void): void {
  onEnded = listener;
}

/** The session's CSRF token, sent with every state change (docs/auth-protocol.md §6.3). */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

export async function call<T>(
  target: Route,
  options: {
    body?: unknown;
    /** The `{slot}` or `{id}` of the path. */
    slot?: number;
    id?: string;
    query?: Record<string, string | number | undefined>;
  } = {},
): Promise<T> {
  let url = target.path.replace(/{\w+}/, String(options.slot ?? options.id));
  const query = Object.entries(options.query ?? {}).filter(([, v]) => v !== undefined && v !== '');
  if (query.length) url += `?${new URLSearchParams(query.map(([k, v]) => [k, String(v)]))}`;
  const headers: Record<string, string> = {};
  // A file (a firmware bundle) goes as its bytes; anything else as JSON.
  const file = options.body instanceof Blob;
  if (options.body !== undefined)
    headers['Content-Type'] = file ? 'application/octet-stream' : 'application/json';
  if (target.method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  // A device that stops answering leaves a request open forever: a read gives up, so the page can say
  // its values are not current. A change is left to finish (a password's KDF takes its time).
  const abort = new AbortController();
  const timer = target.method === 'GET' ? setTimeout(() => abort.abort(), READ_TIMEOUT_MS) : undefined;
  let response: Response;
  try {
    response = await fetch(url, {
      method: target.method,
      headers,
      body: options.body === undefined ? null : file ? (options.body as Blob) : JSON.stringify(options.body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: abort.signal,
    });
  } catch {
    throw new ApiError(0, 'offline', t('The meter did not answer. Check the network connection.'));
  } finally {
    clearTimeout(timer);
  }
  // An answer without a body (204) reads as null.
  const body = await response.json().catch(() => null);
  const error = response.ok ? {} : (body?.error ?? {});
  const ended =
    sessionExpected &&
    (response.headers.get('X-Session') === 'ended' || error.code === 'authentication-required');
  if (ended) {
    sessionExpected = false;
    onEnded();
  }
  if (response.ok) return body as T;
  if (
    !ended &&
    ['authentication-required', 'permission-denied', 'password-change-required', 'csrf'].includes(error.code)
  ) {
    onStale();
  }
  const retryAfter = Number(response.headers.get('Retry-After')) || undefined;
  const field = fieldPath(error.field);
  throw new ApiError(
    response.status,
    error.code ?? 'unknown',
    explain(
      error.code,
      readable(error.message ?? `HTTP ${response.status}`, field),
      error.permission,
      retryAfter,
    ),
    field,
  );
}

/**
 * The device's messages are already meant for people (docs/rest-api.md); a few gain from what only the
 * page knows: how long to wait, and what to do.
 */
function explain(code: string, message: string, permission?: string, retryAfter?: number): string {
  if (code === 'permission-denied') {
    return t('You are not allowed to do this (it needs {permission}).', { permission: String(permission) });
  }
  let text = `${message.charAt(0).toUpperCase()}${message.slice(1)}.`.replace(/\.\.$/, '.');
  // Only refusals that pass (locked, rate-limited, registry full) carry Retry-After.
  if (retryAfter) text += ` ${t('Try again in {seconds} s.', { seconds: retryAfter })}`;
  if (code === 'csrf' || code === 'cross-origin') text += ` ${t('Reload the page.')}`;
  return text;
}
