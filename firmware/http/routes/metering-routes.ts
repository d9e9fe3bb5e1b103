/** Measurements, energy meters, min/max and their resets, and the device configuration. */
import { z } from '@hono/zod-openapi';
import type { TypedResponse } from 'hono';
import { BAUD_RATES } from '../../core/device-config.ts';
import { HISTORY_RESOLUTIONS, type HistoryWindow } from '../../core/measurement-history.ts';
import { slotOfEntry } from '../../core/user-table.ts';
import type { Measurements, MeterStatus } from '../../meter/meter-source.ts';
import type { ApiBuilder } from '../api-builder.ts';
import type { ApiDeps } from '../api-deps.ts';
import { type CsvField, csvText } from '../csv-text.ts';
import { csvHeaders, csvResponse, jsonBody, jsonResponse, OkSchema } from '../schemas.ts';

/** A value, or null: not available (the source lacks it) or not current (state is not `fresh`). */
const Value = z.number().nullable();
const Phases = z.array(Value).length(3);
const StateFields = {
  state: z.enum(['fresh', 'stale', 'never-read']).openapi({
    description:
      'fresh: the values are current; stale: the upstream meter has not answered for `stale-after` polls (the values are null); never-read: it has not answered since boot (null)',
  }),
  staleSince: z
    .string()
    .nullable()
    .openapi({ description: 'when the values became stale; null unless stale' }),
};
const MeasurementsSchema = z
  .object({
    ...StateFields,
    time: z.string().nullable().openapi({ description: 'when the values were read; null when never' }),
    voltage: Phases.openapi({ description: 'U1N, U2N, U3N in V' }),
    current: Phases.openapi({ description: 'I1, I2, I3 in A' }),
    activePower: Phases.openapi({ description: 'W per phase' }),
    reactivePower: Phases.openapi({ description: 'var per phase' }),
    apparentPower: Phases.openapi({ description: 'VA per phase' }),
    powerFactor: Phases,
    total: z.object({
      activePower: Value,
      reactivePower: Value,
      apparentPower: Value,
      powerFactor: Value,
    }),
    frequency: Value.openapi({ description: 'Hz' }),
  })
  .openapi('Measurements');

const MetersSchema = z
  .object({
    ...StateFields,
    time: z.string().nullable().openapi({ description: 'when the registers were read; null when never' }),
    activeImportWh: Value,
    activeExportWh: Value,
    reactiveImportVarh: Value,
    reactiveExportVarh: Value,
    resetAt: z.string().nullable(),
  })
  .openapi('Meters');

const MinMaxSchema = z
  .object({
    activePowerMax: Value.openapi({ description: 'null until a value was read' }),
    activePowerMin: Value,
    currentMax: Value,
    since: z.string(),
  })
  .openapi('MinMax');

const ConfigSchema = z
  .object({
    measurement: z.object({ vtRatio: z.number(), ctRatio: z.number(), wordOrder: z.enum(['ABCD', 'CDAB']) }),
    communication: z.object({
      modbusTcp: z.boolean(),
      modbusRtu: z.boolean(),
      modbusTls: z.boolean(),
      unitId: z.number(),
      modbusSlot: z.number().nullable().openapi({
        description:
          'the slot of the entry Modbus TCP acts as (set by slot, stored as that entry: a later entry in the slot does not inherit it; deleting the entry sets anonymous, 2)',
      }),
      rtuSlot: z.number().nullable().openapi({ description: 'the same for Modbus RTU' }),
      rtu: z.object({ baudRate: z.number(), parity: z.enum(['none', 'even', 'odd']), stopBits: z.number() }),
    }),
  })
  .openapi('Config');

