/**
 * The device website as the real device process serves it from dist/web: the HTML revalidated on
 * every load under a CSP with no inline script or style, each hashed asset cached for a year and sent
 * in the encoding the client asked for (brotli, gzip or none) with the same bytes after decoding, 304
 * on a matching ETag, 404 for unknown assets, and a device without a built site still serving the API.
 * Plain node:http requests, so Accept-Encoding is exactly what each test sends. Also chooseEncoding.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { chooseEncoding } from '../../../firmware/http/web-site.ts';
import { REPO_ROOT, type RunningDevice, startDevice } from '../../support/device-process.ts';

const WEB_DIR = join(REPO_ROOT, 'dist', 'web');

interface Manifest {
  assets: { file: string; raw: number; gzip: number; brotli: number }[];
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<Answer>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The JS and CSS the build produced, by the names the manifest gives them. */
function builtAssets(): { name: string; raw: Buffer; type: RegExp }[] {
  const manifest = JSON.parse(readFileSync(join(WEB_DIR, 'manifest.json'), 'utf8')) as Manifest;
  return manifest.assets
    .filter((a) => /^assets\/.+\.(js|css)$/.test(a.file))
    .map((a) => ({
      name: a.file.slice('assets/'.length),
      raw: readFileSync(join(WEB_DIR, a.file)),
      type: a.file.endsWith('.js') ? /^text\/javascript\b/ : /^text\/css\b/,
    }));
}

describe('website served by the device process', () => {
  let dataDir: string;
  let device: RunningDevice;
  let port: number;
  const assets = builtAssets();

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'metergate-web-'));
    device = await startDevice(['--data-dir', dataDir]);
    port = device.ready.http as number;
  });
  after(async () => {
    await device?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the build has a JS and a CSS asset to serve', () => {
    assert.ok(assets.some((a) => a.name.endsWith('.js')));
    assert.ok(assets.some((a) => a.name.endsWith('.css')));
  });

  it('GET / is the HTML, revalidated every time, under a CSP without inline script or eval', async () => {
    const res = await get(port, '/');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html\b/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.equal(res.headers['content-encoding'], undefined);
    const csp = String(res.headers['content-security-policy']);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const directives = new Map(
      csp.split(';').map((d) => {
        const [name = '', ...values] = d.trim().split(/\s+/);
        return [name, values.join(' ')];
      }),
    );
    assert.equal(directives.get('script-src'), "'self'");
    assert.deepEqual(res.body, readFileSync(join(WEB_DIR, 'index.html')));
  });

  it('the HTML has no inline script or style attribute and names every built asset', async () => {
    const html = (await get(port, '/')).body.toString('utf8');
    for (const [, attributes, content] of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
      assert.equal(content?.trim(), '', `inline script: ${attributes}`);
      assert.match(attributes ?? '', /\bsrc="\/assets\//);
    }
    assert.doesNotMatch(html, /\sstyle\s*=/i);
    assert.doesNotMatch(html, /<style\b/i);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'no inline event handlers');
    // The page names its entry assets (script, preloaded chunks, CSS). One loaded on demand is
    // reachable from them: named by a script the page loads (the PBKDF2 worker, the language packs) or
    // by a chunk such a script imports ('./chunk-….js', esbuild's relative chunk imports), and so on.
    const onDemand: string[] = JSON.parse(readFileSync(join(WEB_DIR, 'manifest.json'), 'utf8')).onDemand;
    const reached = new Set([...html.matchAll(/"\/assets\/([^"]+\.js)"/g)].map((m) => m[1] as string));
    for (let grew = true; grew; ) {
      grew = false;
      const scripts = [...reached]
        .map((name) => readFileSync(join(WEB_DIR, 'assets', name), 'utf8'))
        .join('\n');
      for (const file of onDemand) {
        const name = file.slice('assets/'.length);
        if (reached.has(name) || !(scripts.includes(`/assets/${name}`) || scripts.includes(`./${name}`)))
          continue;
        reached.add(name);
        grew = true;
      }
    }
    assert.equal(assets.filter((a) => /^app-.+\.js$/.test(a.name)).length, 1);
    for (const asset of assets) {
      if (onDemand.includes(`assets/${asset.name}`))
        assert.ok(reached.has(asset.name), `${asset.name} is named`);
      else assert.ok(html.includes(`"/assets/${asset.name}"`), asset.name);
    }
  });

  it('GET /index.html is the same page', async () => {
    const [root, index] = await Promise.all([get(port, '/'), get(port, '/index.html')]);
    assert.equal(index.status, 200);
    assert.equal(index.headers['cache-control'], 'no-cache');
    assert.deepEqual(index.body, root.body);
    assert.equal(index.headers.etag, root.headers.etag);
  });

  it('HEAD / answers 200 with the headers and no body', async () => {
    const res = await get(port, '/', {}, 'HEAD');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html\b/);
    assert.equal(res.body.length, 0);
  });

  it('the HTML is compressed too when asked for, and answers 304 to its own ETag', async () => {
    const raw = readFileSync(join(WEB_DIR, 'index.html'));
    const br = await get(port, '/', { 'Accept-Encoding': 'br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.deepEqual(brotliDecompressSync(br.body), raw);
    const again = await get(port, '/', { 'If-None-Match': String(br.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
  });

  describe('each built asset', () => {
    for (const asset of builtAssets()) {
      const path = `/assets/${asset.name}`;

      it(`${asset.name}: brotli when accepted, decoding to the built file`, async () => {
        const res = await get(port, path, { 'Accept-Encoding': 'gzip, deflate, br' });
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-encoding'], 'br');
        assert.deepEqual(brotliDecompressSync(res.body), asset.raw);
        const only = await get(port, path, { 'Accept-Encoding': 'br' });
        assert.equal(only.headers['content-encoding'], 'br');
        assert.deepEqual(only.body, res.body);
      });

      it(`${asset.name}: gzip when that is all the client takes, or brotli is refused with q=0`, async () => {
        for (const accept of ['gzip', 'br;q=0, gzip']) {
          const res = await get(port, path, { 'Accept-Encoding': accept });
          assert.equal(res.status, 200);
          assert.equal(res.headers['content-encoding'], 'gzip', accept);
          assert.deepEqual(gunzipSync(res.body), asset.raw);
        }
      });

      it(`${asset.name}: the file itself without Accept-Encoding`, async () => {
        const res = await get(port, path);
        assert.equal(res.status, 200);
        assert.equal(res.headers['content-encoding'], undefined);
        assert.deepEqual(res.body, asset.raw);
      });

      it(`${asset.name}: cached a year as immutable, varying by encoding, with its type`, async () => {
        const res = await get(port, path, { 'Accept-Encoding': 'br' });
        assert.equal(res.headers.vary, 'Accept-Encoding');
        const cacheControl = String(res.headers['cache-control']);
        assert.match(cacheControl, /\bimmutable\b/);
        assert.match(cacheControl, /\bmax-age=31536000\b/);
        assert.match(String(res.headers['content-type']), asset.type);
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
      });

      it(`${asset.name}: 304 with an empty body for its ETag`, async () => {
        const first = await get(port, path, { 'Accept-Encoding': 'gzip' });
        const etag = String(first.headers.etag);
        assert.match(etag, /^"[^"]+"$/);
        const res = await get(port, path, { 'If-None-Match': etag, 'Accept-Encoding': 'gzip' });
        assert.equal(res.status, 304);
        assert.equal(res.body.length, 0);
        assert.equal(res.headers.etag, etag);
        const stale = await get(port, path, { 'If-None-Match': '"something-else"' });
        assert.equal(stale.status, 200);
      });
    }
  });

  it('an unknown asset is the API 404', async () => {
    const res = await get(port, '/assets/nope.js', { 'Accept-Encoding': 'br, gzip' });
    assert.equal(res.status, 404);
    assert.match(String(res.headers['content-type']), /^application\/json\b/);
    const body = JSON.parse(res.body.toString('utf8')) as { error: { code: string } };
    assert.equal(body.error.code, 'not-found');
  });

  it('the API is still never cached', async () => {
    const res = await get(port, '/api/v1/info');
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
  });
});

describe('device without a built website', () => {
  it('serves the API alone and says why on stderr', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'metergate-web-'));
    const emptyWebDir = mkdtempSync(join(tmpdir(), 'metergate-noweb-'));
    const device = await startDevice(['--data-dir', dataDir, '--web-dir', emptyWebDir]);
    try {
      const port = device.ready.http as number;
      const page = await get(port, '/');
      assert.equal(page.status, 404);
      assert.equal(
        (JSON.parse(page.body.toString('utf8')) as { error: { code: string } }).error.code,
        'not-found',
      );
      assert.equal((await get(port, '/api/v1/info')).status, 200);
      assert.match(device.stderr(), /no built website in .*metergate-noweb-/);
    } finally {
      await device.stop();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(emptyWebDir, { recursive: true, force: true });
    }
  });
});

