/**
 * Password rules (DESIGN §2): length, printable Unicode, not common, not like the username or the
 * factory default. Each failure names its rule so the web page and the display can say what to fix.
 */
import { isCommonPassword } from './common-passwords.ts';
import { CoreError } from './core-error.ts';

/** The configurable minimum length can never go below this. */
export const PASSWORD_MIN_LENGTH_FLOOR = 8;
export const PASSWORD_MAX_LENGTH = 128;
export const DEFAULT_ADMIN_PASSWORD = 'CBM_1234';

// Shorter fragments ("op", "12") occur by chance in good passwords; only longer ones count as a likeness.
const SIMILAR_MIN_LENGTH = 3;
const SIMILAR_MAX_DISTANCE = 2;

/**
 * NFC, so that "é" typed as one code point or as "e" + combining accent is the same password on every
 * client; the KDF and every length rule see this form.
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFC');
}

// A broken setting (NaN) must not switch the length rule off, so it falls back to the floor.
function effectiveMinLength(minLength: number | undefined): number {
  if (minLength === undefined || Number.isNaN(minLength)) return PASSWORD_MIN_LENGTH_FLOOR;
  return Math.max(PASSWORD_MIN_LENGTH_FLOOR, Math.ceil(minLength));
}

function invalid(message: string, rule: string): CoreError {
  return new CoreError('invalid-password', message, { field: 'password', rule });
}

function codePoints(text: string): string[] {
  return Array.from(text);
}

// Case and separators are what people vary when they "change" a password, so they are ignored.
function simplify(text: string): string[] {
  return codePoints(text.toLowerCase().replace(/[^\p{L}\p{N}]/gu, ''));
}

function contains(haystack: string[], needle: string[]): boolean {
  return needle.length >= SIMILAR_MIN_LENGTH && haystack.join('').includes(needle.join(''));
}

function editDistance(a: string[], b: string[]): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function isSimilar(password: string, reference: string): boolean {
  const p = simplify(password);
  const r = simplify(reference);
  if (p.length === 0 || r.length === 0) return false;
  const pText = p.join('');
  if (pText === r.join('') || pText === [...r].reverse().join('')) return true;
  if (contains(p, r) || contains(r, p)) return true;
  // Between very short strings every pair is "close"; the distance only means something past that.
  return (
    Math.min(p.length, r.length) >= SIMILAR_MIN_LENGTH &&
    Math.abs(p.length - r.length) <= SIMILAR_MAX_DISTANCE &&
    editDistance(p, r) <= SIMILAR_MAX_DISTANCE
  );
}

/**
 * Returns the NFC-normalized password or throws `CoreError('invalid-password')` naming the first rule
 * that failed. `minLength` defaults to 8 and is raised to 8 when set lower; lengths count code points.
 */
export function checkPassword(password: unknown, context: { username: string; minLength?: number }): string {
  if (typeof password !== 'string') throw invalid('password must be a string', 'type');
  const normalized = normalizePassword(password);
  const length = codePoints(normalized).length;
  const minLength = effectiveMinLength(context.minLength);
  if (length < minLength) {
    throw invalid(`password must be at least ${minLength} characters`, 'min-length');
  }
  if (length > PASSWORD_MAX_LENGTH) {
    throw invalid(`password must be at most ${PASSWORD_MAX_LENGTH} characters`, 'max-length');
  }
  // Control characters cannot be typed at the display and lone surrogates have no UTF-8 form, so such a
  // password could never be entered again or would hash differently per client.
  if (/[\p{Cc}\p{Cs}]/u.test(normalized)) {
    throw invalid('password must not contain control characters or broken Unicode', 'printable');
  }
  if (isCommonPassword(normalized)) {
    throw invalid(
      'password is on the list of commonly used passwords; choose a less predictable one',
      'common',
    );
  }
  if (isSimilar(normalized, context.username)) {
    throw invalid('password must not be the same as or similar to the username', 'like-username');
  }
  if (isSimilar(normalized, DEFAULT_ADMIN_PASSWORD)) {
    throw invalid(
      'password must not be the same as or similar to the factory default password',
      'like-default',
    );
  }
  return normalized;
}
