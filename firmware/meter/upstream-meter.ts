/**
 * The upstream meter: a real energy meter read over Modbus RTU or TCP with the modbus-serial client,
 * through a meter profile. It polls as gateways do: the profile's registers merged into block reads
 * (planReads), one poll at a time (the next starts `interval` after the previous started, or at once
 * when it took longer: polls never overlap), each read with a timeout and retried with backoff. A poll
 * answers only when every block does; its values then carry the poll's time. After `staleAfter`
 * missed polls in a row the values are stale; they stay held (for `readAt`) but no interface shows
 * them as values. A broken line (serial port gone, TCP connection refused or reset) is reopened with
 * backoff. Going stale and coming back are `meter.comm-lost` / `meter.comm-restored` events, bounded
 * by CommEventLimiter.
 *
 * Energies are the meter's own registers; min/max are tracked here from the polled values, since
 * boot or the last reset (in RAM). The energy reset is metergate's offset (metering-service.ts).
 */
import ModbusSerial from 'modbus-serial';
import { CommEventLimiter, type CommEventToLog } from './comm-event-limiter.ts';
import {
  decodeReadings,
  type MeterProfile,
  planReads,
  type Quantity,
  type ReadBlock,
  type Readings,
} from './meter-profile.ts';
import type {
  EnergyMeters,
  Measurements,
  MeterKind,
  MeterSource,
  MeterStatus,
  MinMax,
} from './meter-source.ts';
import type { PollOptions } from './meter-spec.ts';

/** The line to the meter. ModbusSerialLink in the device; anything that reads registers in principle. */
export interface ModbusLink {
  readonly isOpen: boolean;
  open(): Promise<void>;
  /** The registers, or throws (LinkError when the line itself is broken). */
  read(block: ReadBlock): Promise<Uint16Array>;
  close(): Promise<void>;
}

/** The line is broken (not a slow or refusing meter): reopen it. */
export class LinkError extends Error {
  override readonly name = 'LinkError';
}

export type LineSettings =
  | {
      readonly kind: 'modbus-rtu';
      readonly path: string;
      readonly baudRate: number;
      readonly parity: 'none' | 'even' | 'odd';
      readonly stopBits: 1 | 2;
      readonly dataBits: 7 | 8;
    }
  | { readonly kind: 'modbus-tcp'; readonly host: string; readonly port: number };

/** The modbus-serial client on a serial port (connectRTUBuffered) or a TCP connection (connectTCP). */
// modbus-serial is CommonJS: the client class is `module.exports` and, for typings, its `default`.
const ModbusClient = ModbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusClient>;

export class ModbusSerialLink implements ModbusLink {
  private client: ModbusClient | null = null;

  constructor(
    private readonly line: LineSettings,
    private readonly unit: number,
    private readonly timeoutMs: number,
  ) {}

  get isOpen(): boolean {
    return this.client?.isOpen ?? false;
  }

  async open(): Promise<void> {
    await this.close();
    const client = new ModbusClient();
    // An error on the port after it opened (a USB adapter pulled out) ends up here, not as a crash.
    client.on('error', () => {});
    client.on('close', () => {
      if (this.client === client) this.client = null;
    });
    const connect =
      this.line.kind === 'modbus-tcp'
        ? client.connectTCP(this.line.host, { port: this.line.port, timeout: this.timeoutMs })
        : client.connectRTUBuffered(this.line.path, {
            baudRate: this.line.baudRate,
            parity: this.line.parity,
            stopBits: this.line.stopBits,
            dataBits: this.line.dataBits,
          });
    // Lost to the timeout below, its rejection must not go unhandled (that would end the process).
    connect.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        connect,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no connection within ${this.timeoutMs} ms`)),
            this.timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      client.close(() => {});
      throw new LinkError(`cannot open ${describeLine(this.line)}: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    client.setID(this.unit);
    client.setTimeout(this.timeoutMs);
    this.client = client;
  }

  async read(block: ReadBlock): Promise<Uint16Array> {
    const client = this.client;
    if (!client?.isOpen) throw new LinkError(`${describeLine(this.line)} is not open`);
    let result: { data: number[] };
    try {
      result =
        block.functionCode === 3
          ? await client.readHoldingRegisters(block.address, block.count)
          : await client.readInputRegisters(block.address, block.count);
    } catch (error) {
      const e = error as { modbusCode?: number; errno?: string; message?: string };
      if (e.modbusCode !== undefined)
        throw new Error(`exception 0x${e.modbusCode.toString(16).padStart(2, '0')}`);
      if (e.errno === 'ETIMEDOUT' || e.message === 'Timed out')
        throw new Error('no answer within the timeout');
      if (!client.isOpen) throw new LinkError(`${describeLine(this.line)}: ${e.message ?? String(error)}`);
      throw new Error(e.message ?? String(error));
    }
    if (!Array.isArray(result.data) || result.data.length !== block.count) {
      throw new Error(`answer of ${result.data?.length ?? 0} registers to a read of ${block.count}`);
    }
    return Uint16Array.from(result.data);
  }

