/**
 * The first thing every request meets (API and website alike): its Host must be one of the device's
 * names, else 421 `unknown-host` before a principal is resolved, a route runs or a file is served. This
 * is what stops a DNS-rebinding page (docs/security.md, attack 1): the browser sends the attacker's name.
 */
import type { MiddlewareHandler } from 'hono';
import type { DeviceNames } from '../net/device-names.ts';
import { ApiError } from './api-error.ts';
import type { AppEnv } from './app-env.ts';

export function hostCheck(names: DeviceNames): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const host = c.req.header('host');
    if (!names.isOwn(host, c.env.incoming.socket.localAddress)) {
      const shown = host === undefined ? 'no Host header' : `'${host.slice(0, 100)}'`;
      throw new ApiError(
        421,
        'unknown-host',
        `this device does not answer to ${shown}: use its address, or add the name to the security settings' hostnames`,
        { field: 'Host' },
      );
    }
    await next();
  };
}
