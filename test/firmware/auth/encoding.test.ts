/**
 * base64url as the protocol uses it: no padding, URL alphabet, canonical. Round trips of every length,
 * and null (never an exception) for padding, '+' or '/', whitespace, non-canonical trailing bits, a
 * wrong expected length or a value that is not a string.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBase64Url, toBase64Url } from '../../../firmware/auth/encoding.ts';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

describe('toBase64Url', () => {
  it('encodes with the URL alphabet and without padding', () => {
    assert.equal(toBase64Url(bytes()), '');
    assert.equal(toBase64Url(bytes(0)), 'AA');
    assert.equal(toBase64Url(bytes(0, 0)), 'AAA');
    assert.equal(toBase64Url(bytes(0, 0, 0)), 'AAAA');
    assert.equal(toBase64Url(bytes(0xfb, 0xff)), '-_8');
    assert.equal(toBase64Url(new TextEncoder().encode('Zähler')), 'WsOkaGxlcg');
  });

  it('encodes only the view, not the whole underlying buffer', () => {
    const buffer = bytes(1, 2, 3, 4, 5);
    assert.equal(toBase64Url(buffer.subarray(1, 3)), toBase64Url(bytes(2, 3)));
  });
});

describe('fromBase64Url', () => {
  it('round-trips every length from 0 to 70 bytes', () => {
    for (let length = 0; length <= 70; length++) {
      const value = Uint8Array.from({ length }, (_, i) => (i * 37 + length) & 0xff);
      assert.deepEqual(fromBase64Url(toBase64Url(value)), value, `length ${length}`);
      assert.deepEqual(fromBase64Url(toBase64Url(value), length), value, `length ${length}`);
    }
  });

  it('refuses padding', () => {
    assert.equal(fromBase64Url('AA=='), null);
    assert.equal(fromBase64Url('AAA='), null);
    assert.deepEqual(fromBase64Url('AA'), bytes(0));
  });

  it("refuses the standard alphabet's '+' and '/'", () => {
    assert.equal(fromBase64Url('-_8'.replace('-', '+')), null);
    assert.equal(fromBase64Url('-_8'.replace('_', '/')), null);
    assert.deepEqual(fromBase64Url('-_8'), bytes(0xfb, 0xff));
  });

  it('refuses whitespace, other characters and impossible lengths', () => {
    for (const text of [' AAAA', 'AAAA ', 'AA\nAA', 'AA.A', 'AAAA%', 'A', 'AAAAA']) {
      assert.equal(fromBase64Url(text), null, JSON.stringify(text));
    }
  });

  it('refuses non-canonical trailing bits', () => {
    assert.equal(fromBase64Url('AB'), null);
    assert.equal(fromBase64Url('AAB'), null);
  });

  it('refuses a wrong length when one is expected', () => {
    const nonce = toBase64Url(new Uint8Array(32).fill(7));
    assert.equal(fromBase64Url(nonce, 32)?.length, 32);
    assert.equal(fromBase64Url(nonce, 31), null);
    assert.equal(fromBase64Url(nonce, 33), null);
    assert.equal(fromBase64Url('', 32), null);
    assert.deepEqual(fromBase64Url('', 0), bytes());
  });

  it('gives null for values that are not strings', () => {
    for (const value of [undefined, null, 42, ['AA'], { text: 'AA' }, bytes(0)]) {
      assert.equal(fromBase64Url(value), null);
    }
  });
});
