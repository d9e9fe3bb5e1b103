/**
 * Metering operations every interface shares (REST, Modbus, display): reading values scaled by the
 * VT/CT ratios, resetting meters and min/max, and changing the measurement configuration. Each decides
 * through access.ts (the actor, the permission, the interface of `ctx`) and logs commands and
 * configuration changes as security events. Only the test harness and the bench read unchecked.
 *
 * Whether the values are current (`status`: fresh, stale, never read) is not an access question: the
 * readers return what the source holds, and each interface maps a status other than fresh to its own
 * form (REST nulls and `state`, Modbus exception 0x0B, the display's "no data").
 *
 * The energy reset of a source that keeps its own registers (an upstream meter) is an offset in the
 * configuration: the registers at the reset, subtracted from what the meter reports afterwards.
 */
import { authorize } from '../core/access.ts';
import { ChangeSignal } from '../core/change-signal.ts';
import { CoreError } from '../core/core-error.ts';
import type { DeviceConfig, EnergyOffset } from '../core/device-config.ts';
import {
  type HistoryResolution,
  type HistoryWindow,
  MeasurementHistory,
} from '../core/measurement-history.ts';
import { type Actor, actorFields } from '../core/user-table.ts';
import {
  type EnergyMeters,
  type Measurements,
  type MeterSource,
  type MeterStatus,
  type MinMax,
  scaleToPrimary,
} from '../meter/meter-source.ts';
import type { ConfigStore } from '../store/config-store.ts';
import type { RequestContext } from './request-context.ts';
import type { SecurityService } from './security-service.ts';

export class MeteringService {
  /** Emitted after a configuration change is stored (Modbus re-reads unit id and line settings). */
  readonly configChanged = new ChangeSignal();

  constructor(
    private readonly meter: MeterSource,
    private readonly configStore: ConfigStore,
    private readonly security: SecurityService,
    private readonly now: () => number,
    private readonly history: MeasurementHistory = new MeasurementHistory(),
  ) {}

  get config(): DeviceConfig {
    return this.configStore.config;
  }

  /** Whether the values are current; any interface may show it (it is not a measurement). */
  status(): MeterStatus {
    return this.meter.status(this.now());
  }

  /** The source as `GET /api/v1/info` names it: kind and profile, never a path or address. */
  get source(): { readonly kind: MeterSource['kind']; readonly profile: string | null } {
    return { kind: this.meter.kind, profile: this.meter.profile };
  }

  measurements(actor: Actor, ctx: RequestContext): Measurements {
    authorize(actor, 'measurements.read', ctx.interface);
    return this.primaryMeasurements();
  }

  /** Energy on the primary side. */
  meters(actor: Actor, ctx: RequestContext): EnergyMeters {
    authorize(actor, 'meters.read', ctx.interface);
    return this.primaryMeters();
  }

  minMax(actor: Actor, ctx: RequestContext): MinMax {
    authorize(actor, 'measurements.read', ctx.interface);
    return this.primaryMinMax();
  }

  /** The trend history (core/measurement-history.ts) of `resolution`, ending now. */
  measurementHistory(actor: Actor, ctx: RequestContext, resolution: HistoryResolution): HistoryWindow {
    authorize(actor, 'measurements.read', ctx.interface);
    return this.history.read(resolution, this.now());
  }

  /**
   * Records this second in the history (the boot calls it once a second): the primary values while the
   * meter's are current, else a gap. Never a value the meter did not give.
   */
  recordHistory(): void {
    const now = this.now();
    if (this.meter.status(now).state !== 'fresh') {
      this.history.record(now, null);
      return;
    }
    const m = this.primaryMeasurements();
    this.history.record(now, {
      u1: m.u[0],
      u2: m.u[1],
      u3: m.u[2],
      i1: m.i[0],
      i2: m.i[1],
      i3: m.i[2],
      p1: m.p[0],
      p2: m.p[1],
      p3: m.p[2],
      pTotal: m.pTotal,
    });
  }

  /**
   * Readers that decide nothing, for the test harness and the bench that observe the meter. Nothing
   * acting for a principal calls this: REST, Modbus and the display read through the checked readers.
   */
  readUnchecked(): { measurements(): Measurements; meters(): EnergyMeters; minMax(): MinMax } {
    return {
      measurements: () => this.primaryMeasurements(),
      meters: () => this.primaryMeters(),
      minMax: () => this.primaryMinMax(),
    };
  }

  /** Scaled once per measurement cycle and configuration, not once per request. */
  private primaryMeasurements(): Measurements {
    const secondary = this.meter.measurements(this.now());
    const config = this.configStore.config;
    if (this.scaled?.secondary !== secondary || this.scaled.config !== config) {
      const ratios = this.meter.primary ? { vtRatio: 1, ctRatio: 1 } : config;
      this.scaled = { secondary, config, primary: scaleToPrimary(secondary, ratios) };
    }
    return this.scaled.primary;
  }

