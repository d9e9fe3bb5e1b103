/**
 * The zod schemas shared by several routes. They validate requests (strict objects: unknown fields
 * are refused) and generate the OpenAPI document, so the two cannot disagree.
 */
import { z } from '@hono/zod-openapi';
import { PERMISSIONS, PRESETS, ROLE_TEMPLATES } from '../core/permission-table.ts';

const permissionNames = PERMISSIONS.map((p) => p.name) as [string, ...string[]];
export const PermissionNameSchema = z
  .enum(permissionNames)
  .openapi({ description: 'A permission of the permission table' });
export const PermissionListSchema = z.array(PermissionNameSchema).max(PERMISSIONS.length);
export const PresetSchema = z.enum(Object.keys(PRESETS) as [string, ...string[]]);
export const RoleSchema = z.enum(Object.keys(ROLE_TEMPLATES) as [string, ...string[]]);

export const Base64UrlSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]*$/, 'base64url without padding')
  .max(4096);

export const UsernameFieldSchema = z.string().min(1).max(64).openapi({ example: 'operator1' });

export const SealedSecretSchema = z
  .object({
    epk: Base64UrlSchema.openapi({ description: 'sender ephemeral X25519 public key' }),
    nonce: Base64UrlSchema.openapi({ description: '24-byte nonce' }),
    box: Base64UrlSchema.openapi({ description: 'nacl.box of the JSON plaintext' }),
  })
  .strict()
  .openapi('SealedSecret', { description: 'A password sealed to the device key (docs/auth-protocol.md)' });

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      field: z.string().optional(),
      permission: z.string().optional(),
    }),
  })
  .openapi('Error');

/**
 * A slot in a path: exactly one decimal digit 0–7. A number parse would also take `0x7`, `7e0`, ` 7`,
 * `07` or `+7` for slot 7, so a filter or log keyed on the path text would not see what is acted on.
 */
export const SlotParamSchema = z.object({
  slot: z
    .string()
    .regex(/^[0-7]$/, 'must be a slot number 0–7 written as one decimal digit')
    .transform(Number)
    .openapi({ param: { name: 'slot', in: 'path' }, example: 3, type: 'integer', minimum: 0, maximum: 7 }),
});

export const OkSchema = z.object({ ok: z.literal(true) }).openapi('Ok');

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { body: { content: { 'application/json': { schema } }, required: true } };
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { content: { 'application/json': { schema } }, description };
}

/** A text/csv answer (http/csv-text.ts), offered beside JSON by `?format=csv`. */
export function csvResponse(description: string) {
  return { content: { 'text/csv': { schema: z.string().openapi({ description }) } }, description };
}

/** The headers of a CSV download named `filename` (letters, digits, `.`, `-` and `_` only). */
export function csvHeaders(filename: string): Record<string, string> {
  return {
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': `attachment; filename="${filename.replace(/[^\w.-]/g, '_')}"`,
  };
}
