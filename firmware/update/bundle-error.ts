/**
 * Why an update bundle was refused. `code` is stable: the REST answer, the CLI, the install's last
 * result and the event log carry it (docs/updates.md lists every code).
 */
export type BundleErrorCode =
  | 'bundle.truncated'
  | 'bundle.malformed'
  | 'bundle.unsupported-format'
  | 'bundle.unknown-key'
  | 'bundle.bad-signature'
  | 'bundle.wrong-target'
  | 'bundle.wrong-hash'
  | 'bundle.downgrade'
  | 'bundle.too-old'
  | 'bundle.too-large';

export class BundleError extends Error {
  override readonly name = 'BundleError';

  constructor(
    readonly code: BundleErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isBundleError(error: unknown, code?: BundleErrorCode): error is BundleError {
  return error instanceof BundleError && (code === undefined || error.code === code);
}
