/**
 * Security headers on every response: a CSP under which the device website runs with no inline
 * script, no framing, no sniffing, no referrer, and HSTS over HTTPS once plain HTTP is no longer served
 * (security setting `http` is `redirect` or `off`): while it is `on`, HSTS would make browsers refuse the
 * HTTP address an operator was told to use.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.ts';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const STATIC_HEADERS: readonly [string, string][] = [
  ['Content-Security-Policy', CONTENT_SECURITY_POLICY],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'no-referrer'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Permissions-Policy', 'camera=(), microphone=(), geolocation=()'],
];

/**
 * Set on node's response before the handler runs: @hono/node-server merges them into whatever response
 * is written, errors included, and node's own header store is far cheaper per request than a fetch
 * `Headers` object.
 */
export function securityHeaders(options: { readonly hsts: () => boolean }): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const out = c.env.outgoing;
    for (const [name, value] of STATIC_HEADERS) out.setHeader(name, value);
    if ((c.env.incoming.socket as { encrypted?: boolean }).encrypted && options.hsts()) {
      out.setHeader('Strict-Transport-Security', 'max-age=31536000');
    }
    if (c.req.path.startsWith('/api/')) out.setHeader('Cache-Control', 'no-store');
    await next();
  };
}
