/**
 * `metergate audit list|follow|export`: the device's security event log (GET /api/v1/audit, audit.read)
 * as a table, as it grows, or whole as JSON lines or CSV for an archive or a SIEM.
 */
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeviceClient } from '../client/device-client.ts';
import { csvField } from '../http/csv-text.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import { parseCommandArgs } from './command-args.ts';
import { CONNECTION_FLAGS, CONNECTION_USAGE, withSession } from './device-connection.ts';
import { expect } from './users-command.ts';

const USAGE = `usage: metergate audit list|follow|export --url URL [options]

  audit list [--limit N] [--type T]      the newest N events (default 50), newest first
  audit follow [--type T] [--interval S] prints events as they are logged (every S seconds, default 2) until interrupted
  audit export --format jsonl|csv [--type T] [--output FILE]
                                         every event in the log, oldest first (FILE: written 0600, never overwritten)

--type T keeps the events whose type starts with T (e.g. login). Needs audit.read.

${CONNECTION_USAGE}`;

export interface AuditEvent {
  readonly id: number;
  readonly time: string;
  readonly type: string;
  readonly interface: string;
  readonly result: string;
  readonly slot?: number;
  readonly role?: string;
  readonly source?: string;
  readonly detail?: string;
}

interface AuditPage {
  readonly events: AuditEvent[];
  readonly next: number | null;
  readonly lost: { readonly count: number; readonly since: string } | null;
}

const CSV_COLUMNS = [
  'id',
  'time',
  'type',
  'interface',
  'result',
  'slot',
  'role',
  'source',
  'detail',
] as const;

export async function auditCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    ...CONNECTION_FLAGS,
    limit: { type: 'string' },
    type: { type: 'string' },
    interval: { type: 'string' },
    format: { type: 'string' },
    output: { type: 'string' },
  });
  const [action, ...extra] = positionals;
  if (values.help || action === undefined) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 2);
  if (!['list', 'follow', 'export'].includes(action))
    throw new CliError(`unknown action '${action}': list, follow or export`, 2);
  const limit = positiveInt(values.limit ?? '50', '--limit', 200);
  const interval = positiveInt(values.interval ?? '2', '--interval', 3600);
  const format = values.format;
  if (action === 'export' && format !== 'jsonl' && format !== 'csv')
    throw new CliError('audit export needs --format jsonl or --format csv', 2);
  const type = values.type;
  await withSession(values, io, async ({ client }) => {
    if (action === 'list') {
      const page = await readPage(client, limit, type);
      if (page.lost) io.err(`note: ${page.lost.count} events lost since ${page.lost.since}`);
      for (const event of page.events) io.out(formatEvent(event));
    } else if (action === 'export') {
      const events = await readAll(client, type);
      const text =
        format === 'jsonl'
          ? events.map((e) => JSON.stringify(e)).join('\n')
          : [
              CSV_COLUMNS.join(','),
              ...events.map((e) => CSV_COLUMNS.map((c) => csvCell(e[c])).join(',')),
            ].join('\n');
      if (values.output) {
        writeFileSync(values.output, `${text}\n`, { mode: 0o600, flag: 'wx' });
        io.err(`${events.length} events written to ${values.output}`);
      } else if (text) io.out(text);
    } else {
      let last = (await readPage(client, 1, undefined)).events[0]?.id ?? 0;
      io.err(`following the audit log of ${client.baseUrl} (Ctrl-C ends)…`);
      for (;;) {
        await sleep(interval * 1000);
        const page = await readPage(client, 200, undefined);
        const fresh = page.events.filter((e) => e.id > last).reverse();
        for (const event of fresh)
          if (type === undefined || event.type.startsWith(type)) io.out(formatEvent(event));
        last = Math.max(last, ...fresh.map((e) => e.id));
      }
    }
  });
  return 0;
}

async function readPage(client: DeviceClient, limit: number, type: string | undefined, before?: number) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (type !== undefined) query.set('type', type);
  if (before !== undefined) query.set('before', String(before));
  const response = await client.request<AuditPage>('GET', `/api/v1/audit?${query}`);
  expect(response, 200);
  return response.body;
}

/** Every event, oldest first, page by page. */
async function readAll(client: DeviceClient, type: string | undefined): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await readPage(client, 200, type, before);
    events.push(...page.events);
    if (page.next === null) break;
    before = page.next;
  }
  return events.reverse();
}

function formatEvent(e: AuditEvent): string {
  const who = e.slot !== undefined ? `slot ${e.slot}` : e.role !== undefined ? `role ${e.role}` : '-';
  return [
    String(e.id).padStart(5),
    e.time,
    e.type.padEnd(20),
    e.interface.padEnd(10),
    e.result.padEnd(7),
    who.padEnd(8),
    e.source ?? '-',
    e.detail ?? '',
  ]
    .join('  ')
    .trimEnd();
}

/** A field as the device's own CSV exports write it (csv-text.ts: RFC 4180, formulas defused). */
function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  return csvField(typeof value === 'number' ? value : String(value));
}

function positiveInt(text: string, flag: string, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new CliError(`${flag} must be a whole number from 1 to ${max}, got '${text}'`, 2);
  return value;
}