  private scaled: { secondary: Measurements; config: DeviceConfig; primary: Measurements } | null = null;

  private primaryMeters(): EnergyMeters {
    const m = this.meter.resetMeters
      ? this.meter.meters(this.now())
      : this.withOffset(this.meter.meters(this.now()));
    const k = this.meter.primary ? 1 : this.configStore.config.vtRatio * this.configStore.config.ctRatio;
    return {
      ...m,
      activeImportWh: Math.floor(m.activeImportWh * k),
      activeExportWh: Math.floor(m.activeExportWh * k),
      reactiveImportVarh: Math.floor(m.reactiveImportVarh * k),
      reactiveExportVarh: Math.floor(m.reactiveExportVarh * k),
    };
  }

  /**
   * The meter's registers minus the offset of the last reset. A register below its offset (the meter
   * was replaced, or reset at the meter itself) is shown as the meter counts it: the offset no longer
   * applies to it.
   */
  private withOffset(m: EnergyMeters): EnergyMeters {
    const offset = this.configStore.config.energyOffset;
    const minus = (field: Exclude<keyof EnergyOffset, 'resetAt'>) =>
      m[field] >= offset[field] ? m[field] - offset[field] : m[field];
    return {
      activeImportWh: minus('activeImportWh'),
      activeExportWh: minus('activeExportWh'),
      reactiveImportVarh: minus('reactiveImportVarh'),
      reactiveExportVarh: minus('reactiveExportVarh'),
      resetAt: offset.resetAt,
    };
  }

  private primaryMinMax(): MinMax {
    const m = this.meter.minMax(this.now());
    const { vtRatio, ctRatio } = this.meter.primary ? { vtRatio: 1, ctRatio: 1 } : this.configStore.config;
    return {
      ...m,
      pMax: m.pMax * vtRatio * ctRatio,
      pMin: m.pMin * vtRatio * ctRatio,
      iMax: m.iMax * ctRatio,
    };
  }

  /**
   * Resets the energy meters: the source's own (simulator), or by storing the upstream registers as
   * the new offset, which needs a current reading (else `meter-unavailable`).
   */
  resetMeters(actor: Actor, ctx: RequestContext): void {
    this.command('meters.reset', actor, ctx, () => {
      const now = this.now();
      if (this.meter.resetMeters) {
        this.meter.resetMeters(now);
        return;
      }
      if (this.meter.status(now).state !== 'fresh') {
        throw new CoreError(
          'meter-unavailable',
          'the upstream meter does not answer: the energy meters can be reset once it does',
        );
      }
      const raw = this.meter.meters(now);
      const at = (v: number) => (Number.isFinite(v) && v >= 0 ? v : 0);
      this.configStore.commit({
        ...this.configStore.config,
        energyOffset: {
          activeImportWh: at(raw.activeImportWh),
          activeExportWh: at(raw.activeExportWh),
          reactiveImportVarh: at(raw.reactiveImportVarh),
          reactiveExportVarh: at(raw.reactiveExportVarh),
          resetAt: now,
        },
      });
    });
  }

  resetMinMax(actor: Actor, ctx: RequestContext): void {
    this.command('minmax.reset', actor, ctx, () => this.meter.resetMinMax(this.now()));
  }

  /** Validates, stores and logs a new measurement configuration. Needs config.write. */
  updateConfig(actor: Actor, patch: Partial<DeviceConfig>, ctx: RequestContext): DeviceConfig {
    let next: DeviceConfig = this.configStore.config;
    this.command(
      'config.change',
      actor,
      ctx,
      () => {
        next = {
          ...this.configStore.config,
          ...patch,
          rtu: { ...this.configStore.config.rtu, ...patch.rtu },
        };
        this.configStore.commit(next);
      },
      Object.keys(patch).join(','),
    );
    void this.configChanged.emit();
    return next;
  }

  private command(
    type: 'meters.reset' | 'minmax.reset' | 'config.change',
    actor: Actor,
    ctx: RequestContext,
    action: () => void,
    detail?: string,
  ): void {
    const event = { type, interface: ctx.interface, source: ctx.source, ...actorFields(actor), detail };
    try {
      authorize(actor, type === 'config.change' ? 'config.write' : type, ctx.interface);
      action();
    } catch (error) {
      this.security.record({
        ...event,
        result: 'denied',
        detail: [detail, (error as { code?: string }).code].filter(Boolean).join(' '),
      });
      throw error;
    }
    this.security.record({ ...event, result: 'ok' });
  }
}
