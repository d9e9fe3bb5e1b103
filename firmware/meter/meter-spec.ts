/**
 * The `--meter SOURCE` argument (and the commissioning file's `meter:`): which metering front end the
 * device reads. `sim`, `modbus-rtu:PATH?…` or `modbus-tcp://HOST:PORT?…`, with the polling options
 * as query parameters. Pure: text in, a spec or a MeterSpecError naming the bad part out.
 */

export type SerialParity = 'none' | 'even' | 'odd';

/** How an upstream meter is polled (the query options every Modbus source takes). */
export interface PollOptions {
  /** Modbus unit id of the upstream meter: 1–247 on RTU, 0–255 on TCP. Default 1. */
  readonly unit: number;
  /** Built-in profile name or a profile file path. Required. */
  readonly profile: string;
  /** Time from the start of one poll to the start of the next, ms. Default 1000. */
  readonly intervalMs: number;
  /** Time an answer may take, ms. Default 1000. */
  readonly timeoutMs: number;
  /** Further tries of a failed read within one poll, with backoff. Default 1. */
  readonly retries: number;
  /** Consecutive missed polls after which the values are stale. Default 3. */
  readonly staleAfter: number;
}

export type MeterSpec =
  | { readonly kind: 'sim' }
  | ({
      readonly kind: 'modbus-rtu';
      readonly path: string;
      readonly baudRate: number;
      readonly parity: SerialParity;
      readonly stopBits: 1 | 2;
      readonly dataBits: 7 | 8;
    } & PollOptions)
  | ({ readonly kind: 'modbus-tcp'; readonly host: string; readonly port: number } & PollOptions);

export class MeterSpecError extends Error {
  override readonly name = 'MeterSpecError';
}

export const DEFAULT_POLL = {
  unit: 1,
  intervalMs: 1000,
  timeoutMs: 1000,
  retries: 1,
  staleAfter: 3,
} as const;

export const SERIAL_BAUD_RATES = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] as const;

const COMMON_KEYS = ['unit', 'profile', 'interval', 'timeout', 'retries', 'stale-after'];
const RTU_KEYS = [...COMMON_KEYS, 'baud', 'parity', 'stopbits', 'databits'];

export const METER_SOURCE_FORMS =
  "'sim', 'modbus-rtu:/dev/ttyUSB0?baud=9600&parity=even&unit=1&profile=NAME' or " +
  "'modbus-tcp://HOST:PORT?unit=1&profile=NAME'";

/** Parses a meter source. Throws MeterSpecError naming the part that is wrong. */
export function parseMeterSpec(text: string): MeterSpec {
  if (text === 'sim') return { kind: 'sim' };
  if (text.startsWith('modbus-tcp://')) return parseTcp(text.slice('modbus-tcp://'.length));
  if (text.startsWith('modbus-rtu:')) return parseRtu(text.slice('modbus-rtu:'.length));
  throw new MeterSpecError(`'${text}' is not a meter source: use ${METER_SOURCE_FORMS}`);
}

/** The spec written back as text (what `GET /api/v1/info` and the logs show, minus nothing secret). */
export function describeMeterSpec(spec: MeterSpec): string {
  if (spec.kind === 'sim') return 'sim';
  const where =
    spec.kind === 'modbus-tcp' ? `modbus-tcp://${spec.host}:${spec.port}` : `modbus-rtu:${spec.path}`;
  return `${where} unit ${spec.unit}, profile ${spec.profile}`;
}

function parseTcp(rest: string): MeterSpec {
  const [authority = '', query] = splitQuery(rest);
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(authority);
  if (!match) {
    throw new MeterSpecError(
      `modbus-tcp: '${authority}' must be HOST:PORT (a name or address, a port 1–65535), e.g. modbus-tcp://192.0.2.10:502?profile=NAME`,
    );
  }
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new MeterSpecError(`modbus-tcp: port '${match[2]}' must be 1–65535`);
  const host = (match[1] as string).replace(/^\[(.*)\]$/, '$1');
  const params = queryParams(query, COMMON_KEYS, 'modbus-tcp');
  return { kind: 'modbus-tcp', host, port, ...pollOptions(params, 'modbus-tcp') };
}

