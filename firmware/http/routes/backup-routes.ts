/**
 * `POST /api/v1/backup` and `POST /api/v1/restore`: the encrypted backup of the security settings and
 * its restore (services/backup-service.ts). Both need security.write and HTTPS: the passphrase, and
 * a file holding verifiers and the TLS private key, never cross plain HTTP. The file travels as
 * base64 in JSON both ways, so any HTTP client (and the website) handles it as text.
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { PASSPHRASE_MAX_LENGTH, PASSPHRASE_MIN_LENGTH } from '../../store/backup-file.ts';
import type { ApiBuilder } from '../api-builder.ts';
import type { ApiDeps } from '../api-deps.ts';
import { ApiError } from '../api-error.ts';
import type { AppEnv } from '../app-env.ts';
import { jsonBody, jsonResponse } from '../schemas.ts';
import { refuseSelfLockout } from './security-routes.ts';

/**
 * Base64 of a backup: the security record (under 4 KiB) and the TLS files at their upload limits
 * (certificate 32 KiB, key 16 KiB, CA 32 KiB, CRL 60,000 characters) fit (the restore body may be
 * 256 KiB: create-api-app.ts).
 */
const MAX_BACKUP_BASE64 = 240_000;

const PassphraseSchema = z
  .string()
  .max(PASSPHRASE_MAX_LENGTH * 4)
  .openapi({
    description: `the passphrase the backup is sealed with: ${PASSPHRASE_MIN_LENGTH}–${PASSPHRASE_MAX_LENGTH} characters, no control characters`,
  });

const BackupRequestSchema = z.object({ passphrase: PassphraseSchema }).strict().openapi('BackupRequest');
const BackupFileSchema = z
  .object({
    format: z.literal('metergate-backup/1'),
    fileName: z.string(),
    backup: z.string().openapi({
      description:
        'the backup file, base64: header `metergate-backup` v1, scrypt (N=2^15, r=8, p=3), AES-256-GCM (docs/operations.md)',
    }),
  })
  .openapi('BackupFile');
const RestoreRequestSchema = z
  .object({
    passphrase: PassphraseSchema,
    backup: z.string().max(MAX_BACKUP_BASE64).openapi({ description: 'the backup file, base64' }),
  })
  .strict()
  .openapi('RestoreRequest');
const RestoredSchema = z
  .object({
    restored: z.literal(true),
    from: z.string().openapi({ description: 'the serial number of the device the backup was made on' }),
    created: z.string().openapi({ description: 'when the backup was made' }),
    sessionEnded: z.literal(true).openapi({ description: 'every session ended, this one too: log in again' }),
  })
  .openapi('Restored');

export function registerBackupRoutes(api: ApiBuilder, deps: ApiDeps): void {
  const requireHttps = (c: Context<AppEnv>, what: string) => {
    if (c.get('context').interface !== 'https')
      throw new ApiError(
        403,
        'https-required',
        `${what} over HTTPS: the file holds secrets and so does the passphrase`,
      );
  };

  api.route(
    'security.write',
    {
      method: 'post',
      path: '/api/v1/backup',
      summary:
        'An encrypted backup of users, verifiers, key hashes, permissions, security settings and certificates (HTTPS only)',
      request: jsonBody(BackupRequestSchema),
      responses: { 200: jsonResponse(BackupFileSchema, 'The backup file') },
    },
    async (c) => {
      requireHttps(c, 'make backups');
      const { passphrase } = c.req.valid('json');
      const file = await deps.backup.create(c.get('principal').actor, passphrase, c.get('context'));
      const day = new Date(deps.now()).toISOString().slice(0, 10);
      return c.json(
        {
          format: 'metergate-backup/1' as const,
          fileName: `${deps.device.serialNumber}-${day}.mgbackup`,
          backup: file.toString('base64'),
        },
        200,
      );
    },
  );

  api.route(
    'security.write',
    {
      method: 'post',
      path: '/api/v1/restore',
      summary:
        'Restores a backup (HTTPS only): checks all of it first, then one new commit under this device’s counter; ends every session',
      request: jsonBody(RestoreRequestSchema),
      responses: { 200: jsonResponse(RestoredSchema, 'Restored; every session ended') },
    },
    async (c) => {
      requireHttps(c, 'restore backups');
      const { passphrase, backup } = c.req.valid('json');
      const actor = c.get('principal').actor;
      const ctx = c.get('context');
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(backup)) {
        throw new ApiError(400, 'invalid-field', 'backup: not base64', { field: 'backup' });
      }
      const opened = await deps.backup
        .open(actor, Buffer.from(backup, 'base64'), passphrase, ctx)
        .catch((error) => {
          deps.backup.recordRefusedRestore(actor, ctx, error);
          throw error;
        });
      const { whitelist, http, hostnames } = opened.state.settings;
      // Nothing that cuts off the administrator restoring it: the same checks as PATCH /security.
      refuseSelfLockout(c, { whitelist: [...whitelist], http, hostnames: [...hostnames] }, deps);
      await deps.backup.apply(actor, opened, ctx);
      return c.json(
        {
          restored: true as const,
          from: opened.from.serialNumber,
          created: new Date(opened.from.created).toISOString(),
          sessionEnded: true as const,
        },
        200,
      );
    },
  );
}
