/**
 * Attacks on the login from the network without a password (issue 13, items 3–5), each performed
 * against the real device process from distinct loopback source addresses (127.0.0.x):
 * - a flood of logins with random nonces from one source is answered 429 (cheaply, not counted as
 *   failed logins) while a real login from another source still works;
 * - attacker sources lock the admin account everywhere, but the source the admin logged in from
 *   recently still logs in;
 * - a source whose lock ran out is locked again by its next failure, for longer (counts persist);
 * - a login in progress survives 10,000 challenge requests from two other sources.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent, request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiResponse, DeviceClient } from '../../../firmware/client/device-client.ts';
import { attemptLogin, type ErrorBody, expectError, retryAfter } from '../../support/login-attempts.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

interface Lockout {
  delayAfterFailures: number;
  baseDelayMs: number;
  lockAfterFailures: number;
  lockSeconds: number;
  accountLockAfterFailures: number;
}

const WRONG = 'Falsches Kennwort 99';
const USERS = { la_relock: 'Wieder-Sperre Test 66', la_flood: 'Nonce-Flut Test 77' } as const;
const b64u = (bytes: number) => randomBytes(bytes).toString('base64url');

describe('login attacks from the network', () => {
  let fx: RestFixture;
  const https = (n: number): DeviceClient => fx.https({ localAddress: `127.0.0.${n}` });
  const http = (n: number): DeviceClient => fx.http({ localAddress: `127.0.0.${n}` });

  async function setLockout(lockout: Lockout): Promise<void> {
    const response = await fx.admin.request('PATCH', '/api/v1/security', { lockout });
    assert.equal(response.status, 200, JSON.stringify(response.body));
  }

  before(async () => {
    fx = await startRestFixture();
    for (const [name, password] of Object.entries(USERS)) {
      const created = await fx.admin.request('POST', '/api/v1/users', {
        type: 'user',
        name,
        password: await fx.admin.seal(name, password),
        role: 'VIEWER',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
  });
  after(async () => {
    await fx?.close();
  });

  it('a flood of logins with random nonces from one source gets 429; a real login from another works', async () => {
    const flooder = http(2);
    const statuses: number[] = [];
    let limited: ApiResponse<ErrorBody> | undefined;
    for (let i = 0; i < 100; i++) {
      const response = await flooder.request<ErrorBody>('POST', '/api/v1/auth/login', {
        username: i % 2 ? 'admin' : `ghost_${i}`,
        nonce: b64u(32),
        signature: b64u(64),
      });
      statuses.push(response.status);
      if (response.status === 429) limited ??= response;
      else expectError(response, 401, 'challenge-expired', `random nonce ${i}`);
    }
    assert.ok(limited, `no 429 in ${statuses.join(',')}`);
    expectError(limited, 429, 'rate-limited', 'the flooding source');
    retryAfter(limited);
    const first = statuses.indexOf(429);
    assert.ok(
      statuses.slice(first).every((s) => s === 429),
      `once limited, the source stays limited: ${statuses.join(',')}`,
    );
    // The limit is the source's: its own real login waits too; another source logs in.
    expectError(
      await attemptLogin(http(2), 'admin', ADMIN_PASSWORD),
      429,
      'rate-limited',
      'real login from .2',
    );
    assert.equal((await https(3).login('admin', ADMIN_PASSWORD)).name, 'admin');
  });

  it("attacker sources lock the admin account, but the admin's recent source still logs in", async () => {
    await setLockout({
      delayAfterFailures: 2,
      baseDelayMs: 0,
      lockAfterFailures: 4,
      lockSeconds: 120,
      accountLockAfterFailures: 5,
    });
    // fx.admin logged in from 127.0.0.1 when the fixture started.
    let failures = 0;
    for (const [source, count] of [
      [4, 2],
      [5, 2],
      [6, 1],
    ] as const) {
      for (let i = 0; i < count; i++) {
        failures++;
        expectError(
          await attemptLogin(https(source), 'admin', WRONG),
          401,
          'invalid-credentials',
          `failure ${failures}`,
        );
      }
    }
    const elsewhere = await attemptLogin(https(7), 'admin', ADMIN_PASSWORD);
    expectError(elsewhere, 423, 'locked', 'right password from a source that never logged in');
    expectError(
      await attemptLogin(https(4), 'admin', ADMIN_PASSWORD),
      423,
      'locked',
      'from an attacker source',
    );
    assert.equal(
      (await https(1).login('admin', ADMIN_PASSWORD)).name,
      'admin',
      'the source the admin logged in from is not locked out by the others',
    );
    // Its own failures still count against it like anyone's.
    assert.ok((await attemptLogin(https(1), 'admin', WRONG)).status === 401);
  });

  it('a source whose lock ran out is locked again by its next failure, for longer', async () => {
    await setLockout({
      delayAfterFailures: 2,
      baseDelayMs: 0,
      lockAfterFailures: 3,
      lockSeconds: 1,
      accountLockAfterFailures: 100,
    });
    const client = https(9);
    for (let i = 1; i <= 3; i++) {
      expectError(await attemptLogin(client, 'la_relock', WRONG), 401, 'invalid-credentials', `failure ${i}`);
    }
    const locked = await attemptLogin(client, 'la_relock', USERS.la_relock);
    expectError(locked, 423, 'locked', 'after 3 failures');
    assert.equal(retryAfter(locked), 1);
    await sleep(retryAfter(locked) * 1000 + 100);
    expectError(
      await attemptLogin(client, 'la_relock', WRONG),
      401,
      'invalid-credentials',
      'failure 4, after the lock',
    );
    const relocked = await attemptLogin(client, 'la_relock', USERS.la_relock);
    expectError(relocked, 423, 'locked', 'one failure after the lock locks again');
    assert.equal(retryAfter(relocked), 2, 'the second lock is twice as long');
    await sleep(retryAfter(relocked) * 1000 + 100);
    assert.equal((await client.login('la_relock', USERS.la_relock)).name, 'la_relock');
  });

  it('a login in progress survives 10,000 challenge requests from two other sources', async () => {
    const client = https(10);
    const { nonce, signature } = await client.prove('login', 'la_flood', USERS.la_flood);
    const port = Number(new URL(fx.httpUrl).port);
    const flood = async (source: string, count: number) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 4, localAddress: source });
      const statuses = new Map<number, number>();
      let next = 0;
      const worker = async () => {
        while (next < count) {
          next++;
          const status = await postChallenge(agent, port, `flood_${next % 1000}`);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
      agent.destroy();
      return statuses;
    };
    const [a, b] = await Promise.all([flood('127.0.0.11', 5000), flood('127.0.0.12', 5000)]);
    assert.deepEqual([...a], [[200, 5000]], 'every challenge of .11 was answered');
    assert.deepEqual([...b], [[200, 5000]], 'every challenge of .12 was answered');
    const response = await client.request<ErrorBody>('POST', '/api/v1/auth/login', {
      username: 'la_flood',
      nonce,
      signature,
    });
    assert.equal(response.status, 200, `the nonce issued before the flood: ${JSON.stringify(response.body)}`);
  });
});

/** POST /auth/challenge over a keep-alive agent bound to a source address; the status. */
function postChallenge(agent: Agent, port: number, username: string): Promise<number> {
  const body = JSON.stringify({ username });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/v1/auth/challenge',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.once('timeout', () => req.destroy(new Error('challenge request timed out')));
    req.once('error', reject);
    req.end(body);
  });
}
