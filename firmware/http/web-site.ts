/**
 * The device website as the firmware serves it: the built files of `web/` (scripts/build.mjs), read
 * once at boot into memory with their precompressed gzip and brotli forms. Hashed assets are cached
 * for a year; the HTML, which names them, is revalidated on every load so an update shows at once.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Context, Hono } from 'hono';
import type { AppEnv } from './app-env.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface Asset {
  readonly type: string;
  readonly etag: string;
  readonly identity: Buffer;
  readonly gzip: Buffer | null;
  readonly br: Buffer | null;
}

export interface WebSite {
  readonly index: Asset;
  readonly assets: ReadonlyMap<string, Asset>;
}

/** Reads the built site from `dir` (index.html, assets/); null when there is no built site there. */
export function loadWebSite(dir: string): WebSite | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  const read = (path: string): Asset => {
    const identity = readFileSync(path);
    const variant = (suffix: string) => (existsSync(path + suffix) ? readFileSync(path + suffix) : null);
    return {
      type: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`,
      identity,
      gzip: variant('.gz'),
      br: variant('.br'),
    };
  };
  const assets = new Map<string, Asset>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      if (!name.endsWith('.gz') && !name.endsWith('.br') && !name.endsWith('.map')) {
        assets.set(name, read(join(assetDir, name)));
      }
    }
  }
  return { index: read(join(dir, 'index.html')), assets };
}

/** Which encoding to send for an `Accept-Encoding` header: brotli, then gzip, else none. */
export function chooseEncoding(header: string | undefined, asset: Asset): 'br' | 'gzip' | null {
  const accepted = new Set(
    (header ?? '')
      .split(',')
      .map((part) => part.trim().split(';'))
      .filter(([, q]) => !q || !/^\s*q=0(\.0*)?\s*$/.test(q))
      .map(([name]) => name?.trim().toLowerCase()),
  );
  if (asset.br && accepted.has('br')) return 'br';
  if (asset.gzip && accepted.has('gzip')) return 'gzip';
  return null;
}

function send(c: Context<AppEnv>, asset: Asset, cacheControl: string): Response {
  const headers: Record<string, string> = {
    'Content-Type': asset.type,
    'Cache-Control': cacheControl,
    ETag: asset.etag,
    Vary: 'Accept-Encoding',
  };
  if (c.req.header('If-None-Match') === asset.etag) return c.body(null, 304, headers);
  const encoding = chooseEncoding(c.req.header('Accept-Encoding'), asset);
  const body = encoding ? (asset[encoding] as Buffer) : asset.identity;
  if (encoding) headers['Content-Encoding'] = encoding;
  return c.body(new Uint8Array(body).buffer, 200, headers);
}

/** GET / (and /index.html) and /assets/<hashed name>. Public: the files hold no device data. */
export function registerWebSite(app: Hono<AppEnv>, site: WebSite): void {
  const index = (c: Context<AppEnv>) => send(c, site.index, 'no-cache');
  app.get('/', index);
  app.get('/index.html', index);
  app.get('/assets/:name', (c, next) => {
    const asset = site.assets.get(c.req.param('name'));
    return asset ? send(c, asset, 'public, max-age=31536000, immutable') : next();
  });
}
