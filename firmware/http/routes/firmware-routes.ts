/**
 * Signed firmware updates (docs/updates.md): the status of the A/B install and the upload of a bundle,
 * both under the `service` permission. The upload is streamed (never held whole in memory), limited in
 * size, HTTPS only whatever the `http` setting, and checked as the launcher checks it before it is
 * kept; the launcher installs it at the restart that follows.
 */
import { z } from '@hono/zod-openapi';
import { FirmwareError, MAX_BUNDLE_BYTES } from '../../services/firmware-service.ts';
import { isBundleError } from '../../update/bundle-error.ts';
import type { ApiBuilder } from '../api-builder.ts';
import type { ApiDeps } from '../api-deps.ts';
import { ApiError } from '../api-error.ts';
import { jsonResponse } from '../schemas.ts';

const SlotInfoSchema = z.object({
  slot: z.enum(['a', 'b']),
  version: z.string().nullable(),
  signed: z.boolean(),
});
const FirmwareStatusSchema = z
  .object({
    managed: z.boolean(),
    built: z.string(),
    running: SlotInfoSchema.nullable().optional(),
    previous: SlotInfoSchema.nullable().optional(),
    trial: z
      .object({ slot: z.enum(['a', 'b']), version: z.string(), state: z.string() })
      .passthrough()
      .nullable()
      .optional(),
    pending: z.boolean().optional(),
    floor: z.string().nullable().optional(),
    lastResult: z
      .object({
        result: z.enum(['installed', 'refused', 'fallback', 'interrupted']),
        version: z.string().nullable(),
        code: z.string().optional(),
        reason: z.string().optional(),
        at: z.string(),
      })
      .nullable()
      .optional(),
  })
  .openapi('FirmwareStatus');
const AcceptedSchema = z
  .object({ version: z.string(), target: z.string(), restart: z.boolean() })
  .openapi('FirmwareAccepted');

export function registerFirmwareRoutes(api: ApiBuilder, deps: ApiDeps): void {
  const firmware = deps.firmware;

  api.route(
    'service',
    {
      method: 'get',
      path: '/api/v1/firmware',
      summary: 'The firmware: running and previous version, an update pending or on trial, the last result',
      responses: { 200: jsonResponse(FirmwareStatusSchema, 'Firmware status') },
    },
    (c) => c.json(firmware ? firmware.status() : { managed: false, built: deps.device.firmwareVersion }, 200),
  );

  api.route(
    'service',
    {
      method: 'post',
      path: '/api/v1/firmware',
      summary:
        'Uploads a signed update bundle (HTTPS only; application/octet-stream, at most 128 MiB); the device restarts to install it unless restart=later',
      request: {
        query: z.object({ restart: z.enum(['now', 'later']).optional() }),
        body: {
          content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } },
          required: true,
        },
      },
      responses: { 202: jsonResponse(AcceptedSchema, 'Accepted: installed at the next start') },
    },
    async (c) => {
      const ctx = c.get('context');
      if (ctx.interface !== 'https') {
        throw new ApiError(403, 'https-required', 'upload firmware over HTTPS');
      }
      const length = Number(c.req.header('content-length') ?? Number.NaN);
      if (length > MAX_BUNDLE_BYTES) {
        throw new ApiError(413, 'body-too-large', `a bundle has at most ${MAX_BUNDLE_BYTES} bytes`);
      }
      const event = {
        type: 'firmware.upload',
        interface: ctx.interface,
        source: ctx.source,
        slot: c.get('principal').actor.slot,
      };
      const body = c.req.raw.body;
      if (!firmware || !body) {
        throw new ApiError(400, 'bundle.truncated', 'no bundle in the request body');
      }
      try {
        const manifest = await firmware.accept(body as unknown as AsyncIterable<Uint8Array>);
        const restart = c.req.valid('query').restart !== 'later' && deps.restart !== undefined;
        deps.security.record({ ...event, result: 'ok', detail: `${manifest.version} ${manifest.target}` });
        if (restart) setTimeout(() => deps.restart?.(), 200).unref();
        return c.json({ version: manifest.version, target: manifest.target, restart }, 202);
      } catch (error) {
        if (isBundleError(error)) {
          deps.security.record({ ...event, result: 'failed', detail: error.code });
          throw new ApiError(error.code === 'bundle.too-large' ? 413 : 400, error.code, error.message);
        }
        if (error instanceof FirmwareError) throw new ApiError(409, error.code, error.message);
        throw error;
      }
    },
  );
}
