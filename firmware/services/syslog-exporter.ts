/**
 * Security events to a syslog collector (issue 9; IEC 62443-4-2 CR 2.8/2.9, an audit trail kept off the
 * device too): RFC 5424 messages over UDP (RFC 5426) or TLS (RFC 5425: octet counting, TLS 1.2+, the
 * collector trusted by its certificate's fingerprint only). Off by default. The export never holds up
 * or breaks the on-flash log: messages wait in a bounded queue while the collector is away (the oldest
 * are dropped and counted) and the TLS connection is retried with a growing pause.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { SyslogSettings } from '../core/security-settings.ts';
import type { SecurityEvent } from '../store/event-log.ts';
import { TLS_MIN_VERSION } from '../tls/tls-policy.ts';

/** authpriv (RFC 5424 facility 10): security and authorization messages. */
const FACILITY = 10;
const SEVERITY = { ok: 6, failed: 5, denied: 4 } as const;
/** Structured-data id: a private enterprise number of the documentation range (RFC 5612). */
const SD_ID = 'metergate@32473';
/** Messages waiting for the collector; beyond this the oldest go. */
export const MAX_QUEUED_MESSAGES = 512;
const MAX_RETRY_MS = 30_000;

export interface SyslogExporterDeps {
  readonly settings: () => SyslogSettings;
  /** HOSTNAME of the messages: the device's serial number. */
  readonly hostname: string;
  readonly log: (message: string) => void;
}

/** One event as an RFC 5424 message (without transport framing). */
export function formatSyslogMessage(event: SecurityEvent, hostname: string, procId: number): string {
  const pri = FACILITY * 8 + SEVERITY[event.result];
  const params: [string, string | number | undefined][] = [
    ['interface', event.interface],
    ['result', event.result],
    ['slot', event.slot],
    ['role', event.role],
    ['source', event.source],
  ];
  const sd = params
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([name, value]) => `${name}="${String(value).replace(/["\\\]]/g, '\\$&')}"`)
    .join(' ');
  const text = [event.type, event.result, event.source ? `from ${event.source}` : '', event.detail ?? '']
    .filter(Boolean)
    .join(' ');
  return `<${pri}>1 ${new Date(event.time).toISOString()} ${header(hostname, 255)} metergate ${procId} ${header(event.type, 32)} [${SD_ID} ${sd}] \uFEFF${text}`;
}

/** A header field: printable ASCII without spaces, bounded, `-` when empty (RFC 5424 §6). */
function header(value: string, max: number): string {
  const printable = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return printable || '-';
}

export class SyslogExporter {
  private udp: UdpSocket | null = null;
  private tls: TLSSocket | null = null;
  private connecting = false;
  private retryMs = 1000;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly queue: string[] = [];
  private target = '';
  private closed = false;
  /** Messages dropped because the queue was full. */
  dropped = 0;

  constructor(private readonly deps: SyslogExporterDeps) {}

  /** Sends (or queues) one event, if the export is on. Never throws. */
  send(event: SecurityEvent): void {
    const settings = this.deps.settings();
    this.retarget(settings);
    if (settings.transport === 'off' || this.closed) return;
    const message = formatSyslogMessage(event, this.deps.hostname, process.pid);
    if (settings.transport === 'udp') {
      this.udp ??= this.openUdp();
      this.udp.send(Buffer.from(message), settings.port, settings.host, () => {});
      return;
    }
    this.queue.push(message);
    if (this.queue.length > MAX_QUEUED_MESSAGES) {
      this.queue.shift();
      this.dropped++;
    }
    this.flush(settings);
  }

  close(): void {
    this.closed = true;
    this.reset();
  }

  /** A changed collector or transport: drop the old connection and start over. */
  private retarget(settings: SyslogSettings): void {
    const target = `${settings.transport} ${settings.host} ${settings.port} ${settings.fingerprint}`;
    if (target === this.target) return;
    this.target = target;
    this.queue.length = 0;
    this.reset();
  }

  private reset(): void {
    this.udp?.close();
    this.udp = null;
    this.tls?.destroy();
    this.tls = null;
    this.connecting = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryMs = 1000;
  }

  private openUdp(): UdpSocket {
    const socket = createSocket(this.deps.settings().host.includes(':') ? 'udp6' : 'udp4');
    // An unreachable collector answers with ICMP errors: they are no reason to stop.
    socket.on('error', () => {});
    socket.unref();
    return socket;
  }

  private flush(settings: SyslogSettings): void {
    if (this.tls && !this.connecting) {
      while (this.queue.length > 0) {
        const message = Buffer.from(this.queue.shift() as string);
        // RFC 5425 octet counting: MSG-LEN SP SYSLOG-MSG.
        this.tls.write(Buffer.concat([Buffer.from(`${message.length} `), message]));
      }
      return;
    }
    if (this.connecting || this.retryTimer) return;
    this.connect(settings);
  }

  private connect(settings: SyslogSettings): void {
    this.connecting = true;
    const expected = (settings.fingerprint ?? '').replace(/:/g, '').toUpperCase();
    const socket = tlsConnect({
      host: settings.host,
      port: settings.port,
      minVersion: TLS_MIN_VERSION,
      // Trust is the pinned fingerprint, checked below before anything is written.
      rejectUnauthorized: false,
      servername: /^[\d.:]+$/.test(settings.host) ? undefined : settings.host,
      timeout: 10_000,
    });
    this.tls = socket;
    const target = this.target;
    socket.once('secureConnect', () => {
      const actual = (socket.getPeerCertificate()?.fingerprint256 ?? '').replace(/:/g, '').toUpperCase();
      if (actual !== expected) {
        this.deps.log(
          `syslog: ${settings.host}:${settings.port} presented certificate ${actual || 'none'}, not the configured fingerprint`,
        );
        socket.destroy();
        return;
      }
      this.connecting = false;
      this.retryMs = 1000;
      this.flush(settings);
    });
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => socket.destroy());
    // The collector sends nothing; reading keeps a closed connection noticed.
    socket.on('data', () => {});
    socket.once('close', () => {
      if (this.tls !== socket) return;
      this.tls = null;
      this.connecting = false;
      if (this.closed || this.target !== target) return;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.queue.length > 0) this.flush(this.deps.settings());
      }, this.retryMs);
      this.retryTimer.unref();
      this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    });
    socket.unref();
  }
}
