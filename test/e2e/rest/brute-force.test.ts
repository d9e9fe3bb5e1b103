/**
 * Brute-force protection of the REST login (DESIGN §5) against the real device: the lockout policy is
 * validated and stored; wrong passwords answer 401 until the (account, source) pair locks, then 423
 * with Retry-After even for the right password, which works again after the wait and resets the count;
 * a base delay answers 429 with a Retry-After that doubles; failures from several source addresses
 * lock the account whatever the source; unknown names and wrong passwords get the byte-identical
 * answer and the same lock; and the audit log shows the failed, denied and good logins with sources.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeviceClient } from '../../../firmware/client/device-client.ts';
import { attemptLogin, type ErrorBody, expectError, retryAfter } from '../../support/login-attempts.ts';
import { type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

interface Lockout {
  delayAfterFailures: number;
  baseDelayMs: number;
  lockAfterFailures: number;
  lockSeconds: number;
  accountLockAfterFailures: number;
}
interface AuditEvent {
  id: number;
  type: string;
  result: string;
  source?: string;
  slot?: number;
  detail?: string;
}

const WRONG = 'Falsches Kennwort 99';
const USERS = {
  bf_stale: 'Alte Nonce Test 55',
  bf_pair: 'Sperr-Test Paar 11',
  bf_delay: 'Verzögerung Test 22',
  bf_acct: 'Konto-Grenze Test 33',
  bf_known: 'Bekannter Nutzer 44',
} as const;
const FAST: Lockout = {
  delayAfterFailures: 2,
  baseDelayMs: 0,
  lockAfterFailures: 4,
  lockSeconds: 2,
  accountLockAfterFailures: 5,
};

describe('brute-force protection over REST', () => {
  let fx: RestFixture;
  const slots: Record<string, number> = {};
  /** An HTTPS client whose connections come from 127.0.0.`n`. */
  const from = (n: number): DeviceClient => fx.https({ localAddress: `127.0.0.${n}` });

  async function setLockout(patch: Partial<Lockout>): Promise<Lockout> {
    const response = await fx.admin.request<{ lockout: Lockout }>('PATCH', '/api/v1/security', {
      lockout: patch,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.lockout;
  }

  before(async () => {
    fx = await startRestFixture();
    for (const [name, password] of Object.entries(USERS)) {
      const created = await fx.admin.request<{ slot: number }>('POST', '/api/v1/users', {
        type: 'user',
        name,
        password: await fx.admin.seal(name, password),
        role: 'VIEWER',
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      slots[name] = created.body.slot;
    }
  });
  after(async () => {
    await fx?.close();
  });

  it('the lockout policy is range-checked, and a valid one is stored', async () => {
    const before = await fx.admin.request<{ lockout: Lockout }>('GET', '/api/v1/security');
    const refused: [Partial<Lockout>, string][] = [
      [{ delayAfterFailures: 3, lockAfterFailures: 2 }, 'lockout.lockAfterFailures'],
      [{ baseDelayMs: -1 }, 'lockout.baseDelayMs'],
      [{ lockSeconds: 0 }, 'lockout.lockSeconds'],
      [{ accountLockAfterFailures: 101 }, 'lockout.accountLockAfterFailures'],
    ];
    for (const [patch, field] of refused) {
      const response = await fx.admin.request<ErrorBody>('PATCH', '/api/v1/security', { lockout: patch });
      expectError(response, 400, 'invalid-setting', JSON.stringify(patch));
      assert.equal(response.body.error.field, field);
    }
    const unchanged = await fx.admin.request<{ lockout: Lockout }>('GET', '/api/v1/security');
    assert.deepEqual(unchanged.body, before.body, 'refused policies changed nothing');

    assert.deepEqual(await setLockout(FAST), FAST);
    const stored = await fx.admin.request<{ lockout: Lockout }>('GET', '/api/v1/security');
    assert.deepEqual(stored.body.lockout, FAST);
  });

  it('a reused or unknown nonce → 401 challenge-expired, not counted as a failed login', async () => {
    await setLockout(FAST);
    const client = from(1);
    const { nonce, signature } = await client.prove('login', 'bf_stale', USERS.bf_stale);
    const first = await client.request<ErrorBody>('POST', '/api/v1/auth/login', {
      username: 'bf_stale',
      nonce,
      signature,
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    // The same (valid!) signature again, far more often than the lock threshold: never a lock.
    for (let i = 0; i < FAST.lockAfterFailures + 2; i++) {
      const replay = await from(1).request<ErrorBody>('POST', '/api/v1/auth/login', {
        username: 'bf_stale',
        nonce,
        signature,
      });
      expectError(replay, 401, 'challenge-expired', `replay ${i}`);
    }
    const fresh = await attemptLogin(from(1), 'bf_stale', USERS.bf_stale);
    assert.equal(fresh.status, 200, `a fresh login still works: ${JSON.stringify(fresh.body)}`);
  });
  it('wrong passwords answer 401 until the pair locks; then 423 with Retry-After, even with the right password', async () => {
    const client = from(1);
    for (let i = 1; i <= FAST.lockAfterFailures; i++) {
      expectError(await attemptLogin(client, 'bf_pair', WRONG), 401, 'invalid-credentials', `failure ${i}`);
    }
    const locked = await attemptLogin(client, 'bf_pair', USERS.bf_pair);
    expectError(locked, 423, 'locked', 'right password while locked');
    assert.ok(retryAfter(locked) <= FAST.lockSeconds);
    const lockedWrong = await attemptLogin(client, 'bf_pair', WRONG);
    expectError(lockedWrong, 423, 'locked', 'wrong password while locked');

    // The lock is per (account, source): the user can still log in from elsewhere.
    assert.equal((await from(2).login('bf_pair', USERS.bf_pair)).name, 'bf_pair');
    expectError(await attemptLogin(client, 'bf_pair', USERS.bf_pair), 423, 'locked', 'still locked from .1');

    const wait = retryAfter(await attemptLogin(client, 'bf_pair', USERS.bf_pair));
    await sleep(wait * 1000 + 50);
    assert.equal((await client.login('bf_pair', USERS.bf_pair)).name, 'bf_pair', 'after Retry-After');

    // The success reset the count: lockAfterFailures − 1 more failures do not lock again.
    for (let i = 1; i < FAST.lockAfterFailures; i++) {
      expectError(
        await attemptLogin(client, 'bf_pair', WRONG),
        401,
        'invalid-credentials',
        `new failure ${i}`,
      );
    }
    assert.equal((await from(1).login('bf_pair', USERS.bf_pair)).name, 'bf_pair', 'count started from zero');
  });

  it('a base delay answers 429 rate-limited with a Retry-After that doubles', async () => {
    await setLockout({ baseDelayMs: 1000, lockAfterFailures: 10 });
    const client = from(1);
    expectError(await attemptLogin(client, 'bf_delay', WRONG), 401, 'invalid-credentials', 'failure 1');
    expectError(await attemptLogin(client, 'bf_delay', WRONG), 401, 'invalid-credentials', 'failure 2');
    const waits: number[] = [];
    for (let round = 0; round < 3; round++) {
      const limited = await attemptLogin(client, 'bf_delay', round === 0 ? USERS.bf_delay : WRONG);
      expectError(limited, 429, 'rate-limited', `delayed attempt ${round}`);
      const wait = retryAfter(limited);
      waits.push(wait);
      if (round === 2) break;
      await sleep(wait * 1000 + 50);
      expectError(
        await attemptLogin(client, 'bf_delay', WRONG),
        401,
        'invalid-credentials',
        `after wait ${round}`,
      );
    }
    assert.deepEqual(waits, [1, 2, 4], 'the delay doubles with every failure');
    // Delays too are per (account, source).
    assert.equal((await from(2).login('bf_delay', USERS.bf_delay)).name, 'bf_delay');
    expectError(
      await attemptLogin(client, 'bf_delay', USERS.bf_delay),
      429,
      'rate-limited',
      'still delayed at .1',
    );
  });

  it('failures from several sources lock the account for every source at the per-account cap', async () => {
    assert.deepEqual(await setLockout(FAST), FAST);
    const perSource = [
      [1, 2],
      [2, 2],
      [3, 1],
    ] as const;
    let failures = 0;
    for (const [source, count] of perSource) {
      const client = from(source);
      for (let i = 0; i < count; i++) {
        failures++;
        expectError(
          await attemptLogin(client, 'bf_acct', WRONG),
          401,
          'invalid-credentials',
          `failure ${failures} from .${source}`,
        );
      }
    }
    assert.equal(failures, FAST.accountLockAfterFailures);
    assert.ok(
      perSource.every(([, count]) => count < FAST.lockAfterFailures),
      'no single source reached its own lock',
    );
    // A source that never failed meets the account lock, right password or not.
    const fresh = await attemptLogin(from(4), 'bf_acct', USERS.bf_acct);
    expectError(fresh, 423, 'locked', 'right password from a new source');
    expectError(
      await attemptLogin(from(1), 'bf_acct', USERS.bf_acct),
      423,
      'locked',
      'right password from .1',
    );
    // Other accounts are not affected.
    assert.equal((await from(4).login('bf_known', USERS.bf_known)).name, 'bf_known');

    await sleep(retryAfter(fresh) * 1000 + 50);
    assert.equal((await from(4).login('bf_acct', USERS.bf_acct)).name, 'bf_acct', 'after Retry-After');
  });

  it('an unknown user and a wrong password get the same status and the byte-identical body', async () => {
    const rawLogin = async (username: string, password: string) => {
      const client = from(5);
      const { nonce, signature } = await client.prove('login', username, password);
      const response = await fetch(`${fx.httpUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, nonce, signature }),
      });
      const headers = [...response.headers.keys()].filter((h) => h !== 'date').sort();
      return { status: response.status, body: Buffer.from(await response.arrayBuffer()), headers };
    };
    const wrong = await rawLogin('bf_known', WRONG);
    const unknown = await rawLogin('nobody_here', WRONG);
    const standard = await rawLogin('anonymous', WRONG);
    assert.equal(wrong.status, 401);
    assert.deepEqual(JSON.parse(wrong.body.toString()).error.code, 'invalid-credentials');
    for (const other of [unknown, standard]) {
      assert.equal(other.status, wrong.status);
      assert.ok(other.body.equals(wrong.body), `${other.body} vs ${wrong.body}`);
      assert.deepEqual(other.headers, wrong.headers);
    }

    // The challenges look alike too: a stable 16-byte salt and the same KDF parameters.
    const challenge = async (username: string) =>
      (
        await fx
          .http()
          .request<{ salt: string; iterations: number; kdf: string }>('POST', '/api/v1/auth/challenge', {
            username,
          })
      ).body;
    const [known1, known2, ghost1, ghost2] = await Promise.all(
      ['bf_known', 'bf_known', 'nobody_here', 'nobody_here'].map(challenge),
    );
    assert.equal(ghost1?.salt, ghost2?.salt, 'the decoy salt is stable');
    assert.equal(known1?.salt, known2?.salt);
    assert.equal(Buffer.from(ghost1?.salt ?? '', 'base64url').length, 16);
    assert.equal(ghost1?.iterations, known1?.iterations);
    assert.equal(ghost1?.kdf, known1?.kdf);

    // And an unknown name locks exactly like a real one (or the lock would tell which names exist).
    const client = from(6);
    for (let i = 1; i <= FAST.lockAfterFailures; i++) {
      expectError(
        await attemptLogin(client, 'ghost_user', WRONG),
        401,
        'invalid-credentials',
        `ghost failure ${i}`,
      );
    }
    expectError(await attemptLogin(client, 'ghost_user', WRONG), 423, 'locked', 'ghost locked');
  });

  it('the audit log shows failed, denied and good logins with their source addresses', async () => {
    const response = await fx.admin.request<{ events: AuditEvent[] }>(
      'GET',
      '/api/v1/audit?type=login&limit=200',
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const events = response.body.events;
    assert.ok(events.length > 0);
    assert.ok(
      events.every((e) => e.type === 'login'),
      'type=login filters',
    );
    const has = (what: string, match: (e: AuditEvent) => boolean) =>
      assert.ok(events.some(match), `no ${what} in ${JSON.stringify(events)}`);
    for (const source of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) {
      has(
        `failed login of bf_acct from ${source}`,
        (e) => e.result === 'failed' && e.source === source && e.slot === slots.bf_acct,
      );
    }
    has(
      'denied (locked) login from 127.0.0.4',
      (e) => e.result === 'denied' && e.source === '127.0.0.4' && e.detail === 'locked',
    );
    has(
      'denied (delayed) login from 127.0.0.1',
      (e) => e.result === 'denied' && e.source === '127.0.0.1' && e.detail === 'delayed',
    );
    has(
      'ok login of bf_acct from 127.0.0.4',
      (e) => e.result === 'ok' && e.source === '127.0.0.4' && e.slot === slots.bf_acct,
    );
    has(
      'ok login of bf_pair from 127.0.0.2',
      (e) => e.result === 'ok' && e.source === '127.0.0.2' && e.slot === slots.bf_pair,
    );
    has(
      'failed login of an unknown name',
      (e) => e.result === 'failed' && e.slot === undefined && e.source === '127.0.0.6',
    );
    // Newest first.
    const ids = events.map((e) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
  });
});
