/**
 * Password rules: each rule and boundary in the order they are checked, the similarity cases of
 * DESIGN §2, and NFC normalization.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCommonPassword } from '../../../firmware/core/common-passwords.ts';
import { CoreError } from '../../../firmware/core/core-error.ts';
import {
  checkPassword,
  DEFAULT_ADMIN_PASSWORD,
  normalizePassword,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH_FLOOR,
} from '../../../firmware/core/password-rules.ts';

const user = { username: 'operator1' };

function rejects(
  password: unknown,
  rule: string,
  context: { username: string; minLength?: number } = user,
): void {
  assert.throws(
    () => checkPassword(password, context),
    (error: unknown) => {
      assert.ok(error instanceof CoreError);
      assert.equal(error.code, 'invalid-password');
      assert.deepEqual(error.details, { field: 'password', rule });
      return true;
    },
  );
}

describe('checkPassword', () => {
  it('rejects non-strings with rule type', () => {
    for (const value of [undefined, null, 12345678, ['longenough1']]) rejects(value, 'type');
  });

  it('rejects 7 and accepts 8 code points', () => {
    assert.equal(PASSWORD_MIN_LENGTH_FLOOR, 8);
    rejects('Gx7#qL2', 'min-length');
    assert.equal(checkPassword('Gx7#qL2w', user), 'Gx7#qL2w');
    assert.throws(() => checkPassword('Gx7#qL2', user), /at least 8 characters/);
  });

  it('counts an emoji as one character', () => {
    rejects('Gx7#qL🔌', 'min-length');
    assert.equal(checkPassword('Gx7#qL2🔌', user), 'Gx7#qL2🔌');
  });

  it('honours a configured minLength of 12', () => {
    const context = { username: 'operator1', minLength: 12 };
    rejects('Gx7#qL2wPz9', 'min-length', context);
    assert.throws(() => checkPassword('Gx7#qL2wPz9', context), /at least 12 characters/);
    assert.equal(checkPassword('Gx7#qL2wPz9!', context), 'Gx7#qL2wPz9!');
  });

  it('clamps a configured minLength of 4 to 8', () => {
    const context = { username: 'operator1', minLength: 4 };
    rejects('Gx7#qL2', 'min-length', context);
    assert.throws(() => checkPassword('Gx7#q', context), /at least 8 characters/);
  });

  it('accepts the maximum length and rejects one more', () => {
    assert.equal(PASSWORD_MAX_LENGTH, 128);
    const base = 'Gx7#qL2w'.repeat(16);
    assert.equal(checkPassword(base, user), base);
    rejects(`${base}!`, 'max-length');
    rejects('🔌'.repeat(129), 'max-length');
  });

  it('rejects control characters and lone surrogates, allows spaces and emoji', () => {
    rejects('Gx7#qL2w\n', 'printable');
    rejects('Gx7#\u0000qL2w', 'printable');
    rejects('Gx7#\u007fqL2w', 'printable');
    rejects('Gx7#qL2w\ud83d', 'printable');
    assert.equal(checkPassword('Gx7 qL2 w 🔌⚡', user), 'Gx7 qL2 w 🔌⚡');
  });

  it('rejects common passwords regardless of case', () => {
    assert.equal(isCommonPassword('password1'), true);
    assert.equal(isCommonPassword('PassWord1'), true);
    rejects('password1', 'common');
    rejects('Password123', 'common');
    rejects('QWERTYUIOP', 'common');
  });

  it('rejects passwords equal or similar to the username', () => {
    for (const password of [
      'operator1',
      'operator1!!',
      'Operator_12',
      '1rotarepo',
      'OPERATOR-1',
      'xxoperator1yy',
    ]) {
      rejects(password, 'like-username');
    }
    rejects('0perat0r1', 'like-username');
    rejects('my.name.is.ok', 'like-username', { username: 'my.name.is' });
    rejects('Zählerwart', 'like-username', { username: 'Zaehlerwart' });
  });

  it('rejects passwords equal or similar to the factory default', () => {
    for (const password of [
      DEFAULT_ADMIN_PASSWORD,
      'cbm_12345',
      'CBM-1234x',
      'xCBM1234',
      '4321mbc!',
      'CBM_1235',
    ]) {
      rejects(password, 'like-default');
    }
  });

  it('checks the username before the default', () => {
    rejects('CBM_1234', 'like-username', { username: 'CBM1234' });
  });

  it('accepts good passwords for ordinary usernames', () => {
    for (const username of ['admin', 'operator1', 'service', 'abc', 'Jo.Miller', 'localgui']) {
      for (const password of [
        'correct horse battery',
        'Tr4f0-Zähler!',
        'Gx7#qL2w',
        'blue meter at night 42',
      ]) {
        assert.equal(checkPassword(password, { username }), password.normalize('NFC'));
      }
    }
  });

  it('does not treat short fragments as likeness', () => {
    assert.equal(checkPassword('op!!ze#9Rk', { username: 'op1' }), 'op!!ze#9Rk');
    assert.equal(checkPassword('!!!!!!!!!!', { username: 'a..' }), '!!!!!!!!!!');
  });

  it('normalizes to NFC so both spellings of é give the same result', () => {
    const composed = 'Caf\u00e9-Zähler-7';
    const decomposed = 'Cafe\u0301-Za\u0308hler-7';
    assert.notEqual(composed, decomposed);
    assert.equal(normalizePassword(decomposed), composed);
    assert.equal(checkPassword(decomposed, user), composed);
    assert.equal(checkPassword(composed, user), composed);
  });

  it('counts code points after NFC', () => {
    // Eight code points decomposed, seven once composed.
    rejects('Gx7#qLe\u0301', 'min-length');
  });
});