const ConfigPatchSchema = z
  .object({
    measurement: z
      .object({
        vtRatio: z.number().min(1).max(10000).optional(),
        ctRatio: z.number().min(1).max(10000).optional(),
        wordOrder: z.enum(['ABCD', 'CDAB']).optional(),
      })
      .strict()
      .optional(),
    communication: z
      .object({
        modbusTcp: z.boolean().optional(),
        modbusRtu: z.boolean().optional(),
        modbusTls: z.boolean().optional(),
        unitId: z.number().int().min(1).max(247).optional(),
        modbusSlot: z.number().int().min(0).max(7).optional(),
        rtuSlot: z.number().int().min(0).max(7).optional(),
        rtu: z
          .object({
            baudRate: z
              .number()
              .int()
              .refine((v) => (BAUD_RATES as readonly number[]).includes(v), `one of ${BAUD_RATES.join(', ')}`)
              .optional(),
            parity: z.enum(['none', 'even', 'odd']).optional(),
            stopBits: z.union([z.literal(1), z.literal(2)]).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .openapi('ConfigPatch');

const HistoryQuerySchema = z.object({
  resolution: z.enum(['1s', '1min']).default('1s').openapi({
    description: '1s: every second of the last 10 minutes; 1min: minute averages of the last 24 hours',
  }),
  format: z
    .enum(['json', 'csv'])
    .default('json')
    .openapi({ description: 'csv: text/csv, one line per step' }),
});

/** null: a gap (the meter's values were not current, or the source lacks the quantity). */
const HistoryValue = z.number().nullable();
const HistorySchema = z
  .object({
    resolution: z.enum(['1s', '1min']),
    intervalSeconds: z.number().openapi({ description: 'the step: 1 or 60' }),
    points: z.array(
      z.object({
        time: z
          .string()
          .openapi({ description: 'start of the step (for 1min: the average over that minute)' }),
        voltage: z.array(HistoryValue).length(3).openapi({ description: 'U1N, U2N, U3N in V' }),
        current: z.array(HistoryValue).length(3).openapi({ description: 'I1, I2, I3 in A' }),
        activePower: z.array(HistoryValue).length(3).openapi({ description: 'W per phase' }),
        totalActivePower: HistoryValue.openapi({ description: 'W' }),
      }),
    ),
  })
  .openapi('MeasurementHistory', {
    description:
      'oldest first, from the first second recorded since boot (the history is kept in RAM); a step without a current value is a gap (null), never filled in',
  });

const HISTORY_CSV_HEADER = [
  'time',
  'U1 V',
  'U2 V',
  'U3 V',
  'I1 A',
  'I2 A',
  'I3 A',
  'P1 W',
  'P2 W',
  'P3 W',
  'P total W',
];

function historyCsvRows(window: HistoryWindow): CsvField[][] {
  const v = window.values;
  return window.time.map((time, k) => [
    new Date(time).toISOString(),
    ...[v.u1, v.u2, v.u3, v.i1, v.i2, v.i3, v.p1, v.p2, v.p3, v.pTotal].map((series) => series[k] ?? null),
  ]);
}

/** The state fields, and the value of `v` as the state allows: null when not current or not available. */
function stateOf(status: MeterStatus) {
  const fresh = status.state === 'fresh';
  return {
    fields: {
      state: status.state,
      staleSince: status.staleSince === null ? null : new Date(status.staleSince).toISOString(),
      time: status.readAt === null ? null : new Date(status.readAt).toISOString(),
    },
    value: (v: number) => (fresh && Number.isFinite(v) ? v : null),
  };
}

/** Min/max are metergate's own, from current values only: shown whatever the state, null until one. */
const known = (v: number) => (Number.isFinite(v) ? v : null);

export function registerMeteringRoutes(api: ApiBuilder, deps: ApiDeps): void {
  const { metering } = deps;

  /** The last body of GET /measurements, for the values and meter state it was made from. */
  let last: { m: Measurements; status: MeterStatus; json: string } | null = null;
  const measurementsBody = (m: Measurements, status: MeterStatus): z.infer<typeof MeasurementsSchema> => {
    const { fields, value } = stateOf(status);
    return {
      ...fields,
      voltage: m.u.map(value),
      current: m.i.map(value),
      activePower: m.p.map(value),
      reactivePower: m.q.map(value),
      apparentPower: m.s.map(value),
      powerFactor: m.pf.map(value),
      total: {
        activePower: value(m.pTotal),
        reactivePower: value(m.qTotal),
        apparentPower: value(m.sTotal),
        powerFactor: value(m.pfTotal),
      },
      frequency: value(m.f),
    };
  };

  api.route(
    'measurements.read',
    {
      method: 'get',
      path: '/api/v1/measurements',
      summary: 'Instantaneous values per phase and totals (primary side)',
      responses: { 200: jsonResponse(MeasurementsSchema, 'Measurements') },
    },
    (c) => {
      const m = metering.measurements(c.get('principal').actor, c.get('context'));
      const status = metering.status();
      // The same values and state give the same body: serialised once per measurement cycle (issue 18).
      if (
        last?.m !== m ||
        last.status.state !== status.state ||
        last.status.staleSince !== status.staleSince ||
        last.status.readAt !== status.readAt
      )
        last = { m, status, json: JSON.stringify(measurementsBody(m, status)) };
      // The string is measurementsBody's (typed as the schema), so the response is what c.json would send.
      return c.body(last.json, 200, { 'content-type': 'application/json' }) as unknown as TypedResponse<
        z.infer<typeof MeasurementsSchema>,
        200,
        'json'
      >;
    },
  );
  api.route(
    'measurements.read',
    {
      method: 'get',
      path: '/api/v1/measurements/history',
      summary: 'Trend history kept in RAM: 1 s values (10 min) or 1 min averages (24 h), as JSON or CSV',
      request: { query: HistoryQuerySchema },
      responses: {
        200: {
          description: 'The history, oldest first',
          content: {
            'application/json': { schema: HistorySchema },
            ...csvResponse('one line per step: time, U1-U3, I1-I3, P1-P3, P total; an empty field is a gap')
              .content,
          },
        },
      },
    },
    (c) => {
      const { resolution, format } = c.req.valid('query');
      const window = metering.measurementHistory(c.get('principal').actor, c.get('context'), resolution);
      if (format === 'csv') {
        const name = `metergate-${deps.device.serialNumber}-history-${resolution}.csv`;
        return c.body(csvText(HISTORY_CSV_HEADER, historyCsvRows(window)), 200, csvHeaders(name));
      }
      const v = window.values;
      return c.json(
        {
          resolution,
          intervalSeconds: HISTORY_RESOLUTIONS[resolution].stepMs / 1000,
          points: window.time.map((time, k) => ({
            time: new Date(time).toISOString(),
            voltage: [v.u1[k] ?? null, v.u2[k] ?? null, v.u3[k] ?? null],
            current: [v.i1[k] ?? null, v.i2[k] ?? null, v.i3[k] ?? null],
            activePower: [v.p1[k] ?? null, v.p2[k] ?? null, v.p3[k] ?? null],
            totalActivePower: v.pTotal[k] ?? null,
          })),
        },
        200,
      );
    },
  );

  api.route(
    'meters.read',
    {
      method: 'get',
      path: '/api/v1/meters',
      summary: 'Energy meters (primary side)',
      responses: { 200: jsonResponse(MetersSchema, 'Energy meters') },
    },
    (c) => {
      const m = metering.meters(c.get('principal').actor, c.get('context'));
      const { fields, value } = stateOf(metering.status());
      return c.json(
        {
          ...fields,
          activeImportWh: value(m.activeImportWh),
          activeExportWh: value(m.activeExportWh),
          reactiveImportVarh: value(m.reactiveImportVarh),
          reactiveExportVarh: value(m.reactiveExportVarh),
          resetAt: m.resetAt === null ? null : new Date(m.resetAt).toISOString(),
        },
        200,
      );
    },
  );

  api.route(
    'meters.reset',
    {
      method: 'post',
      path: '/api/v1/meters/reset',
      summary: 'Resets the energy meters',
      responses: { 200: jsonResponse(OkSchema, 'Reset') },
    },
    (c) => {
      metering.resetMeters(c.get('principal').actor, c.get('context'));
      return c.json({ ok: true as const }, 200);
    },
  );

  api.route(
    'measurements.read',
    {
      method: 'get',
      path: '/api/v1/minmax',
      summary: 'Min/max values since their last reset',
      responses: { 200: jsonResponse(MinMaxSchema, 'Min/max') },
    },
    (c) => {
      const m = metering.minMax(c.get('principal').actor, c.get('context'));
      return c.json(
        {
          activePowerMax: known(m.pMax),
          activePowerMin: known(m.pMin),
          currentMax: known(m.iMax),
          since: new Date(m.since).toISOString(),
        },
        200,
      );
    },
  );

  api.route(
    'minmax.reset',
    {
      method: 'post',
      path: '/api/v1/minmax/reset',
      summary: 'Resets the min/max values',
      responses: { 200: jsonResponse(OkSchema, 'Reset') },
    },
    (c) => {
      metering.resetMinMax(c.get('principal').actor, c.get('context'));
      return c.json({ ok: true as const }, 200);
    },
  );

  const currentConfig = () => {
    const config = metering.config;
    const communication = deps.security.state.settings.communication;
    return {
      measurement: { vtRatio: config.vtRatio, ctRatio: config.ctRatio, wordOrder: config.wordOrder },
      communication: {
        modbusTcp: communication.modbusTcp,
        modbusRtu: communication.modbusRtu,
        modbusTls: communication.modbusTls,
        unitId: config.unitId,
        modbusSlot: slotOfEntry(deps.security.state.table, communication.modbusPrincipal),
        rtuSlot: slotOfEntry(deps.security.state.table, communication.rtuPrincipal),
        rtu: config.rtu,
      },
    };
  };

  api.route(
    'config.read',
    {
      method: 'get',
      path: '/api/v1/config',
      summary: 'Measurement and communication settings',
      responses: { 200: jsonResponse(ConfigSchema, 'Settings') },
    },
    (c) => c.json(currentConfig(), 200),
  );

  api.route(
    'config.write',
    {
      method: 'patch',
      path: '/api/v1/config',
      summary:
        'Changes measurement and communication settings (the Modbus principal also needs security.write)',
      request: jsonBody(ConfigPatchSchema),
      responses: { 200: jsonResponse(ConfigSchema, 'The new settings') },
    },
    async (c) => {
      const patch = c.req.valid('json');
      const actor = c.get('principal').actor;
      const ctx = c.get('context');
      const { unitId, rtu, modbusTcp, modbusRtu, modbusTls, modbusSlot, rtuSlot } = patch.communication ?? {};
      const security = Object.fromEntries(
        Object.entries({ modbusTcp, modbusRtu, modbusTls, modbusSlot, rtuSlot }).filter(
          ([, v]) => v !== undefined,
        ),
      );
      if (Object.keys(security).length > 0) await deps.security.updateCommunication(actor, security, ctx);
      const measurement = Object.fromEntries(
        Object.entries({ ...patch.measurement, unitId, rtu }).filter(([, v]) => v !== undefined),
      );
      if (Object.keys(measurement).length > 0) metering.updateConfig(actor, measurement, ctx);
      return c.json(currentConfig(), 200);
    },
  );
}
