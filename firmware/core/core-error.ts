/**
 * The typed error of the pure core. `code` is stable (tests, REST bodies, display messages and the
 * event log depend on it); each adapter maps it once to its own form (HTTP status, Modbus exception,
 * display text).
 */
export type CoreErrorCode =
  | 'unknown-permission'
  | 'unknown-preset'
  | 'unknown-role'
  | 'permission-denied'
  | 'password-change-required'
  | 'local-only'
  | 'permission-not-held'
  | 'entry-more-privileged'
  | 'invalid-username'
  | 'invalid-password'
  | 'name-taken'
  | 'table-full'
  | 'not-found'
  | 'protected-slot'
  | 'last-security-admin'
  | 'wrong-password'
  | 'wrong-entry-type'
  | 'invalid-setting'
  | 'invalid-sealed-secret'
  | 'meter-unavailable';

export interface CoreErrorDetails {
  /** The input field the error is about, when there is one. */
  readonly field?: string;
  /** The permission that was missing, for `permission-denied`. */
  readonly permission?: string;
  /** The rule that failed, for `invalid-username` / `invalid-password`. */
  readonly rule?: string;
  /** Valid alternatives, for the `unknown-*` codes. */
  readonly known?: readonly string[];
  readonly slot?: number;
}

export class CoreError extends Error {
  override readonly name = 'CoreError';

  constructor(
    readonly code: CoreErrorCode,
    message: string,
    readonly details: CoreErrorDetails = {},
  ) {
    super(message);
  }
}

export function isCoreError(error: unknown, code?: CoreErrorCode): error is CoreError {
  return error instanceof CoreError && (code === undefined || error.code === code);
}
