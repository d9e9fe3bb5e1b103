/**
 * Session store: tokens are 32 random bytes in base64url and never repeat; only SHA-256 hashes of them
 * are kept; sessions end at the idle and at the absolute timeout, when the slot's epoch moves or the slot
 * is emptied, at logout (end) and per slot (endSlot); the count is bounded by dropping the least
 * recently used; secretsEqual compares exactly.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { fromBase64Url } from '../../../firmware/auth/encoding.ts';
import {
  DEFAULT_SESSION_LIMITS,
  type Session,
  type SessionLimits,
  SessionStore,
  secretsEqual,
} from '../../../firmware/auth/session-store.ts';

const T0 = 1_700_000_000_000;
const LIMITS: SessionLimits = { idleMs: 10_000, absoluteMs: 60_000, max: 4 };
const epochZero = (): number => 0;

function storedMap(store: SessionStore): Map<string, Session> {
  return (store as unknown as { sessions: Map<string, Session> }).sessions;
}

describe('SessionStore.create', () => {
  it('returns a base64url token of 32 random bytes, a different one every time', () => {
    const store = new SessionStore(LIMITS);
    const tokens = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const { token } = store.create(3, 0, '10.0.0.1', T0, 'https');
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(fromBase64Url(token, 32)?.length, 32);
      tokens.add(token);
    }
    assert.equal(tokens.size, 3);
  });

  it('keeps only the SHA-256 of the token, never the token', () => {
    const store = new SessionStore(LIMITS);
    const { token, session } = store.create(3, 7, '10.0.0.1', T0, 'https');
    const map = storedMap(store);
    assert.deepEqual([...map.keys()], [createHash('sha256').update(token).digest('base64url')]);
    assert.equal(JSON.stringify([...map.entries()]).includes(token), false);
    assert.deepEqual(map.values().next().value, session);
    assert.equal(session.slot, 3);
    assert.equal(session.epoch, 7);
    assert.equal(session.source, '10.0.0.1');
    assert.equal(session.createdAt, T0);
    assert.equal(session.lastSeen, T0);
  });

  it('gives each session its own 32-byte CSRF token, different from the session token', () => {
    const store = new SessionStore(LIMITS);
    const a = store.create(3, 0, '', T0, 'https');
    const b = store.create(3, 0, '', T0, 'https');
    assert.equal(fromBase64Url(a.session.csrfToken, 32)?.length, 32);
    assert.notEqual(a.session.csrfToken, b.session.csrfToken);
    assert.notEqual(a.session.csrfToken, a.token);
  });

  it('defaults to 15 min idle, 8 h absolute, 32 sessions', () => {
    assert.deepEqual(DEFAULT_SESSION_LIMITS, { idleMs: 900_000, absoluteMs: 28_800_000, max: 32 });
  });
});

describe('SessionStore.resolve', () => {
  it('finds the session by its token and refuses other or malformed tokens', () => {
    const store = new SessionStore(LIMITS);
    const { token, session } = store.create(3, 0, '', T0, 'https');
    assert.equal(store.resolve(token, T0 + 1, epochZero, 'https'), session);
    const other = new SessionStore(LIMITS).create(3, 0, '', T0, 'https').token;
    assert.equal(store.resolve(other, T0 + 1, epochZero, 'https'), null);
    assert.equal(store.resolve(`${token}=`, T0 + 1, epochZero, 'https'), null);
    assert.equal(store.resolve(token.slice(1), T0 + 1, epochZero, 'https'), null);
    assert.equal(store.resolve('', T0 + 1, epochZero, 'https'), null);
    assert.equal(store.size, 1);
  });

  it('is good only for the scheme it was made on, and is not ended by a try on the other', () => {
    const store = new SessionStore(LIMITS);
    const { token, session } = store.create(3, 0, '', T0, 'http');
    assert.equal(store.resolve(token, T0 + 1, epochZero, 'https'), null);
    assert.equal(store.resolve(token, T0 + 2, epochZero, 'http'), session);
    assert.equal(session.scheme, 'http');
  });

  it('ends a session idle for longer than idleMs, and each use restarts the idle clock', () => {
    const store = new SessionStore(LIMITS);
    const { token } = store.create(3, 0, '', T0, 'https');
    assert.ok(store.resolve(token, T0 + 10_000, epochZero, 'https'));
    assert.equal(store.resolve(token, T0 + 10_000, epochZero, 'https')?.lastSeen, T0 + 10_000);
    assert.ok(store.resolve(token, T0 + 20_000, epochZero, 'https'));
    assert.equal(store.resolve(token, T0 + 30_001, epochZero, 'https'), null);
    assert.equal(store.size, 0);
    assert.equal(store.resolve(token, T0 + 30_002, epochZero, 'https'), null);
  });

  it('ends a session older than absoluteMs however busy it is', () => {
    const store = new SessionStore(LIMITS);
    const { token } = store.create(3, 0, '', T0, 'https');
    for (let t = T0 + 5_000; t <= T0 + 60_000; t += 5_000)
      assert.ok(store.resolve(token, t, epochZero, 'https'), `${t}`);
    assert.equal(store.resolve(token, T0 + 60_001, epochZero, 'https'), null);
    assert.equal(store.size, 0);
  });

  it("ends a session when its slot's epoch moved or its slot was emptied", () => {
    const store = new SessionStore(LIMITS);
    const moved = store.create(3, 1, '', T0, 'https');
    const emptied = store.create(4, 0, '', T0, 'https');
    const kept = store.create(5, 2, '', T0, 'https');
    const epochs: Record<number, number | null> = { 3: 2, 4: null, 5: 2 };
    const current = (slot: number) => epochs[slot] ?? null;
    assert.equal(store.resolve(moved.token, T0 + 1, current, 'https'), null);
    assert.equal(store.resolve(emptied.token, T0 + 1, current, 'https'), null);
    assert.equal(store.resolve(kept.token, T0 + 1, current, 'https'), kept.session);
    assert.equal(store.size, 1);
    // Gone for good, even if the epoch came back.
    assert.equal(
      store.resolve(moved.token, T0 + 2, () => 1, 'https'),
      null,
    );
  });
});

describe('SessionStore bound', () => {
  it('keeps at most max sessions and drops the least recently used', () => {
    const store = new SessionStore(LIMITS);
    const opened = Array.from({ length: LIMITS.max }, (_, i) => store.create(3, 0, `s${i}`, T0 + i, 'https'));
    const [first, second, ...rest] = opened as [(typeof opened)[0], (typeof opened)[0], ...typeof opened];
    assert.ok(store.resolve(first.token, T0 + 100, epochZero, 'https'));
    const newest = store.create(3, 0, 'new', T0 + 200, 'https');
    assert.equal(store.size, LIMITS.max);
    assert.equal(store.resolve(second.token, T0 + 201, epochZero, 'https'), null);
    assert.ok(store.resolve(first.token, T0 + 201, epochZero, 'https'));
    for (const { token } of rest) assert.ok(store.resolve(token, T0 + 201, epochZero, 'https'));
    assert.ok(store.resolve(newest.token, T0 + 201, epochZero, 'https'));
  });

  it('drops timed-out sessions first, so a full store of stale sessions costs no live one', () => {
    const store = new SessionStore(LIMITS);
    for (let i = 0; i < LIMITS.max - 1; i++) store.create(3, 0, '', T0, 'https');
    const live = store.create(4, 0, '', T0 + 5_000, 'https');
    store.create(5, 0, '', T0 + 10_001, 'https');
    assert.equal(store.size, 2);
    assert.ok(store.resolve(live.token, T0 + 10_002, epochZero, 'https'));
  });
});

describe('SessionStore.end / endSlot', () => {
  it('end ends one session only', () => {
    const store = new SessionStore(LIMITS);
    const a = store.create(3, 0, '', T0, 'https');
    const b = store.create(3, 0, '', T0, 'https');
    store.end(a.token);
    assert.equal(store.resolve(a.token, T0, epochZero, 'https'), null);
    assert.ok(store.resolve(b.token, T0, epochZero, 'https'));
    store.end('not-a-token');
    assert.equal(store.size, 1);
  });

  it('endSlot ends every session of that slot and no other', () => {
    const store = new SessionStore(LIMITS);
    const a = store.create(3, 0, '', T0, 'https');
    const b = store.create(3, 0, '', T0, 'https');
    const c = store.create(4, 0, '', T0, 'https');
    store.endSlot(3);
    assert.equal(store.resolve(a.token, T0, epochZero, 'https'), null);
    assert.equal(store.resolve(b.token, T0, epochZero, 'https'), null);
    assert.ok(store.resolve(c.token, T0, epochZero, 'https'));
  });
});

describe('secretsEqual', () => {
  it('is true only for identical strings', () => {
    assert.equal(secretsEqual('abc', 'abc'), true);
    assert.equal(secretsEqual('', ''), true);
    assert.equal(secretsEqual('abc', 'abd'), false);
    assert.equal(secretsEqual('abc', 'abcd'), false);
    assert.equal(secretsEqual('abc', ''), false);
    assert.equal(secretsEqual('Abc', 'abc'), false);
  });
});
