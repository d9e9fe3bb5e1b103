/** `info` and `permissions`: what anyone may know about the device, nothing secret. */
import { z } from '@hono/zod-openapi';
import { toBase64Url } from '../../auth/encoding.ts';
import { PERMISSIONS, PRESETS, permissionNames, ROLE_TEMPLATES } from '../../core/permission-table.ts';
import type { ApiBuilder } from '../api-builder.ts';
import type { ApiDeps } from '../api-deps.ts';
import { jsonResponse } from '../schemas.ts';

const InfoSchema = z
  .object({
    model: z.string(),
    serialNumber: z.string(),
    firmwareVersion: z.string(),
    deviceKey: z
      .string()
      .openapi({ description: 'X25519 public key that passwords are sealed to (base64url)' }),
    https: z.object({ enabled: z.boolean(), port: z.number().nullable() }),
    modbus: z.object({
      tcp: z.boolean(),
      rtu: z.boolean(),
      tls: z.boolean(),
      tcpPort: z.number().nullable().openapi({ description: 'bound Modbus TCP port, null while blocked' }),
      tlsPort: z
        .number()
        .nullable()
        .openapi({ description: 'bound Modbus/TCP Security port, null while blocked' }),
    }),
    time: z.string(),
    meter: z
      .object({
        source: z
          .enum(['sim', 'modbus-rtu', 'modbus-tcp'])
          .openapi({ description: 'the metering front end' }),
        profile: z.string().nullable().openapi({ description: 'the profile an upstream meter is read with' }),
        state: z.enum(['fresh', 'stale', 'never-read']),
        staleSince: z.string().nullable(),
        readAt: z.string().nullable().openapi({ description: 'when the upstream meter last answered' }),
      })
      .openapi({
        description: 'the meter source (never its address or path) and whether its values are current',
      }),
    degraded: z.array(z.string()).openapi({
      description:
        'what is not as the committed state says (a damaged or rolled-back configuration, a refused file, a truncated event log), one sentence each; empty when all is well',
    }),
  })
  .openapi('Info');

const PermissionTableSchema = z
  .object({
    permissions: z.array(
      z.object({
        bit: z.number(),
        name: z.string(),
        label: z.string().openapi({ description: 'a few words for a person' }),
        description: z.string(),
        writes: z.boolean().openapi({ description: 'lets the holder change the device, not only look' }),
      }),
    ),
    presets: z.record(z.string(), z.array(z.string())),
    roles: z.record(z.string(), z.object({ description: z.string(), permissions: z.array(z.string()) })),
  })
  .openapi('PermissionTable');

function meterInfo(deps: ApiDeps) {
  const status = deps.metering.status();
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    source: deps.metering.source.kind,
    profile: deps.metering.source.profile,
    state: status.state,
    staleSince: iso(status.staleSince),
    readAt: iso(status.readAt),
  };
}

export function registerPublicRoutes(api: ApiBuilder, deps: ApiDeps): void {
  api.route(
    'public',
    {
      method: 'get',
      path: '/api/v1/info',
      summary: 'Device identity and which interfaces are enabled',
      responses: { 200: jsonResponse(InfoSchema, 'Device information') },
    },
    (c) => {
      const communication = deps.security.state.settings.communication;
      const ports = deps.device.ports();
      const httpsPort = ports.https;
      return c.json(
        {
          model: deps.device.model,
          serialNumber: deps.device.serialNumber,
          firmwareVersion: deps.device.firmwareVersion,
          deviceKey: toBase64Url(deps.device.deviceKey),
          https: { enabled: httpsPort !== null, port: httpsPort },
          modbus: {
            tcp: communication.modbusTcp,
            rtu: communication.modbusRtu,
            tls: communication.modbusTls,
            tcpPort: ports.modbusTcp,
            tlsPort: ports.modbusTls,
          },
          time: new Date(deps.now()).toISOString(),
          meter: meterInfo(deps),
          degraded: [...(deps.device.degraded?.() ?? [])],
        },
        200,
      );
    },
  );

  api.route(
    'public',
    {
      method: 'get',
      path: '/api/v1/permissions',
      summary: 'The permission table, API-key presets and IEC 62351-8 role templates',
      responses: { 200: jsonResponse(PermissionTableSchema, 'The permission table') },
    },
    (c) =>
      c.json(
        {
          permissions: PERMISSIONS.map(({ bit, name, label, description, writes }) => ({
            bit,
            name,
            label,
            description,
            writes,
          })),
          presets: Object.fromEntries(
            Object.entries(PRESETS).map(([name, set]) => [name, permissionNames(set)]),
          ),
          roles: Object.fromEntries(
            Object.entries(ROLE_TEMPLATES).map(([name, role]) => [
              name,
              { description: role.description, permissions: permissionNames(role.permissions) },
            ]),
          ),
        },
        200,
      ),
  );
}
