/**
 * Username rules: every rule at its boundaries, and that the error carries the code, field and rule the
 * adapters map.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CoreError } from '../../../firmware/core/core-error.ts';
import {
  checkUsername,
  USERNAME_MAX_LENGTH,
  USERNAME_MIN_LENGTH,
} from '../../../firmware/core/username-rules.ts';

function rejects(name: unknown, rule: string): void {
  assert.throws(
    () => checkUsername(name),
    (error: unknown) => {
      assert.ok(error instanceof CoreError);
      assert.equal(error.code, 'invalid-username');
      assert.deepEqual(error.details, { field: 'name', rule });
      assert.ok(error.message.length > 0);
      return true;
    },
  );
}

describe('checkUsername', () => {
  it('returns a valid name unchanged, case preserved', () => {
    assert.equal(checkUsername('Operator1'), 'Operator1');
    assert.equal(checkUsername('a_b.c'), 'a_b.c');
    assert.equal(checkUsername('9lives'), '9lives');
  });

  it('rejects non-strings with rule type', () => {
    for (const value of [undefined, null, 123, ['abc'], { name: 'abc' }]) rejects(value, 'type');
  });

  it('accepts 3 and rejects 2 characters', () => {
    assert.equal(USERNAME_MIN_LENGTH, 3);
    assert.equal(checkUsername('abc'), 'abc');
    rejects('ab', 'min-length');
    rejects('', 'min-length');
  });

  it('accepts 32 and rejects 33 characters', () => {
    assert.equal(USERNAME_MAX_LENGTH, 32);
    assert.equal(checkUsername('a'.repeat(32)), 'a'.repeat(32));
    rejects('a'.repeat(33), 'max-length');
  });

  it('names the rule in the message', () => {
    assert.throws(() => checkUsername('ab'), /at least 3 characters/);
    assert.throws(() => checkUsername('a'.repeat(33)), /at most 32 characters/);
    assert.throws(() => checkUsername('a-b'), /underscore and period/);
  });

  it('rejects a leading underscore or period', () => {
    rejects('_admin', 'characters');
    rejects('.admin', 'characters');
  });

  it('rejects hyphens, spaces and non-ASCII letters', () => {
    rejects('meter-1', 'characters');
    rejects(' admin', 'characters');
    rejects('admin ', 'characters');
    rejects('zähler', 'characters');
    rejects('оператор', 'characters');
  });
});