function parseRtu(rest: string): MeterSpec {
  const [path = '', query] = splitQuery(rest);
  if (!path.startsWith('/') || path.endsWith('/')) {
    throw new MeterSpecError(`modbus-rtu: '${path}' must be the path of a serial device, e.g. /dev/ttyUSB0`);
  }
  const params = queryParams(query, RTU_KEYS, 'modbus-rtu');
  const baud = params.get('baud');
  const baudRate = baud === undefined ? 9600 : Number(baud);
  if (!(SERIAL_BAUD_RATES as readonly number[]).includes(baudRate) || !/^\d+$/.test(baud ?? '9600')) {
    throw new MeterSpecError(`modbus-rtu: baud '${baud}' must be one of ${SERIAL_BAUD_RATES.join(', ')}`);
  }
  const parity = params.get('parity') ?? 'even';
  if (parity !== 'none' && parity !== 'even' && parity !== 'odd') {
    throw new MeterSpecError(`modbus-rtu: parity '${parity}' must be none, even or odd`);
  }
  const stop = params.get('stopbits') ?? '1';
  if (stop !== '1' && stop !== '2') throw new MeterSpecError(`modbus-rtu: stopbits '${stop}' must be 1 or 2`);
  const data = params.get('databits') ?? '8';
  if (data !== '7' && data !== '8') throw new MeterSpecError(`modbus-rtu: databits '${data}' must be 7 or 8`);
  return {
    kind: 'modbus-rtu',
    path,
    baudRate,
    parity,
    stopBits: Number(stop) as 1 | 2,
    dataBits: Number(data) as 7 | 8,
    ...pollOptions(params, 'modbus-rtu'),
  };
}

function splitQuery(text: string): [string, string | undefined] {
  const at = text.indexOf('?');
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function queryParams(query: string | undefined, known: readonly string[], kind: string): Map<string, string> {
  const params = new Map<string, string>();
  if (query === undefined || query === '') return params;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || eq === part.length - 1) throw new MeterSpecError(`${kind}: '${part}' must be NAME=VALUE`);
    if (!known.includes(key)) {
      throw new MeterSpecError(`${kind}: unknown option '${key}' (known: ${known.join(', ')})`);
    }
    if (params.has(key)) throw new MeterSpecError(`${kind}: option '${key}' given twice`);
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1));
    } catch {
      throw new MeterSpecError(`${kind}: '${part}' is not URL-encoded correctly`);
    }
    params.set(key, value);
  }
  return params;
}

function pollOptions(params: Map<string, string>, kind: string): PollOptions {
  const profile = params.get('profile');
  if (profile === undefined) {
    throw new MeterSpecError(
      `${kind}: profile=NAME is required (a built-in profile such as eastron-sdm630, or a profile file path)`,
    );
  }
  const whole = (key: string, min: number, max: number, fallback: number): number => {
    const value = params.get(key);
    if (value === undefined) return fallback;
    if (!/^\d{1,6}$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new MeterSpecError(`${kind}: ${key} '${value}' must be a whole number from ${min} to ${max}`);
    }
    return Number(value);
  };
  const intervalMs = duration(params, 'interval', 10, 3_600_000, DEFAULT_POLL.intervalMs, kind);
  return {
    // Modbus TCP devices answer to 0 or 255 as well; on a serial line 1–247 are the devices.
    unit:
      kind === 'modbus-tcp'
        ? whole('unit', 0, 255, DEFAULT_POLL.unit)
        : whole('unit', 1, 247, DEFAULT_POLL.unit),
    profile,
    intervalMs,
    timeoutMs: duration(params, 'timeout', 10, 60_000, DEFAULT_POLL.timeoutMs, kind),
    retries: whole('retries', 0, 10, DEFAULT_POLL.retries),
    staleAfter: whole('stale-after', 1, 1000, DEFAULT_POLL.staleAfter),
  };
}

/** `250ms`, `1s`, `1.5s`, or a bare number of milliseconds. */
function duration(
  params: Map<string, string>,
  key: string,
  minMs: number,
  maxMs: number,
  fallback: number,
  kind: string,
): number {
  const value = params.get(key);
  if (value === undefined) return fallback;
  const match = /^(\d{1,7}(?:\.\d{1,3})?)(ms|s)?$/.exec(value);
  const ms = match ? Math.round(Number(match[1]) * (match[2] === 's' ? 1000 : 1)) : Number.NaN;
  if (!match || ms < minMs || ms > maxMs) {
    throw new MeterSpecError(
      `${kind}: ${key} '${value}' must be a duration from ${minMs} ms to ${maxMs / 1000} s (e.g. 500ms, 2s)`,
    );
  }
  return ms;
}
