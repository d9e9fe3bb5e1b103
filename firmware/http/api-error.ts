/**
 * The REST error format `{"error":{"code","message","field"?,"permission"?}}` and the one mapping from
 * core and auth errors to HTTP statuses (DESIGN §6).
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { CoreError, type CoreErrorCode } from '../core/core-error.ts';
import { RegistryError, type RegistryErrorCode } from '../services/client-registry.ts';
import { AuthError } from '../services/login-service.ts';
import { BackupError, type BackupErrorCode } from '../store/backup-file.ts';
import { CertificateError } from '../tls/certificate-policy.ts';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly extra: {
      readonly field?: string;
      readonly permission?: string;
      readonly retryAfterMs?: number;
    } = {},
  ) {
    super(message);
  }
}

/** The status of each core error code (docs/rest-api.md lists each under it: test/docs/rest-api-doc). */
export const CORE_STATUS: Record<CoreErrorCode, ContentfulStatusCode> = {
  'unknown-permission': 400,
  'unknown-preset': 400,
  'unknown-role': 400,
  'invalid-username': 400,
  'invalid-password': 400,
  'invalid-setting': 400,
  'invalid-sealed-secret': 400,
  'wrong-entry-type': 400,
  'permission-denied': 403,
  'password-change-required': 403,
  'local-only': 403,
  'permission-not-held': 403,
  'entry-more-privileged': 403,
  'wrong-password': 401,
  'not-found': 404,
  'name-taken': 409,
  'table-full': 409,
  'protected-slot': 409,
  'last-security-admin': 409,
  'meter-unavailable': 503,
};

export const AUTH_STATUS = {
  'invalid-credentials': 401,
  'challenge-expired': 401,
  locked: 423,
  'rate-limited': 429,
  'local-only': 403,
} as const;

export const REGISTRY_STATUS: Record<RegistryErrorCode, ContentfulStatusCode> = {
  'registry-closed': 423,
  'registry-full': 429,
  'registry-source-full': 429,
  'rate-limited': 429,
  'request-denied': 403,
  'not-found': 404,
};

/** A backup or its passphrase refused: all the input's fault (docs/operations.md, Backup and restore). */
export const BACKUP_STATUS: Record<BackupErrorCode, ContentfulStatusCode> = {
  'weak-passphrase': 400,
  'backup-format': 400,
  'backup-truncated': 400,
  'backup-wrong-passphrase': 400,
  'backup-damaged': 400,
  'backup-invalid': 400,
};

/** The codes of the HTTP framework's own errors, by status: a bad body, too large, not JSON. */
export const HTTP_EXCEPTION_CODES = {
  400: 'bad-request',
  413: 'body-too-large',
  415: 'unsupported-media-type',
} as const;

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof CoreError) {
    return new ApiError(CORE_STATUS[error.code], error.code, error.message, {
      field: error.details.field,
      permission: error.details.permission,
    });
  }
  if (error instanceof CertificateError) {
    // A CRL without a client CA is a conflict with the device's state; every other refusal is the input's.
    return new ApiError(error.code === 'no-modbus-ca' ? 409 : 400, error.code, error.message, {
      field: error.field,
    });
  }
  if (error instanceof BackupError) {
    return new ApiError(BACKUP_STATUS[error.code], error.code, error.message, { field: error.field });
  }
  if (error instanceof AuthError) {
    return new ApiError(AUTH_STATUS[error.code], error.code, error.message, {
      retryAfterMs: error.retryAfterMs,
    });
  }
  if (error instanceof RegistryError) {
    return new ApiError(REGISTRY_STATUS[error.code], error.code, error.message, {
      retryAfterMs:
        error.retryAfterMs ??
        (error.code === 'registry-full' || error.code === 'registry-source-full' ? 10_000 : undefined),
    });
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    if (status === 413) return new ApiError(413, HTTP_EXCEPTION_CODES[413], 'request body is too large');
    if (status === 415) {
      return new ApiError(
        415,
        HTTP_EXCEPTION_CODES[415],
        'the request body must be JSON, sent with Content-Type: application/json',
        { field: 'body' },
      );
    }
    if (/malformed json/i.test(error.message)) {
      return new ApiError(400, 'invalid-json', 'the request body is not valid JSON', { field: 'body' });
    }
    return new ApiError(
      status,
      status === 400 ? HTTP_EXCEPTION_CODES[400] : 'http-error',
      error.message || 'bad request',
    );
  }
  return new ApiError(500, 'internal', 'internal error');
}

export function errorResponse(c: Context, error: ApiError): Response {
  if (error.extra.retryAfterMs !== undefined) {
    c.header('Retry-After', String(Math.max(1, Math.ceil(error.extra.retryAfterMs / 1000))));
  }
  const body: Record<string, string> = { code: error.code, message: error.message };
  if (error.extra.field) body.field = error.extra.field;
  if (error.extra.permission) body.permission = error.extra.permission;
  return c.json({ error: body }, error.status);
}
