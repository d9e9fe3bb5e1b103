/**
 * Resolves who is asking, once per request: an API key (`Authorization: Bearer`, HTTPS only unless the
 * security settings allow HTTP), else a session cookie, else the `anonymous` slot (a cookie whose
 * session ended gets `X-Session: ended` on the answer). Also records the
 * interface and source address every later decision and event needs.
 */
import type { MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie } from 'hono/cookie';
import { findApiKeySlot, isWellFormedApiKey } from '../auth/api-key.ts';
import type { SessionStore } from '../auth/session-store.ts';
import { ANONYMOUS_SLOT } from '../core/slots.ts';
import { isDisabled } from '../core/user-table.ts';
import type { SecurityService } from '../services/security-service.ts';
import { ApiError } from './api-error.ts';
import type { AppEnv } from './app-env.ts';

export const SESSION_COOKIE_HTTPS = '__Host-mg_session';
export const SESSION_COOKIE_HTTP = 'mg_session';

export function sessionCookieName(secure: boolean): string {
  return secure ? SESSION_COOKIE_HTTPS : SESSION_COOKIE_HTTP;
}

export function resolvePrincipal(deps: {
  readonly security: SecurityService;
  readonly sessions: SessionStore;
  readonly now: () => number;
}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const socket = c.env.incoming.socket as { remoteAddress?: string; encrypted?: boolean };
    const secure = socket.encrypted === true;
    const context = { interface: secure ? 'https' : 'http', source: socket.remoteAddress } as const;
    c.set('context', context);
    const { table, settings } = deps.security.state;

    const authorization = c.req.header('authorization');
    if (authorization !== undefined) {
      const key = /^Bearer (\S+)$/.exec(authorization)?.[1];
      if (!secure && !settings.communication.apiKeysOverHttp) {
        throw new ApiError(401, 'https-required', 'API keys are accepted over HTTPS only');
      }
      const slot = key && isWellFormedApiKey(key) ? findApiKeySlot(table, key) : null;
      // A disabled key is refused in the words of a revoked one: the answer tells its holder nothing.
      const disabled = slot !== null && isDisabled(table, slot);
      if (slot === null || disabled) {
        deps.security.record({
          type: 'apikey.auth',
          interface: context.interface,
          source: context.source,
          result: 'failed',
          ...(disabled && { slot, detail: 'disabled' }),
        });
        throw new ApiError(
          401,
          'invalid-api-key',
          'the API key is not valid (revoked, mistyped or not a Bearer key)',
        );
      }
      c.set('principal', { kind: 'api-key', actor: deps.security.actorFor(slot) });
      return next();
    }

    const cookieName = sessionCookieName(secure);
    const token = getCookie(c, cookieName);
    if (token !== undefined) {
      const session = deps.sessions.resolve(
        token,
        deps.now(),
        (slot) => (table.slots[slot] ? (table.epochs[slot] ?? 0) : null),
        context.interface,
      );
      if (session) {
        c.set('principal', { kind: 'session', actor: deps.security.actorFor(session.slot), session, token });
        return next();
      }
      deleteCookie(c, cookieName, { path: '/', secure });
      // The cookie's session ended (logout elsewhere, password or rights changed, timeout): said in a
      // header a page can read, so it does not go on showing a login that acts as anonymous.
      c.env.outgoing.setHeader('X-Session', 'ended');
    }
    c.set('principal', { kind: 'anonymous', actor: deps.security.actorFor(ANONYMOUS_SLOT) });
    return next();
  };
}
