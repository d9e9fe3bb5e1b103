/**
 * No password crosses the wire readably (DESIGN §5), over plain HTTP as over HTTPS (the plaintext side
 * of TLS): every byte a real protocol client writes is captured while it logs in, changes its own
 * password, creates a user with a password and resets a user's password as admin; the capture holds
 * none of those passwords in UTF-8, UTF-16, URL-encoded, JSON-escaped, hex, base64 or base64url form,
 * although each request did succeed and its other body fields are in the capture.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeviceClient } from '../../../firmware/client/device-client.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

/** base64 characters that depend only on `bytes`, wherever they sit in a longer encoded string. */
function base64Cores(bytes: Buffer, alphabet: 'base64' | 'base64url'): string[] {
  const cores: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString(alphabet);
    const first = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    cores.push(encoded.slice(first, end));
  }
  return cores;
}

/** Every form in which a careless client might send `password`. */
function forms(password: string): { name: string; bytes: Buffer }[] {
  const utf8 = Buffer.from(password, 'utf8');
  const utf16le = Buffer.from(password, 'utf16le');
  const utf16be = Buffer.from(utf16le).swap16();
  const jsonEscaped = JSON.stringify(password)
    .slice(1, -1)
    .replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const text: [string, string][] = [
    ['utf-8', password],
    ['url-encoded', encodeURIComponent(password)],
    ['form-encoded', new URLSearchParams({ p: password }).toString().slice(2)],
    ['json-escaped', jsonEscaped],
    ['hex', utf8.toString('hex')],
    ['HEX', utf8.toString('hex').toUpperCase()],
    ...base64Cores(utf8, 'base64').map((core, i): [string, string] => [`base64@${i}`, core]),
    ...base64Cores(utf8, 'base64url').map((core, i): [string, string] => [`base64url@${i}`, core]),
    ...base64Cores(utf16le, 'base64').map((core, i): [string, string] => [`utf-16le base64@${i}`, core]),
  ];
  return [
    ...text.map(([name, value]) => ({ name, bytes: Buffer.from(value, 'utf8') })),
    { name: 'utf-16le', bytes: utf16le },
    { name: 'utf-16be', bytes: utf16be },
  ];
}

/** Fails naming the form if `captured` holds `password` in any of them (case-insensitive for text). */
function assertAbsent(captured: Buffer, password: string, what: string): void {
  const lower = Buffer.from(captured.toString('latin1').toLowerCase(), 'latin1');
  for (const form of forms(password)) {
    const caseless = /^(url|form|hex|HEX|json)/.test(form.name);
    const haystack = caseless ? lower : captured;
    const needle = caseless ? Buffer.from(form.bytes.toString('latin1').toLowerCase(), 'latin1') : form.bytes;
    assert.equal(haystack.includes(needle), false, `${what}: the ${form.name} form of the password was sent`);
  }
}

class Capture {
  private chunks: Buffer[] = [];
  readonly onWrite = (chunk: Buffer) => {
    this.chunks.push(Buffer.from(chunk));
  };
  take(): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    return all;
  }
}

interface SlotBody {
  slots: { slot: number; name: string | null; epoch: number }[];
}

