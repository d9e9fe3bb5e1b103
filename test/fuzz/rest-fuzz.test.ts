/**
 * Fuzzes the REST interface of the real device process with fast-check: for every route of its
 * OpenAPI document, requests with random methods, path parameters, query strings, headers and bodies
 * (random JSON, deeply nested JSON, huge strings, bytes that are not UTF-8), anonymous, with a random
 * or a real API key, and in an admin session. The oracle: never a 5xx, every API error in the
 * documented `{"error":{"code","message"}}` form, the process alive. Afterwards a well-formed client
 * still gets correct answers and the process RSS is within bounds. The seed is printed; rerun with
 * REST_FUZZ_SEED=<seed>; FUZZ_BUDGET_MS sets the time (`npm run fuzz -- --minutes N`).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { DeviceClient } from '../../firmware/client/device-client.ts';
import { rssMb } from '../support/process-memory.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../support/rest-fixture.ts';
import { fuzzSeed } from '../support/seeded-random.ts';

const SEED = fuzzSeed('REST_FUZZ_SEED');
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 10_000);
/**
 * The device's RSS after the run stays under this. Large and deeply nested bodies raise V8's heap high
 * water mark (it is not given back at once), so the bound is absolute: a leak would pass it.
 */
const RSS_BOUND_MB = 220;

/** Operations that, done in the admin's session, change the device's own TLS identity. */
const REPLACES_TRUST = new Set(['DELETE /api/v1/tls', 'PUT /api/v1/tls', 'POST /api/v1/restore']);

interface RawResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** One HTTP request with exactly these bytes as the body (node:http, no client-side checks). */
function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<RawResponse> {
  // Framed by Content-Length: node would send a GET's body unframed, which makes a broken stream, not
  // a malformed request (the HTTP parser answers a broken stream with a bare 400 and closes, rightly).
  const framed = body === undefined ? headers : { ...headers, 'content-length': String(body.length) };
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: framed, agent: false, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${method} ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

const nested = (depth: number, open: string, close: string, inner = '0') =>
  `${open.repeat(depth)}${inner}${close.repeat(depth)}`;

const bodyArbitrary = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 4 }).map((value) => Buffer.from(JSON.stringify(value))),
  fc
    .dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }))
    .map((value) => Buffer.from(JSON.stringify(value))),
  fc.integer({ min: 100, max: 100_000 }).map((depth) => Buffer.from(nested(depth, '[', ']'))),
  fc.integer({ min: 100, max: 50_000 }).map((depth) => Buffer.from(nested(depth, '{"a":', '}'))),
  fc.integer({ min: 1, max: 200_000 }).map((size) => Buffer.from(JSON.stringify({ name: 'x'.repeat(size) }))),
  fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
  fc
    .constantFrom('\xff\xfe{"name":"\xc3\x28"}', '{"name":"\ud800"}', '{', 'null', '[]', '""')
    .map((text) => Buffer.from(text, 'latin1')),
);

const segment = fc.oneof(
  fc.string({ maxLength: 16 }),
  fc.constantFrom(
    '0',
    '3',
    '7',
    '8',
    '-1',
    '99999999999999999999',
    '..',
    '%00',
    '%2e%2e',
    'ä',
    '%ff',
    '{slot}',
    'a'.repeat(300),
  ),
);

const headerArbitrary = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'text/plain',
      'application/json; charset=latin1',
      'multipart/form-data',
      '',
    ),
    authorization: fc.oneof(
      fc.constantFrom(
        'Bearer ',
        'Bearer mgk_',
        `Bearer mgk_${'A'.repeat(43)}`,
        'Basic YWRtaW46Q0JNXzEyMzQ=',
        'Bearer \u00ff',
      ),
      fc.string({ maxLength: 80 }).map((s) => `Bearer ${s.replace(/[^\x21-\x7e]/g, '')}`),
    ),
    cookie: fc.string({ maxLength: 80 }).map((s) => `mg_session=${s.replace(/[^\x21-\x7e]|;/g, '')}`),
    'x-csrf-token': fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x21-\x7e]/g, '')),
    origin: fc.constantFrom('http://evil.example', 'null', 'http://127.0.0.1'),
    'sec-fetch-site': fc.constantFrom('cross-site', 'same-origin', 'none'),
    'accept-encoding': fc.constantFrom('gzip', 'br', 'identity;q=0', '*'),
  },
  { requiredKeys: [] },
);