  close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 1000);
      client.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

export function describeLine(line: LineSettings): string {
  return line.kind === 'modbus-tcp' ? `${line.host}:${line.port}` : line.path;
}

/** A comm-lost or comm-restored event, for the security log. */
export interface CommEvent {
  readonly type: 'meter.comm-lost' | 'meter.comm-restored';
  readonly result: 'failed' | 'ok';
  readonly source: string;
  readonly detail: string;
}

export interface UpstreamMeterOptions {
  readonly kind: Exclude<MeterKind, 'sim'>;
  readonly profileName: string;
  readonly profile: MeterProfile;
  readonly poll: PollOptions;
  readonly link: ModbusLink;
  /** What events and logs name the line by (a path or host:port). */
  readonly lineName: string;
  readonly now: () => number;
  readonly onEvent: (event: CommEvent) => void;
  readonly log: (message: string) => void;
  readonly limiter?: CommEventLimiter;
}

/** Longest wait before reopening a broken line. */
const MAX_REOPEN_BACKOFF_MS = 5000;
/** First wait before a retry; doubles each retry, at most half the interval (and ≥ 100 ms, so a late answer lands between requests). */
const RETRY_BACKOFF_MS = 100;

const NOT_AVAILABLE = Number.NaN;

export class UpstreamMeter implements MeterSource {
  readonly kind: Exclude<MeterKind, 'sim'>;
  readonly profile: string;
  readonly primary: boolean;
  private readonly blocks: readonly ReadBlock[];
  private readonly limiter: CommEventLimiter;
  private values: Readings = {};
  private readAt: number | null = null;
  private staleSince: number | null = null;
  private missed = 0;
  /** comm-lost was announced and comm-restored not yet. */
  private lost = false;
  private lastError = '';
  private reopenFailures = 0;
  private reopenAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closed = false;
  private minMaxState: MinMax;
  private snapshot: Measurements = toMeasurements({}, null);

  constructor(private readonly options: UpstreamMeterOptions) {
    this.kind = options.kind;
    this.profile = options.profileName;
    this.primary = options.profile.primary;
    this.blocks = planReads(options.profile);
    this.limiter = options.limiter ?? new CommEventLimiter();
    this.minMaxState = emptyMinMax(options.now());
  }

  /** Starts polling (the first poll at once). */
  start(): void {
    this.schedule(0);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.options.link.close();
  }

  status(now: number): MeterStatus {
    if (this.readAt === null) return { state: 'never-read', staleSince: null, readAt: null };
    if (this.staleSince !== null) return { state: 'stale', staleSince: this.staleSince, readAt: this.readAt };
    // A poll loop that stopped answering at all (it should not) must not leave old values fresh.
    const { intervalMs, timeoutMs, retries, staleAfter } = this.options.poll;
    const maxAge =
      staleAfter * (intervalMs + this.blocks.length * (retries + 1) * (timeoutMs + this.retryBackoffCap())) +
      MAX_REOPEN_BACKOFF_MS;
    if (now - this.readAt > maxAge)
      return { state: 'stale', staleSince: this.readAt + maxAge, readAt: this.readAt };
    return { state: 'fresh', staleSince: null, readAt: this.readAt };
  }

  /** The values of the last answered poll (one object per poll, so scaling is done once per poll). */
  measurements(_now: number): Measurements {
    return this.snapshot;
  }

  meters(_now: number): EnergyMeters {
    const v = (q: Quantity) => this.values[q] ?? NOT_AVAILABLE;
    return {
      activeImportWh: v('activeImportWh'),
      activeExportWh: v('activeExportWh'),
      reactiveImportVarh: v('reactiveImportVarh'),
      reactiveExportVarh: v('reactiveExportVarh'),
      resetAt: null,
    };
  }

  minMax(_now: number): MinMax {
    return this.minMaxState;
  }

  resetMinMax(now: number): void {
    this.minMaxState = emptyMinMax(now);
    if (this.staleSince === null && this.readAt !== null) this.track(this.values);
  }

  private retryBackoffCap(): number {
    return Math.max(RETRY_BACKOFF_MS, this.options.poll.intervalMs / 2);
  }