describe('no password in plain text on the wire', () => {
  let fx: RestFixture;
  before(async () => {
    fx = await startRestFixture();
  });
  after(async () => {
    await fx?.close();
  });

  it('the detector itself finds each form of a password in a capture', () => {
    const password = 'Ünïcode-Pässwort ☀ 42';
    for (const form of forms(password)) {
      const captured = Buffer.concat([
        Buffer.from('POST /x HTTP/1.1\r\n\r\n{"a":"'),
        form.bytes,
        Buffer.from('"}'),
      ]);
      assert.throws(
        () => assertAbsent(captured, password, 'self-test'),
        /form of the password was sent/,
        form.name,
      );
    }
    assertAbsent(Buffer.from('nothing to see here'), password, 'self-test');
  });

  const cases = [
    {
      transport: 'http',
      user: 'wire_http',
      created: 'Mess-Stelle 7 Nord!',
      changed: 'Grüße aus dem Zählerschrank ☀',
      reset: 'Ersatz-Kennwort 31 Süd',
    },
    {
      transport: 'https',
      user: 'wire_https',
      created: 'Umspannwerk 12 West',
      changed: 'Kraftwerk–Ost ∆ 2026',
      reset: 'Trafostation 88 Mitte',
    },
  ] as const;

  for (const c of cases) {
    describe(`over ${c.transport.toUpperCase()}`, () => {
      const client = (capture: Capture): DeviceClient =>
        c.transport === 'http'
          ? fx.http({ onWrite: capture.onWrite })
          : fx.https({ onWrite: capture.onWrite });
      const adminCapture = new Capture();
      const userCapture = new Capture();
      let admin: DeviceClient;
      let user: DeviceClient;
      let slot: number;

      it('admin login sends no password', async () => {
        admin = client(adminCapture);
        const me = await admin.login('admin', ADMIN_PASSWORD);
        assert.equal(me.name, 'admin');
        assert.equal(me.mustChangePassword, false);
        const captured = adminCapture.take();
        assert.match(captured.toString('latin1'), /POST \/api\/v1\/auth\/login HTTP\/1\.1/);
        assert.ok(captured.includes('"username":"admin"'), 'the login body is in the capture');
        assertAbsent(captured, ADMIN_PASSWORD, 'login');
      });

      it('creating a user sends no password', async () => {
        const created = await admin.request<{ slot: number }>('POST', '/api/v1/users', {
          type: 'user',
          name: c.user,
          password: await admin.seal(c.user, c.created),
          role: 'VIEWER',
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        slot = created.body.slot;
        const captured = adminCapture.take();
        assert.ok(captured.includes(`"name":"${c.user}"`), 'the creation body is in the capture');
        assertAbsent(captured, c.created, 'user creation');
        const users = await fx.admin.request<SlotBody>('GET', '/api/v1/users');
        assert.equal(users.body.slots[slot]?.name, c.user);
      });

      it("the user's login and own password change send neither the old nor the new password", async () => {
        user = client(userCapture);
        assert.equal((await user.login(c.user, c.created)).name, c.user);
        const me = await user.changeOwnPassword(c.user, c.created, c.changed);
        assert.equal(me.name, c.user);
        const captured = userCapture.take();
        assert.match(captured.toString('latin1'), /POST \/api\/v1\/me\/password HTTP\/1\.1/);
        assert.ok(captured.includes('"newPassword":{"epk":'), 'the change body is in the capture');
        assertAbsent(captured, c.created, 'login + change (old password)');
        assertAbsent(captured, c.changed, 'change (new password)');
        // The change took effect: the new password logs in, the old one does not.
        const check = client(new Capture());
        await assert.rejects(check.login(c.user, c.created), { status: 401, code: 'invalid-credentials' });
        assert.equal((await check.login(c.user, c.changed)).name, c.user);
      });

      it('an admin password reset sends no password', async () => {
        const before = await fx.admin.request<SlotBody>('GET', '/api/v1/users');
        const reset = await admin.request('PATCH', `/api/v1/users/${slot}`, {
          password: await admin.seal(c.user, c.reset),
        });
        assert.equal(reset.status, 200, JSON.stringify(reset.body));
        const captured = adminCapture.take();
        assert.match(captured.toString('latin1'), new RegExp(`PATCH /api/v1/users/${slot} HTTP/1\\.1`));
        assertAbsent(captured, c.reset, 'password reset');
        const afterReset = await fx.admin.request<SlotBody>('GET', '/api/v1/users');
        assert.ok(
          (afterReset.body.slots[slot]?.epoch ?? 0) > (before.body.slots[slot]?.epoch ?? 0),
          'the reset changed the stored entry',
        );
        const check = client(new Capture());
        await assert.rejects(check.login(c.user, c.changed), { status: 401, code: 'invalid-credentials' });
        assert.equal((await check.login(c.user, c.reset)).name, c.user);
      });
    });
  }
});
