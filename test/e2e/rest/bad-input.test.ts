/**
 * Bad input to the real device's REST interface: malformed JSON, wrong types, unknown fields, bodies
 * over 64 KiB (with and without Content-Length), bad usernames, each password rule, sealed passwords
 * for another user or not sealed at all, a full table, a taken name, protected slots, a slot out of
 * range and ratios out of range. Each answers the documented status, code and field, and leaves the
 * users, the configuration and the security settings exactly as they were. Then raw bytes on the HTTP
 * port (garbage, a huge header, an unterminated request line): 400 or a close, and the device serves on.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ApiResponse } from '../../../firmware/client/device-client.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

interface ErrorBody {
  error: { code: string; message: string; field?: string };
}
interface SlotBody {
  slots: { slot: number; type: string; name: string | null; epoch: number }[];
}

describe('bad input over REST', () => {
  let fx: RestFixture;

  /** Users, configuration and security settings as the device reports them. */
  async function stored(): Promise<unknown> {
    const read = async (path: string) => {
      const response = await fx.admin.request('GET', path);
      assert.equal(response.status, 200, `${path}: ${JSON.stringify(response.body)}`);
      return response.body;
    };
    return {
      users: await read('/api/v1/users'),
      config: await read('/api/v1/config'),
      security: await read('/api/v1/security'),
    };
  }

  /**
   * Sends a request that must be refused: checks status, code and (when given) field and message, and
   * that nothing stored changed.
   */
  async function refused(
    method: string,
    path: string,
    body: unknown,
    expected: { status: number; code: string; field?: string | null; message?: RegExp },
  ): Promise<ApiResponse<ErrorBody>> {
    const before = await stored();
    const response = await fx.admin.request<ErrorBody>(method, path, body);
    const what = `${method} ${path} ${typeof body === 'string' ? body.slice(0, 60) : JSON.stringify(body)?.slice(0, 120)}`;
    assert.equal(response.status, expected.status, `${what}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.error?.code, expected.code, `${what}: ${JSON.stringify(response.body)}`);
    if (expected.field !== undefined)
      assert.equal(response.body.error.field, expected.field ?? undefined, what);
    if (expected.message) assert.match(response.body.error.message, expected.message, what);
    assert.deepEqual(await stored(), before, `${what} changed stored state`);
    return response;
  }

  before(async () => {
    fx = await startRestFixture();
  });
  after(async () => {
    await fx?.close();
  });

  it('malformed JSON → 400 invalid-json', async () => {
    for (const text of ['{"type":"api-key","name":', '{type: "api-key"}', "{'a':1}", '']) {
      await refused('POST', '/api/v1/users', text, { status: 400, code: 'invalid-json', field: 'body' });
    }
    await refused('PATCH', '/api/v1/config', '{"measurement":{"vtRatio":2,}}', {
      status: 400,
      code: 'invalid-json',
      field: 'body',
    });
  });

  it('wrong types → 400 invalid-field naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['PATCH', '/api/v1/config', { measurement: { vtRatio: 'x' } }, 'measurement.vtRatio'],
      ['PATCH', '/api/v1/config', { communication: { modbusTcp: 'yes' } }, 'communication.modbusTcp'],
      [
        'PATCH',
        '/api/v1/config',
        { communication: { rtu: { baudRate: 1234 } } },
        'communication.rtu.baudRate',
      ],
      ['PATCH', '/api/v1/security', { lockout: { lockSeconds: 1.5 } }, 'lockout.lockSeconds'],
      ['PATCH', '/api/v1/security', { whitelist: '127.0.0.1' }, 'whitelist'],
      ['POST', '/api/v1/users', { type: 'api-key', name: 42, preset: 'all' }, 'name'],
      ['POST', '/api/v1/users', { type: 'api-key', name: 'key_x', preset: 'everything' }, 'preset'],
      ['POST', '/api/v1/users', { type: 'root', name: 'key_x' }, 'type'],
    ];
    for (const [method, path, body, field] of cases) {
      await refused(method, path, body, { status: 400, code: 'invalid-field', field });
    }
  });

  it('unknown fields → 400 unknown-field naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['PATCH', '/api/v1/config', { bogus: 1 }, 'bogus'],
      ['PATCH', '/api/v1/config', { measurement: { vtRatio: 2, bogus: 1 } }, 'measurement.bogus'],
      ['PATCH', '/api/v1/security', { lockout: { lockSeconds: 5, foo: 1 } }, 'lockout.foo'],
      ['POST', '/api/v1/users', { type: 'api-key', name: 'key_x', preset: 'all', isAdmin: true }, 'isAdmin'],
    ];
    for (const [method, path, body, field] of cases) {
      await refused(method, path, body, { status: 400, code: 'unknown-field', field });
    }
  });

  it('a body over 64 KiB → 413 body-too-large, with or without Content-Length', async () => {
    await refused(
      'PATCH',
      '/api/v1/config',
      { measurement: { vtRatio: 2 }, pad: 'x'.repeat(64 * 1024) },
      { status: 413, code: 'body-too-large' },
    );
    // Chunked: the device learns the size only while reading.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${fx.httpUrl}/api/v1/auth/challenge`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write('{"username":"');
      for (let i = 0; i < 80; i++) req.write('a'.repeat(1024));
      req.end('"}');
    });
    assert.equal(chunked.status, 413, chunked.body);
    assert.equal((JSON.parse(chunked.body) as ErrorBody).error.code, 'body-too-large');
  });

  it('bad usernames → 400 invalid-username naming name', async () => {
    for (const name of ['-bad', '.dot', 'ab', 'mit leer', 'ümlaut', 'x'.repeat(33)]) {
      await refused(
        'POST',
        '/api/v1/users',
        { type: 'api-key', name, preset: 'read-only' },
        { status: 400, code: 'invalid-username', field: 'name' },
      );
    }
  });

  it('each password rule → 400 invalid-password with a message naming the rule', async () => {
    const rules: [string, RegExp][] = [
      ['kurz1!', /at least 8 characters/],
      ['password123', /commonly used/],
      ['Meterman-77', /similar to the username/],
      ['Cbm.1234x', /similar to the factory default/],
      ['Zeile\nZwei 1234', /control characters/],
    ];
    for (const [password, message] of rules) {
      await refused(
        'POST',
        '/api/v1/users',
        {
          type: 'user',
          name: 'meterman',
          password: await fx.admin.seal('meterman', password),
          role: 'VIEWER',
        },
        { status: 400, code: 'invalid-password', field: 'password', message },
      );
    }
    // The same rules on a reset by the admin and on the own change.
    const created = await fx.admin.request<{ slot: number }>('POST', '/api/v1/users', {
      type: 'user',
      name: 'meterman',
      password: await fx.admin.seal('meterman', 'Zählwerk Nord 4711'),
      role: 'VIEWER',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await refused(
      'PATCH',
      `/api/v1/users/${created.body.slot}`,
      { password: await fx.admin.seal('meterman', 'meterman2') },
      { status: 400, code: 'invalid-password', field: 'password', message: /similar to the username/ },
    );
    const before = await stored();
    await assert.rejects(fx.admin.changeOwnPassword('admin', ADMIN_PASSWORD, 'password123'), {
      status: 400,
      code: 'invalid-password',
    });
    assert.deepEqual(await stored(), before);
    const deleted = await fx.admin.request('DELETE', `/api/v1/users/${created.body.slot}`);
    assert.equal(deleted.status, 200);
  });

  it('sealed passwords for another user, and garbage instead of a sealed box → 400', async () => {
    await refused(
      'POST',
      '/api/v1/users',
      { type: 'user', name: 'meterman', password: await fx.admin.seal('otherman', 'Gute Passphrase 77') },
      { status: 400, code: 'invalid-sealed-secret', field: 'password', message: /another user/ },
    );
    const b64 = (n: number) => randomBytes(n).toString('base64url');
    const garbage: [unknown, string, string][] = [
      [{ epk: 'AAAA', nonce: 'AAAA', box: 'AAAA' }, 'invalid-sealed-secret', 'password'],
      [{ epk: b64(32), nonce: b64(24), box: b64(80) }, 'invalid-sealed-secret', 'password'],
      [{ epk: 'A+/=', nonce: b64(24), box: b64(80) }, 'invalid-field', 'password.epk'],
      [{ epk: b64(32), nonce: b64(24) }, 'invalid-field', 'password.box'],
      ['Klartext-Passwort 1', 'invalid-field', 'password'],
    ];
    for (const [password, code, field] of garbage) {
      await refused(
        'POST',
        '/api/v1/users',
        { type: 'user', name: 'meterman', password },
        { status: 400, code, field },
      );
    }
  });

  it('a duplicate name → 409 name-taken; a full table → 409 table-full', async () => {
    const first = await fx.admin.request<{ slot: number; key: string }>('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'scada_1',
      preset: 'read-only',
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.slot, 3);
    await refused(
      'POST',
      '/api/v1/users',
      { type: 'api-key', name: 'scada_1', preset: 'all' },
      { status: 409, code: 'name-taken', field: 'name' },
    );
    await refused(
      'POST',
      '/api/v1/users',
      {
        type: 'user',
        name: 'admin',
        password: await fx.admin.seal('admin', 'Zweiter Chef 2026'),
        role: 'SECADM',
      },
      { status: 409, code: 'name-taken', field: 'name' },
    );
    await refused('PATCH', '/api/v1/users/3', { name: 'anonymous' }, { status: 409, code: 'name-taken' });
    for (let n = 2; n <= 5; n++) {
      const created = await fx.admin.request<{ slot: number }>('POST', '/api/v1/users', {
        type: 'api-key',
        name: `scada_${n}`,
        preset: 'read-only',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.slot, n + 2);
    }
    const users = await fx.admin.request<SlotBody>('GET', '/api/v1/users');
    assert.deepEqual(
      users.body.slots.map((s) => s.type),
      ['user', 'standard', 'standard', 'api-key', 'api-key', 'api-key', 'api-key', 'api-key'],
    );
    await refused(
      'POST',
      '/api/v1/users',
      { type: 'api-key', name: 'scada_6', preset: 'read-only' },
      { status: 409, code: 'table-full' },
    );
    await refused(
      'POST',
      '/api/v1/users',
      {
        type: 'user',
        name: 'late_user',
        password: await fx.admin.seal('late_user', 'Zu spät gekommen 9'),
        role: 'VIEWER',
      },
      { status: 409, code: 'table-full' },
    );
  });

  it('a body that is not JSON by its Content-Type → 415 unsupported-media-type naming the body', async () => {
    const body = JSON.stringify({ type: 'api-key', name: 'media1', preset: 'all' });
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const before = await stored();
      const response = await fx.admin.request<ErrorBody>('POST', '/api/v1/users', body, {
        'content-type': type,
      });
      assert.equal(response.status, 415, `${type}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, 'unsupported-media-type', type);
      assert.equal(response.body.error.field, 'body', type);
      assert.match(response.body.error.message, /application\/json/);
      assert.deepEqual(await stored(), before, `${type} changed stored state`);
    }
  });

  it('slots 0–2 are protected, slot 9 and a non-number are 400, an empty slot is 404', async () => {
    for (const slot of [0, 1, 2]) {
      await refused('DELETE', `/api/v1/users/${slot}`, undefined, { status: 409, code: 'protected-slot' });
    }
    await refused('PATCH', '/api/v1/users/1', { name: 'display' }, { status: 409, code: 'protected-slot' });
    await refused(
      'PATCH',
      '/api/v1/users/0',
      { permissions: ['measurements.read'] },
      { status: 409, code: 'protected-slot' },
    );
    // Slot 7 is taken here: a lax parse (hex, exponent, padding, sign) would delete or change it.
    for (const slot of ['9', '-1', 'x', '3.5', '0x7', '7e0', '%207', '7%20', '07', '+7', '7.0', '0b111']) {
      await refused('DELETE', `/api/v1/users/${slot}`, undefined, {
        status: 400,
        code: 'invalid-field',
        field: 'slot',
      });
      await refused(
        'PATCH',
        `/api/v1/users/${slot}`,
        { localOnly: true },
        { status: 400, code: 'invalid-field', field: 'slot' },
      );
    }
    // Free slot 7 again, then it is simply not there.
    assert.equal((await fx.admin.request('DELETE', '/api/v1/users/7')).status, 200);
    await refused('DELETE', '/api/v1/users/7', undefined, { status: 404, code: 'not-found' });
  });

  it('a VT ratio of 0 or 20000 → 400 naming measurement.vtRatio; a valid one is stored', async () => {
    for (const vtRatio of [0, 20000, -5]) {
      await refused(
        'PATCH',
        '/api/v1/config',
        { measurement: { vtRatio } },
        { status: 400, code: 'invalid-field', field: 'measurement.vtRatio' },
      );
    }
    // A patch with one bad field stores none of its good ones either.
    await refused(
      'PATCH',
      '/api/v1/config',
      { measurement: { ctRatio: 50, vtRatio: 0 } },
      { status: 400, code: 'invalid-field', field: 'measurement.vtRatio' },
    );
    const ok = await fx.admin.request<{ measurement: { vtRatio: number } }>('PATCH', '/api/v1/config', {
      measurement: { vtRatio: 200 },
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const config = await fx.admin.request<{ measurement: { vtRatio: number; ctRatio: number } }>(
      'GET',
      '/api/v1/config',
    );
    assert.equal(config.body.measurement.vtRatio, 200);
    assert.equal(config.body.measurement.ctRatio, 1);
  });

  describe('raw bytes on the HTTP port', () => {
    /** Sends `data` (then FIN when `end`); resolves with what came back and how the connection ended. */
    const raw = (data: Buffer | string, end: boolean) =>
      new Promise<{ reply: string; closed: boolean }>((resolve) => {
        const socket = connect(fx.device.ready.http as number, '127.0.0.1');
        let reply = '';
        const timer = setTimeout(() => {
          socket.destroy();
          resolve({ reply, closed: false });
        }, 5_000);
        socket.on('data', (chunk: Buffer) => {
          reply += chunk.toString('latin1');
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          clearTimeout(timer);
          resolve({ reply, closed: true });
        });
        socket.write(data);
        if (end) socket.end();
      });

    const stillServes = async () => {
      const info = await fx.http().request<{ model: string }>('GET', '/api/v1/info');
      assert.equal(info.status, 200);
      assert.ok(info.body.model);
    };

    const cases: [string, Buffer | string, boolean][] = [
      ['garbage bytes', Buffer.concat([randomBytes(64), Buffer.from('\r\n\r\n')]), false],
      ['a non-HTTP line', 'HELLO DEVICE\r\n\r\n', false],
      [
        'a huge header',
        `GET /api/v1/info HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`,
        false,
      ],
      ['an unterminated request line, then FIN', 'GET /api/v1/info HTTP/1.1', true],
      ['an endless request line', `GET /${'a'.repeat(40_000)}`, false],
    ];
    for (const [what, data, end] of cases) {
      it(`${what} → 400 or a close, and the device serves on`, async () => {
        const { reply, closed } = await raw(data, end);
        assert.ok(closed, `the device neither answered nor closed (${JSON.stringify(reply.slice(0, 80))})`);
        assert.ok(
          reply === '' || /^HTTP\/1\.1 400 /.test(reply),
          `unexpected reply ${JSON.stringify(reply.slice(0, 80))}`,
        );
        await stillServes();
      });
    }
  });
});
