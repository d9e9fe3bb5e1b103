/**
 * The shipped common-password list (DESIGN §2): the ~49k most frequent leaked passwords, taken from
 * the maintained `@zxcvbn-ts/language-common` package rather than a copy we would have to keep current.
 */
import { createRequire } from 'node:module';

// Only the password list, and only on first use: the package's index loads every dictionary (about
// 15 MB resident), and most boots never check a password.
const require = createRequire(import.meta.url);
let commonPasswords: Set<string> | undefined;

/** True when `password` is on the list, ignoring case. */
export function isCommonPassword(password: string): boolean {
  commonPasswords ??= new Set(
    (require('@zxcvbn-ts/language-common/dist/passwords.json.cjs') as string[]).map((entry) =>
      entry.toLowerCase(),
    ),
  );
  return commonPasswords.has(password.toLowerCase());
}
