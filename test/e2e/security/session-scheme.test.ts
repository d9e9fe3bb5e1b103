/**
 * Sessions crossing schemes (docs/security.md, attack 6): a session made over plain HTTP, whose cookie
 * anyone on the path may have read, must not be accepted over HTTPS, nor an HTTPS session over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MeBody } from '../../../firmware/client/device-client.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

let fixture: RestFixture;
before(async () => {
  fixture = await startRestFixture();
});
after(() => fixture.close());

/** The token of a fresh admin session made over `scheme`. */
async function sessionToken(scheme: 'http' | 'https'): Promise<string> {
  const client = scheme === 'http' ? fixture.http() : fixture.https();
  const proof = await client.prove('login', 'admin', ADMIN_PASSWORD);
  const response = await client.request('POST', '/api/v1/auth/login', { username: 'admin', ...proof });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const cookie = response.headers['set-cookie']?.find((c) => /mg_session=/.test(c)) ?? '';
  return /mg_session=([^;]+)/.exec(cookie)?.[1] ?? '';
}

async function whoIs(scheme: 'http' | 'https', token: string): Promise<MeBody> {
  const client = scheme === 'http' ? fixture.http() : fixture.https();
  const name = scheme === 'https' ? '__Host-mg_session' : 'mg_session';
  const response = await client.request<MeBody>('GET', '/api/v1/me', undefined, {
    cookie: `${name}=${token}`,
  });
  assert.equal(response.status, 200);
  return response.body;
}

test('a session made over HTTP is not accepted over HTTPS', async () => {
  const token = await sessionToken('http');
  assert.equal((await whoIs('http', token)).name, 'admin', 'the session works where it was made');
  assert.equal((await whoIs('https', token)).name, 'anonymous');
  assert.equal((await whoIs('http', token)).name, 'admin', 'and is not ended by the attempt');
});

test('a session made over HTTPS is not accepted over HTTP', async () => {
  const token = await sessionToken('https');
  assert.equal((await whoIs('https', token)).name, 'admin');
  assert.equal((await whoIs('http', token)).name, 'anonymous');
});
