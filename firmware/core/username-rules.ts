/**
 * Username rules (DESIGN §2): what a name in the user table may look like. Uniqueness is the user
 * table's job; this file only judges a single name, so every adapter reports the same rule.
 */
import { CoreError } from './core-error.ts';

export const USERNAME_MIN_LENGTH = 3;
export const USERNAME_MAX_LENGTH = 32;

// ASCII only and no leading separator: names appear on a 7-segment-class display, in Modbus strings and
// in log lines, where look-alike Unicode letters or a bare '.' would confuse the reader.
const USERNAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.]*$/;

function invalid(message: string, rule: string): CoreError {
  return new CoreError('invalid-username', message, { field: 'name', rule });
}

/** Returns `name` unchanged (case-sensitive, not trimmed) or throws `CoreError('invalid-username')`. */
export function checkUsername(name: unknown): string {
  if (typeof name !== 'string') throw invalid('username must be a string', 'type');
  if (name.length < USERNAME_MIN_LENGTH) {
    throw invalid(`username must be at least ${USERNAME_MIN_LENGTH} characters`, 'min-length');
  }
  if (name.length > USERNAME_MAX_LENGTH) {
    throw invalid(`username must be at most ${USERNAME_MAX_LENGTH} characters`, 'max-length');
  }
  if (!USERNAME_PATTERN.test(name)) {
    throw invalid(
      'username may contain only letters A-Z and a-z, digits 0-9, underscore and period, ' +
        'and must start with a letter or digit',
      'characters',
    );
  }
  return name;
}
