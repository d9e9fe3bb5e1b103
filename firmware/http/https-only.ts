/**
 * Plain HTTP as the security setting `http` allows it: `on` serves it; `redirect` answers pages with
 * 308 to the same path on HTTPS and the API with `https-required`; `off` closes the listener itself
 * (http-listeners.ts), and a request still arriving on a connection it is closing is answered as under
 * `redirect`. Runs right after the Host check, so the redirect only ever names the device's own host.
 */
import type { MiddlewareHandler } from 'hono';
import type { HttpMode } from '../core/security-settings.ts';
import { hostPart } from '../net/device-names.ts';
import { ApiError } from './api-error.ts';
import type { AppEnv } from './app-env.ts';

export function httpsOnly(options: {
  readonly mode: () => HttpMode;
  readonly httpsPort: () => number | null;
}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if ((c.env.incoming.socket as { encrypted?: boolean }).encrypted || options.mode() === 'on')
      return next();
    const port = options.httpsPort();
    const page = !c.req.path.startsWith('/api/') && (c.req.method === 'GET' || c.req.method === 'HEAD');
    const host = hostPart(c.req.header('host'));
    if (page && port !== null && host !== null) {
      const url = new URL(c.req.url);
      const authority = host.includes(':') ? `[${host}]` : host;
      return c.redirect(`https://${authority}:${port}${url.pathname}${url.search}`, 308);
    }
    throw new ApiError(
      403,
      'https-required',
      `this device answers over HTTPS only${port === null ? '' : ` (port ${port})`}: plain HTTP is '${options.mode()}'`,
    );
  };
}