describe('REST fuzzing (fast-check, real device process)', () => {
  let fx: RestFixture;
  let paths: { method: string; path: string }[];
  let apiKey: string;

  before(async () => {
    fx = await startRestFixture();
    const spec = await fx.admin.request<{ paths: Record<string, Record<string, unknown>> }>(
      'GET',
      '/api/v1/openapi.json',
    );
    paths = Object.entries(spec.body.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => ({ method: method.toUpperCase(), path })),
    );
    const created = await fx.admin.request<{ key: string }>('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'fuzz_key',
      preset: 'read-only',
    });
    apiKey = created.body.key;
  });

  after(async () => {
    await fx?.close();
  });

  it('no request, however malformed, gets a 5xx, an undocumented error form, or crashes the device', async (t) => {
    t.diagnostic(
      `seed ${SEED} (rerun with REST_FUZZ_SEED=${SEED}), budget ${BUDGET_MS} ms, ${paths.length} operations`,
    );
    const port = fx.device.ready.http as number;
    const pid = fx.device.process.pid as number;
    // Warm up before the baseline: the first requests of each kind allocate caches.
    for (let i = 0; i < 50; i++) await raw(port, 'GET', '/api/v1/measurements', {});
    const rssBefore = rssMb(pid);
    const statuses = new Map<number, number>();
    let runs = 0;
    const requestArbitrary = fc.record({
      route: fc.constantFrom(...paths),
      method: fc.oneof(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
        fc.constant('ROUTE'),
      ),
      params: fc.array(segment, { minLength: 1, maxLength: 3 }),
      query: fc.option(
        fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 4 }),
        { nil: undefined },
      ),
      headers: headerArbitrary,
      credential: fc.constantFrom('random', 'none', 'api-key', 'session'),
      body: bodyArbitrary,
    });
    await fc.assert(
      fc.asyncProperty(requestArbitrary, async (r) => {
        runs++;
        let param = 0;
        let path = r.route.path.replace(/\{[^}]+\}/g, () =>
          encodeURIComponent(r.params[param++ % r.params.length] as string).replace(/%25/g, '%'),
        );
        if (r.query) path += `?${new URLSearchParams(r.query).toString()}`;
        const method = r.method === 'ROUTE' ? r.route.method : r.method;
        const headers: Record<string, string> = { ...r.headers };
        if (r.credential === 'none') {
          delete headers.authorization;
          delete headers.cookie;
        }
        if (r.credential === 'api-key') headers.authorization = `Bearer ${apiKey}`;
        // In the admin's session these would replace the certificate this test's HTTPS client trusts
        // (DELETE /tls needs no body at all): fuzzed with the other credentials, and in their own e2e tests.
        const session = r.credential === 'session' && !REPLACES_TRUST.has(`${method} ${r.route.path}`);
        let response: RawResponse;
        if (session && method !== 'HEAD' && method !== 'OPTIONS') {
          // The admin's own session: the client adds the cookie and CSRF token.
          const answer = await fx.admin.request(method, path, r.body?.toString('latin1'), {
            'content-type': headers['content-type'] || 'application/json',
          });
          response = {
            status: answer.status,
            contentType: String(answer.headers['content-type'] ?? ''),
            body: typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body),
          };
        } else {
          response = await raw(port, method, path, headers, r.body);
        }
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const context = `${method} ${path.slice(0, 120)} (${r.credential}): ${response.status} ${response.body.slice(0, 200)}`;
        assert.ok(response.status >= 200 && response.status < 500, context);
        if (response.status >= 400 && method !== 'HEAD' && path.startsWith('/api/')) {
          assert.match(response.contentType, /application\/json/, context);
          const error = (JSON.parse(response.body) as { error?: { code?: unknown; message?: unknown } })
            .error;
          assert.equal(typeof error?.code, 'string', context);
          assert.equal(typeof error?.message, 'string', context);
        }
      }),
      {
        seed: SEED,
        numRuns: 1_000_000,
        interruptAfterTimeLimit: BUDGET_MS,
        markInterruptAsFailure: false,
        endOnFailure: true,
      },
    );
    t.diagnostic(`${runs} requests; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok(runs > 100, `only ${runs} requests were made`);
    assert.equal(fx.device.process.exitCode, null, 'the device is still running');

    // A well-formed client still gets correct answers.
    const info = await fx.http().request<{ serialNumber: string }>('GET', '/api/v1/info');
    assert.equal(info.status, 200);
    assert.match(info.body.serialNumber, /\S/);
    const again = fx.https();
    const me = await again.login('admin', ADMIN_PASSWORD);
    assert.equal(me.slot, 0);
    // The admin session's fuzzed requests may well have deleted the fuzz key (DELETE /users/3 is a
    // valid request): a key made now must work.
    const slots = await again.request<{ slots: { slot: number; type: string }[] }>('GET', '/api/v1/users');
    // Room for it, whatever the fuzzing added.
    for (const entry of slots.body.slots.filter((s) => s.slot >= 3 && s.type !== 'empty')) {
      assert.equal((await again.request('DELETE', `/api/v1/users/${entry.slot}`)).status, 200);
    }
    const fresh = await again.request<{ key: string }>('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'fuzz_after',
      preset: 'read-only',
    });
    assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
    const measured = await new DeviceClient(fx.httpsUrl, { ca: fx.ca, apiKey: fresh.body.key }).request<{
      frequency: number;
    }>('GET', '/api/v1/measurements');
    assert.equal(measured.status, 200);
    assert.ok(measured.body.frequency > 40 && measured.body.frequency < 70, 'a plausible frequency');
    const rssAfter = rssMb(pid);
    t.diagnostic(`device RSS ${rssBefore.toFixed(0)} MB before, ${rssAfter.toFixed(0)} MB after`);
    assert.ok(rssAfter < RSS_BOUND_MB, `device RSS is ${rssAfter.toFixed(0)} MB after the run`);
  });
});
