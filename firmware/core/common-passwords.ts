/**
 * The shipped common-password list (DESIGN §2): the ~49k most frequent leaked passwords, taken from
 * the maintained `@zxcvbn-ts/language-common` package rather than a copy we would have to keep current.
 */
import { dictionary } from '@zxcvbn-ts/language-common';

// Built on first use, not at import: most boots never change a password, and the Set costs memory and
// a few milliseconds.
let commonPasswords: Set<string> | undefined;

/** True when `password` is on the list, ignoring case. */
export function isCommonPassword(password: string): boolean {
  commonPasswords ??= new Set(dictionary['passwords-common'].map((entry) => entry.toLowerCase()));
  return commonPasswords.has(password.toLowerCase());
}