  private schedule(delay: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.running = this.poll().finally(() => {
        this.running = null;
      });
    }, delay);
    this.timer.unref?.();
  }

  private async poll(): Promise<void> {
    const { now } = this.options;
    const started = now();
    try {
      const words = await this.readAll();
      const readings = decodeReadings(this.options.profile, this.blocks, words, (problem) => {
        this.options.log(`upstream meter: ${problem.quantity} left out: ${problem.message}`);
      });
      this.answered(readings, now());
    } catch (error) {
      this.missedPoll(error as Error, now());
      // A line that stays silent may be dead without saying so (a TCP peer gone without a reset, a
      // serial adapter pulled out): while stale, each poll opens the line afresh (with backoff).
      if (this.lost && this.options.link.isOpen) {
        await this.options.link.close();
        this.backOffReopen();
      }
    }
    const settled = this.limiter.settle(now());
    if (settled) this.announce(settled);
    this.schedule(Math.max(0, started + this.options.poll.intervalMs - now()));
  }

  private async readAll(): Promise<Uint16Array[]> {
    const { link } = this.options;
    if (!link.isOpen) {
      if (this.options.now() < this.reopenAt) throw new LinkError(this.lastError || 'line not open');
      try {
        await link.open();
      } catch (error) {
        this.backOffReopen();
        throw error;
      }
    }
    const words: Uint16Array[] = [];
    for (const block of this.blocks) words.push(await this.readWithRetries(block));
    return words;
  }

  /** The next reopen waits interval × 2^(failures − 1), at most MAX_REOPEN_BACKOFF_MS; an answered poll resets it. */
  private backOffReopen(): void {
    this.reopenFailures++;
    const backoff = Math.min(
      MAX_REOPEN_BACKOFF_MS,
      this.options.poll.intervalMs * 2 ** Math.min(10, this.reopenFailures - 1),
    );
    this.reopenAt = this.options.now() + backoff;
  }

  private async readWithRetries(block: ReadBlock): Promise<Uint16Array> {
    const { retries } = this.options.poll;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.options.link.read(block);
      } catch (error) {
        if (error instanceof LinkError) {
          await this.options.link.close();
          throw error;
        }
        if (attempt >= retries || this.closed) {
          throw new Error(
            `FC${block.functionCode} ${block.address}+${block.count}: ${(error as Error).message}`,
          );
        }
        const backoff = Math.min(this.retryBackoffCap(), RETRY_BACKOFF_MS * 2 ** attempt);
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    }
  }

  private answered(readings: Readings, at: number): void {
    this.values = readings;
    this.readAt = at;
    this.snapshot = toMeasurements(readings, at);
    this.missed = 0;
    this.reopenFailures = 0;
    this.staleSince = null;
    this.track(readings);
    if (this.lost) {
      this.lost = false;
      const logged = this.limiter.transition('restored', at);
      if (logged) this.announce(logged);
      this.options.log(`upstream meter ${this.options.lineName} answers again`);
    }
  }

  private missedPoll(error: Error, at: number): void {
    this.missed++;
    this.lastError = error.message;
    if (this.missed < this.options.poll.staleAfter || this.lost) return;
    this.lost = true;
    if (this.readAt !== null) this.staleSince = at;
    const logged = this.limiter.transition('lost', at);
    if (logged) this.announce(logged);
    this.options.log(
      `upstream meter ${this.options.lineName}: ${this.missed} polls missed (${error.message}); ${this.readAt === null ? 'no values yet' : 'values stale'}`,
    );
  }

  private announce({ state, notLogged }: CommEventToLog): void {
    const more = notLogged > 0 ? `; ${notLogged} transitions before this not logged one by one` : '';
    this.options.onEvent(
      state === 'lost'
        ? {
            type: 'meter.comm-lost',
            result: 'failed',
            source: this.options.lineName,
            detail: `${this.options.poll.staleAfter} polls missed: ${this.lastError}${more}`.slice(0, 200),
          }
        : {
            type: 'meter.comm-restored',
            result: 'ok',
            source: this.options.lineName,
            detail: `answers again${more}`,
          },
    );
  }

  private track(readings: Readings): void {
    const p = readings.pTotal;
    const currents = [readings.i1, readings.i2, readings.i3].filter((i): i is number => i !== undefined);
    const m = this.minMaxState;
    this.minMaxState = {
      pMax: p === undefined ? m.pMax : Number.isNaN(m.pMax) ? p : Math.max(m.pMax, p),
      pMin: p === undefined ? m.pMin : Number.isNaN(m.pMin) ? p : Math.min(m.pMin, p),
      iMax:
        currents.length === 0
          ? m.iMax
          : Number.isNaN(m.iMax)
            ? Math.max(...currents)
            : Math.max(m.iMax, ...currents),
      since: m.since,
    };
  }
}

function toMeasurements(readings: Readings, readAt: number | null): Measurements {
  const v = (q: Quantity) => readings[q] ?? NOT_AVAILABLE;
  const three = (a: Quantity, b: Quantity, c: Quantity) => [v(a), v(b), v(c)] as const;
  return {
    time: readAt ?? Number.NaN,
    u: three('u1', 'u2', 'u3'),
    i: three('i1', 'i2', 'i3'),
    p: three('p1', 'p2', 'p3'),
    q: three('q1', 'q2', 'q3'),
    s: three('s1', 's2', 's3'),
    pf: three('pf1', 'pf2', 'pf3'),
    pTotal: v('pTotal'),
    qTotal: v('qTotal'),
    sTotal: v('sTotal'),
    pfTotal: v('pfTotal'),
    f: v('f'),
  };
}

function emptyMinMax(since: number): MinMax {
  return { pMax: NOT_AVAILABLE, pMin: NOT_AVAILABLE, iMax: NOT_AVAILABLE, since };
}
