/**
 * `status`: how the device is running (firmware, uptime, bound ports, HTTPS certificate validity,
 * health of the store), for the website's status page and monitoring. Not public: the start time
 * tells anyone when the device was last restarted (after a power cut, an update, a crash) and, with
 * the firmware version, what it runs unpatched; `info` stays without it. It needs `config.read`: what
 * an operator reading the device's settings may see (the read-only preset and `localgui` hold it,
 * `anonymous` does not by default), and nothing here is a security setting (`security.read`): the
 * certificate's dates are what every TLS client is shown anyway, and the store's problems are the
 * `degraded` sentences `info` already gives.
 */
import { z } from '@hono/zod-openapi';
import type { ApiBuilder } from '../api-builder.ts';
import type { ApiDeps } from '../api-deps.ts';
import { jsonResponse } from '../schemas.ts';

/** A certificate this close to its end is reported as `expiring`. */
const EXPIRING_DAYS = 30;
const DAY_MS = 86_400_000;

const Port = z.number().nullable();
const StatusSchema = z
  .object({
    model: z.string(),
    serialNumber: z.string(),
    firmwareVersion: z.string(),
    time: z.string().openapi({ description: "the device's clock" }),
    startedAt: z.string().openapi({ description: 'when this boot started' }),
    uptimeSeconds: z.number().int(),
    ports: z
      .object({ http: Port, https: Port, modbusTcp: Port, modbusTls: Port })
      .openapi({ description: 'bound ports; null: off, blocked or not bound' }),
    certificate: z.object({
      source: z.enum(['self-signed', 'uploaded']),
      subject: z.string(),
      fingerprint256: z.string(),
      validFrom: z.string(),
      validTo: z.string(),
      daysLeft: z.number().int().openapi({ description: 'whole days until validTo; negative once expired' }),
      state: z.enum(['valid', 'expiring', 'expired', 'not-yet-valid']).openapi({
        description: `expiring: valid for less than ${EXPIRING_DAYS} more days`,
      }),
    }),
    store: z.object({
      state: z.enum(['ok', 'degraded']),
      configuration: z.enum(['stored', 'default', 'damaged', 'rolled-back', 'unanchored']),
      eventLog: z.enum(['ok', 'unanchored', 'broken']),
      degraded: z.array(z.string()).openapi({ description: "as `info`'s: one sentence per problem" }),
    }),
  })
  .openapi('Status');

export function registerStatusRoutes(api: ApiBuilder, deps: ApiDeps): void {
  api.route(
    'config.read',
    {
      method: 'get',
      path: '/api/v1/status',
      summary: 'How the device runs: firmware, uptime, bound ports, certificate validity, store health',
      responses: { 200: jsonResponse(StatusSchema, 'Device status') },
    },
    (c) => {
      const now = deps.now();
      const { device } = deps;
      const startedAt = device.startedAt ?? now;
      const ports = device.ports();
      const tls = deps.tls.info();
      const validFrom = Date.parse(tls.validFrom);
      const validTo = Date.parse(tls.validTo);
      const daysLeft = Math.floor((validTo - now) / DAY_MS);
      const degraded = [...(device.degraded?.() ?? [])];
      return c.json(
        {
          model: device.model,
          serialNumber: device.serialNumber,
          firmwareVersion: device.firmwareVersion,
          time: new Date(now).toISOString(),
          startedAt: new Date(startedAt).toISOString(),
          uptimeSeconds: Math.max(0, Math.floor((now - startedAt) / 1000)),
          ports: {
            http: ports.http ?? null,
            https: ports.https,
            modbusTcp: ports.modbusTcp,
            modbusTls: ports.modbusTls,
          },
          certificate: {
            source: tls.source,
            subject: tls.subject,
            fingerprint256: tls.fingerprint256,
            validFrom: tls.validFrom,
            validTo: tls.validTo,
            daysLeft,
            state:
              now < validFrom
                ? ('not-yet-valid' as const)
                : now > validTo
                  ? ('expired' as const)
                  : daysLeft < EXPIRING_DAYS
                    ? ('expiring' as const)
                    : ('valid' as const),
          },
          store: {
            state: degraded.length === 0 ? ('ok' as const) : ('degraded' as const),
            configuration: device.configuration?.() ?? 'stored',
            eventLog: deps.eventLog.integrity().state,
            degraded,
          },
        },
        200,
      );
    },
  );
}
