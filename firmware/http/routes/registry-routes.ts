/**
 * The client registry over REST (DESIGN §6): the application side (public: ask, and ask again or poll
 * to learn the verdict) and the administrator side (see, open and close the window, allow or deny).
 * Every decision is the ClientRegistry's; statuses: 423 closed, 202 pending, 201 key handed over
 * (once), 403 denied, 409 table full, 429 flood.
 */
import { z } from '@hono/zod-openapi';
import { fromBase64Url } from '../../auth/encoding.ts';
import type { PresetName } from '../../core/permission-table.ts';
import type { RegistryAnswer, RegistryStatus } from '../../services/client-registry.ts';
import type { ApiBuilder } from '../api-builder.ts';
import type { ApiDeps } from '../api-deps.ts';
import { ApiError } from '../api-error.ts';
import { jsonBody, jsonResponse, OkSchema, PresetSchema, UsernameFieldSchema } from '../schemas.ts';

const NewRequestSchema = z
  .object({
    name: UsernameFieldSchema.openapi({
      description: 'the application’s name; becomes the API key’s label (username rules)',
    }),
    publicKey: z
      .string()
      .max(64)
      .openapi({ description: 'the application’s X25519 public key, base64url (32 bytes)' }),
  })
  .strict()
  .openapi('RegistryRequest');

const SealedKeySchema = z
  .object({ epk: z.string(), nonce: z.string(), box: z.string() })
  .openapi('SealedKey', {
    description:
      'the API key (UTF-8) sealed to the request’s public key: nacl.box(key, nonce, publicKey, ephemeral secret); epk is the ephemeral public key',
  });

const AnswerSchema = z
  .object({
    state: z.enum(['pending', 'allowed']),
    id: z.string().openapi({ description: 'poll GET /api/v1/registry/requests/{id} with it' }),
    fingerprint: z.string().openapi({ description: 'the key fingerprint the administrator compares' }),
    slot: z.number().optional(),
    sealedKey: SealedKeySchema.optional(),
  })
  .openapi('RegistryAnswer');

const StatusSchema = z
  .object({
    open: z.boolean(),
    closesAt: z.string().nullable(),
    remainingSeconds: z.number(),
    pending: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        source: z.string(),
        time: z.string(),
        fingerprint: z.string(),
      }),
    ),
  })
  .openapi('RegistryStatus');

const IdParamSchema = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{22}$/)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'q3Jx0d2mVwFJ8o5ZbQd1Rg' }),
});

const AllowSchema = z
  .object({
    preset: PresetSchema,
    name: UsernameFieldSchema.optional().openapi({
      description: 'the API key’s label, when the name the application asked for is taken',
    }),
  })
  .strict()
  .openapi('RegistryAllow');

export function registerRegistryRoutes(api: ApiBuilder, deps: ApiDeps): void {
  const { registry } = deps;
  const status = (s: RegistryStatus) => ({
    open: s.open,
    closesAt: s.closesAt === null ? null : new Date(s.closesAt).toISOString(),
    remainingSeconds: s.closesAt === null ? 0 : Math.max(0, Math.ceil((s.closesAt - deps.now()) / 1000)),
    pending: s.pending.map((r) => ({ ...r, time: new Date(r.time).toISOString() })),
  });
  const answer = (a: RegistryAnswer) => ({
    status: a.state === 'allowed' ? (201 as const) : (202 as const),
    body: a,
  });

  api.route(
    'public',
    {
      method: 'post',
      path: '/api/v1/registry/requests',
      summary: 'An application asks for an API key (repeat the same request to learn the verdict)',
      request: jsonBody(NewRequestSchema),
      responses: {
        201: jsonResponse(AnswerSchema, 'Allowed: the key, sealed to your public key, this once'),
        202: jsonResponse(AnswerSchema, 'Pending: compare the fingerprint with the administrator'),
      },
    },
    (c) => {
      const body = c.req.valid('json');
      const publicKey = fromBase64Url(body.publicKey, 32);
      if (!publicKey) {
        throw new ApiError(400, 'invalid-field', 'publicKey: must be a 32-byte X25519 key in base64url', {
          field: 'publicKey',
        });
      }
      const { status: code, body: result } = answer(registry.request(body.name, publicKey, c.get('context')));
      return c.json(result, code);
    },
  );

  api.route(
    'public',
    {
      method: 'get',
      path: '/api/v1/registry/requests/{id}',
      summary: 'An application polls its request',
      request: { params: IdParamSchema },
      responses: {
        201: jsonResponse(AnswerSchema, 'Allowed: the key, sealed to your public key, this once'),
        202: jsonResponse(AnswerSchema, 'Still pending'),
      },
    },
    (c) => {
      const { status: code, body: result } = answer(registry.poll(c.req.valid('param').id, c.get('context')));
      return c.json(result, code);
    },
  );

  api.route(
    'security.read',
    {
      method: 'get',
      path: '/api/v1/registry',
      summary: 'Whether registration is open, until when, and the pending requests',
      responses: { 200: jsonResponse(StatusSchema, 'Registry status') },
    },
    (c) => c.json(status(registry.status(c.get('principal').actor, c.get('context'))), 200),
  );

  api.route(
    'security.write',
    {
      method: 'post',
      path: '/api/v1/registry/open',
      summary: 'Opens registration for 5 minutes (again, if open)',
      responses: { 200: jsonResponse(StatusSchema, 'Registry status') },
    },
    (c) => c.json(status(registry.open(c.get('principal').actor, c.get('context'))), 200),
  );

  api.route(
    'security.write',
    {
      method: 'post',
      path: '/api/v1/registry/close',
      summary: 'Closes registration now; pending requests are dropped',
      responses: { 200: jsonResponse(StatusSchema, 'Registry status') },
    },
    (c) => c.json(status(registry.close(c.get('principal').actor, c.get('context'))), 200),
  );

  api.route(
    'security.write',
    {
      method: 'post',
      path: '/api/v1/registry/requests/{id}/allow',
      summary:
        'Allows a pending request: creates an API-key slot with the preset (409 when the table is full)',
      request: { params: IdParamSchema, ...jsonBody(AllowSchema) },
      responses: { 200: jsonResponse(z.object({ slot: z.number() }), 'The new API-key slot') },
    },
    async (c) => {
      const { id } = c.req.valid('param');
      const { preset, name } = c.req.valid('json');
      const result = await registry.allow(
        c.get('principal').actor,
        id,
        preset as PresetName,
        c.get('context'),
        name,
      );
      return c.json(result, 200);
    },
  );

  api.route(
    'security.write',
    {
      method: 'post',
      path: '/api/v1/registry/requests/{id}/deny',
      summary: 'Denies a pending request',
      request: { params: IdParamSchema },
      responses: { 200: jsonResponse(OkSchema, 'Denied') },
    },
    (c) => {
      registry.deny(c.get('principal').actor, c.req.valid('param').id, c.get('context'));
      return c.json({ ok: true as const }, 200);
    },
  );
}
