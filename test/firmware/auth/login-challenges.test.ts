/**
 * Login challenges: a nonce is good once, only for the username it was issued to and only before its
 * expiry (exactly ttl after issue); the table holds at most `max` open challenges, at most `perSource`
 * per source address (that source's oldest goes first), and when full evicts from the source holding
 * the most, so a flood from other sources never evicts a login in progress; the decoy salt of a name is
 * stable, differs between names and between salt keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CHALLENGE_TTL_MS,
  LoginChallenges,
  MAX_CHALLENGES_PER_SOURCE,
  MAX_OPEN_CHALLENGES,
} from '../../../firmware/auth/login-challenges.ts';

const KEY = new Uint8Array(32).fill(1);
const T0 = 1_700_000_000_000;

describe('LoginChallenges.issue', () => {
  it('gives a fresh 32-byte nonce that expires ttl after now', () => {
    const challenges = new LoginChallenges(KEY);
    const a = challenges.issue('admin', 'A', T0);
    const b = challenges.issue('admin', 'A', T0);
    assert.equal(a.nonce.length, 32);
    assert.notDeepEqual(a.nonce, b.nonce);
    assert.equal(a.expiresAt, T0 + CHALLENGE_TTL_MS);
  });

  it('defaults to a 60 s lifetime and 256 open challenges', () => {
    assert.equal(CHALLENGE_TTL_MS, 60_000);
    assert.equal(MAX_OPEN_CHALLENGES, 256);
  });
});

describe('LoginChallenges.consume', () => {
  it('accepts a nonce once', () => {
    const challenges = new LoginChallenges(KEY);
    const { nonce } = challenges.issue('admin', 'A', T0);
    assert.equal(challenges.consume(nonce, 'admin', T0 + 1), true);
    assert.equal(challenges.consume(nonce, 'admin', T0 + 2), false);
  });

  it('refuses a nonce never issued', () => {
    const challenges = new LoginChallenges(KEY);
    challenges.issue('admin', 'A', T0);
    assert.equal(challenges.consume(new Uint8Array(32), 'admin', T0), false);
  });

  it('binds the nonce to its username, and a try with another name uses it up', () => {
    const challenges = new LoginChallenges(KEY);
    const { nonce } = challenges.issue('admin', 'A', T0);
    assert.equal(challenges.consume(nonce, 'Admin', T0), false);
    assert.equal(challenges.consume(nonce, 'admin', T0), false);
  });

  it('accepts a nonce up to 1 ms before the ttl and refuses it at exactly the ttl', () => {
    const ttlMs = 5_000;
    const challenges = new LoginChallenges(KEY, { ttlMs, max: 8 });
    const early = challenges.issue('admin', 'A', T0);
    const late = challenges.issue('admin', 'A', T0);
    assert.equal(early.expiresAt, T0 + ttlMs);
    assert.equal(challenges.consume(early.nonce, 'admin', T0 + ttlMs - 1), true);
    assert.equal(challenges.consume(late.nonce, 'admin', T0 + ttlMs), false);
  });

  it('drops expired challenges when a new one is issued', () => {
    const challenges = new LoginChallenges(KEY, { ttlMs: 1_000, max: 8 });
    const old = challenges.issue('admin', 'A', T0);
    challenges.issue('admin', 'A', T0 + 1_000);
    const open = (challenges as unknown as { open: Map<string, unknown> }).open;
    assert.equal(open.size, 1);
    assert.equal(challenges.consume(old.nonce, 'admin', T0), false);
  });
});

describe('LoginChallenges bound', () => {
  it('keeps at most max open challenges: issuing max + 1 drops the oldest', () => {
    const max = 4;
    const challenges = new LoginChallenges(KEY, { ttlMs: 60_000, max });
    const issued = Array.from({ length: max + 1 }, (_, i) => challenges.issue(`user${i}`, 'A', T0 + i));
    const open = (challenges as unknown as { open: Map<string, unknown> }).open;
    assert.equal(open.size, max);
    assert.equal(challenges.consume((issued[0] as { nonce: Uint8Array }).nonce, 'user0', T0 + 10), false);
    issued.slice(1).forEach(({ nonce }, i) => {
      assert.equal(challenges.consume(nonce, `user${i + 1}`, T0 + 10), true, `user${i + 1}`);
    });
  });

  it('stays at the default bounds under a flood from one source and from many', () => {
    const challenges = new LoginChallenges(KEY);
    const open = (challenges as unknown as { open: Map<string, unknown> }).open;
    for (let i = 0; i < MAX_OPEN_CHALLENGES * 3; i++) challenges.issue(`flood${i}`, 'A', T0);
    assert.equal(open.size, MAX_CHALLENGES_PER_SOURCE);
    for (let i = 0; i < MAX_OPEN_CHALLENGES * 3; i++) challenges.issue(`flood${i}`, `10.0.${i % 100}.1`, T0);
    assert.equal(open.size, MAX_OPEN_CHALLENGES);
  });

  it('defaults to 16 open challenges per source', () => {
    assert.equal(MAX_CHALLENGES_PER_SOURCE, 16);
  });

  it('drops the oldest challenge of a source that holds perSource, and no other', () => {
    const challenges = new LoginChallenges(KEY, { perSource: 3 });
    const mine = challenges.issue('admin', 'B', T0);
    const flood = Array.from({ length: 4 }, (_, i) => challenges.issue(`ghost${i}`, 'A', T0 + i));
    assert.equal(challenges.consume((flood[0] as { nonce: Uint8Array }).nonce, 'ghost0', T0 + 10), false);
    flood.slice(1).forEach(({ nonce }, i) => {
      assert.equal(challenges.consume(nonce, `ghost${i + 1}`, T0 + 10), true, `ghost${i + 1}`);
    });
    assert.equal(challenges.consume(mine.nonce, 'admin', T0 + 10), true);
  });

  it('when full, evicts from the source holding the most, so a login in progress survives floods', () => {
    const challenges = new LoginChallenges(KEY, { max: 8, perSource: 6 });
    const mine = challenges.issue('admin', 'C', T0);
    for (let i = 0; i < 10_000; i++) challenges.issue(`ghost${i}`, i % 2 ? 'A' : 'B', T0 + 1 + i);
    assert.equal(challenges.consume(mine.nonce, 'admin', T0 + 20_000), true);
  });

  it('on a tie, evicts the source whose oldest challenge is the oldest', () => {
    const challenges = new LoginChallenges(KEY, { max: 4, perSource: 4 });
    const a1 = challenges.issue('u', 'A', T0);
    const b1 = challenges.issue('u', 'B', T0 + 1);
    const a2 = challenges.issue('u', 'A', T0 + 2);
    const b2 = challenges.issue('u', 'B', T0 + 3);
    const c1 = challenges.issue('u', 'C', T0 + 4);
    assert.equal(challenges.consume(a1.nonce, 'u', T0 + 5), false, 'A and B hold 2 each: A is older');
    for (const { nonce } of [b1, a2, b2, c1]) assert.equal(challenges.consume(nonce, 'u', T0 + 5), true);
  });
});

describe('LoginChallenges.decoySalt', () => {
  it('is 16 bytes, stable per name, different between names and between keys', () => {
    const challenges = new LoginChallenges(KEY);
    const other = new LoginChallenges(new Uint8Array(32).fill(2));
    const salt = challenges.decoySalt('ghost');
    assert.equal(salt.length, 16);
    assert.deepEqual(challenges.decoySalt('ghost'), salt);
    assert.deepEqual(new LoginChallenges(new Uint8Array(32).fill(1)).decoySalt('ghost'), salt);
    assert.notDeepEqual(challenges.decoySalt('Ghost'), salt);
    assert.notDeepEqual(challenges.decoySalt('ghost2'), salt);
    assert.notDeepEqual(other.decoySalt('ghost'), salt);
  });
});