describe('chooseEncoding', () => {
  const both = {
    type: 'text/css',
    etag: '"x"',
    identity: Buffer.from('a'),
    gzip: Buffer.from('g'),
    br: Buffer.from('b'),
  };
  const gzipOnly = { ...both, br: null };
  const plain = { ...both, gzip: null, br: null };

  it('prefers brotli, then gzip, whatever order and case the client lists them in', () => {
    assert.equal(chooseEncoding('gzip, deflate, br', both), 'br');
    assert.equal(chooseEncoding('br', both), 'br');
    assert.equal(chooseEncoding('GZIP', both), 'gzip');
    assert.equal(chooseEncoding(' Br ', both), 'br');
    assert.equal(chooseEncoding('deflate, gzip;q=0.5', both), 'gzip');
    assert.equal(chooseEncoding('br;q=1.0', both), 'br');
  });

  it('treats q=0 as a refusal', () => {
    assert.equal(chooseEncoding('br;q=0, gzip', both), 'gzip');
    assert.equal(chooseEncoding('br;q=0.0, gzip;q=0.000', both), null);
    assert.equal(chooseEncoding('br; q=0', both), null);
  });

  it('sends the file as it is without a usable encoding', () => {
    assert.equal(chooseEncoding(undefined, both), null);
    assert.equal(chooseEncoding('', both), null);
    assert.equal(chooseEncoding('identity', both), null);
    assert.equal(chooseEncoding('deflate', both), null);
    // A wildcard is not taken as naming brotli or gzip: identity is always acceptable, so this is safe.
    assert.equal(chooseEncoding('*', both), null);
  });

  it('offers only the variants the build made', () => {
    assert.equal(chooseEncoding('br, gzip', gzipOnly), 'gzip');
    assert.equal(chooseEncoding('br', gzipOnly), null);
    assert.equal(chooseEncoding('br, gzip', plain), null);
  });
});
