/**
 * Declaring a REST route: its OpenAPI definition (zod schemas, which also validate the request) and
 * the permission it needs, in the permission table's terms. The gate middleware attached to each route
 * is where REST asks access.ts (the one decision) and adds only what is HTTP's: same-origin and CSRF
 * checks, and 401 rather than 403 when no credentials were sent. The declarations list is what the
 * authorization-matrix test walks, and a route registered without one fails that test.
 */
import { createRoute, type OpenAPIHono, type RouteConfig, type RouteHandler } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { secretsEqual } from '../auth/session-store.ts';
import { authorize, type Need } from '../core/access.ts';
import { CoreError } from '../core/core-error.ts';
import type { PermissionName } from '../core/permission-table.ts';
import { type DeviceNames, portPart } from '../net/device-names.ts';
import { ApiError } from './api-error.ts';
import type { AppEnv } from './app-env.ts';

/**
 * `public`: anyone. `authenticated`: a session or an API key. `user-session`: a logged-in user (a
 * cookie session), allowed even while the password must be changed. `user`: a logged-in user whose
 * password need not be changed (its own account, no permission). Otherwise a permission.
 */
export type Requirement = 'public' | 'authenticated' | 'user-session' | 'user' | PermissionName;

export interface RouteDeclaration {
  readonly method: string;
  /** OpenAPI form, e.g. `/api/v1/users/{slot}`. */
  readonly path: string;
  readonly requires: Requirement;
  readonly summary: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Told about every request the gate refuses (for the security log). */
export type DenialListener = (c: Context<AppEnv>, requires: Requirement, error: ApiError | CoreError) => void;

export class ApiBuilder {
  readonly declarations: RouteDeclaration[] = [];

  constructor(
    readonly app: OpenAPIHono<AppEnv>,
    private readonly names: DeviceNames,
    private readonly onDenied: DenialListener = () => {},
  ) {}

  route<R extends RouteConfig>(requires: Requirement, config: R, handler: RouteHandler<R, AppEnv>): void {
    // The requirement is published in the OpenAPI document too (`x-requires`), for clients and tests.
    const route = createRoute({
      ...config,
      'x-requires': requires,
      middleware: [gate(requires, this.names, this.onDenied)],
    });
    this.declarations.push({
      method: config.method.toUpperCase(),
      path: config.path,
      requires,
      summary: config.summary ?? '',
    });
    // biome-ignore lint/suspicious/noExplicitAny: the handler is typed by the caller against `config`.
    this.app.openapi(route as any, handler as any);
  }
}

/**
 * The REST gate: same-origin and CSRF checks on state changes, then the route's requirement. A refused
 * request is told to `onDenied` (the security log) and answered with the error.
 */
export function gate(
  requires: Requirement,
  names: DeviceNames,
  onDenied: DenialListener = () => {},
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    try {
      checkAccess(c, requires, names);
    } catch (error) {
      if (error instanceof ApiError || error instanceof CoreError) onDenied(c, requires, error);
      throw error;
    }
    await next();
  };
}

/** Throws ApiError or CoreError unless the request may use a route that needs `requires`. */
function checkAccess(c: Context<AppEnv>, requires: Requirement, names: DeviceNames): void {
  const principal = c.get('principal');
  if (!SAFE_METHODS.has(c.req.method)) {
    checkSameOrigin(c, names);
    if (principal.kind === 'session') {
      const token = c.req.header('x-csrf-token');
      if (!token || !principal.session || !secretsEqual(token, principal.session.csrfToken)) {
        throw new ApiError(403, 'csrf', 'missing or wrong X-CSRF-Token header for this session');
      }
    }
  }
  if (requires === 'public') return;
  const userOnly = requires === 'user-session' || requires === 'user';
  if (userOnly || requires === 'authenticated') {
    if (principal.kind === 'anonymous')
      throw new ApiError(401, 'authentication-required', 'log in or send an API key');
    if (userOnly && principal.kind !== 'session') {
      throw new ApiError(403, 'user-session-required', 'only a logged-in user can do this');
    }
  }
  // A user session may change its own password while it must (`own-password`); nothing else may.
  const need: Need =
    requires === 'user-session'
      ? 'own-password'
      : requires === 'authenticated' || requires === 'user'
        ? 'act'
        : requires;
  try {
    authorize(principal.actor, need, c.get('context').interface);
  } catch (error) {
    // Without credentials a missing permission means "authenticate", not "forbidden".
    if (principal.kind === 'anonymous' && error instanceof CoreError && error.code === 'permission-denied') {
      throw new ApiError(
        401,
        'authentication-required',
        `log in or send an API key: '${requires}' is required`,
        {
          permission: requires,
        },
      );
    }
    throw error;
  }
}

/**
 * Refuses cross-site state changes: a browser sends Origin (and Sec-Fetch-Site) with them. The Origin's
 * host must be one of the device's names (never merely equal to Host, which a rebound page controls),
 * with this listener's scheme and the port the request was sent to.
 */
function checkSameOrigin(c: Context<AppEnv>, names: DeviceNames): void {
  const fetchSite = c.req.header('sec-fetch-site');
  if (fetchSite === 'cross-site' || fetchSite === 'same-site') {
    throw new ApiError(403, 'cross-origin', 'cross-origin state-changing requests are refused');
  }
  const origin = c.req.header('origin');
  if (origin === undefined) return;
  const scheme = c.get('context').interface === 'https' ? 'https' : 'http';
  const match = /^([a-z]+):\/\/([^/]+)$/.exec(origin);
  const authority = match?.[2] ?? '';
  const socket = c.env.incoming.socket;
  const samePort =
    (portPart(authority) ?? defaultPort(match?.[1])) ===
    (portPart(c.req.header('host') ?? '') ?? defaultPort(scheme));
  if (match?.[1] !== scheme || !samePort || !names.isOwn(authority, socket.localAddress)) {
    throw new ApiError(
      403,
      'cross-origin',
      `cross-origin state-changing requests are refused (origin ${origin.slice(0, 100)})`,
    );
  }
}

function defaultPort(scheme: string | undefined): string {
  return scheme === 'https' ? '443' : '80';
}
