/**
 * Keeps the Modbus listeners in step with the configuration: blocked by default (TCP port closed, TLS
 * port closed, RTU silent), opened when enabled, closed again when disabled, restarted when their line
 * settings change — without a device restart. Each request acts as a principal looked up at that
 * moment, so a permission change of the acting slot applies to the very next request.
 */
import { createHash } from 'node:crypto';
import type { AddressFilter } from '../net/client-whitelist.ts';
import type { BoundPorts } from '../net/listener-ports.ts';
import type { MeteringService } from '../services/metering-service.ts';
import type { RequestContext } from '../services/request-context.ts';
import type { SecurityService } from '../services/security-service.ts';
import { certificateRoleTemplate, roleActor } from './certificate-role.ts';
import { handleModbusPdu, type ModbusAccess, type ModbusDeps } from './modbus-gate.ts';
import { startModbusRtuServer } from './modbus-rtu-server.ts';
import { startModbusTcpServer } from './modbus-tcp-server.ts';
import type { ModbusRtuServer, ModbusTcpServer, TlsPeer } from './modbus-transport.ts';

export interface ModbusControllerOptions {
  readonly host: string;
  readonly tcpPort: number | null;
  readonly tlsPort: number | null;
  /** Serial device for RTU, or null (no RTU line on this device). */
  readonly rtuPath: string | null;
  readonly security: SecurityService;
  readonly metering: MeteringService;
  readonly handlerDeps: ModbusDeps;
  readonly allowed: () => AddressFilter;
  readonly tlsCredentials: () => { readonly cert: string; readonly key: string };
  readonly modbusCa: () => string | null;
  /** The client CA's CRL (PEM), or null. */
  readonly modbusCrl?: () => string | null;
  readonly log: (message: string) => void;
  /** Told the bound ports after every change of the listeners (boot: the graph's ListenerPorts). */
  readonly announcePorts?: (ports: Pick<BoundPorts, 'modbusTcp' | 'modbusTls'>) => void;
}

export class ModbusController {
  private tcp: ModbusTcpServer | null = null;
  private tls: ModbusTcpServer | null = null;
  private rtu: { server: ModbusRtuServer; line: string } | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: ModbusControllerOptions) {}

  /** The bound ports right now (null = blocked or not configured). */
  ports(): { readonly modbusTcp: number | null; readonly modbusTls: number | null } {
    return { modbusTcp: this.tcp?.port ?? null, modbusTls: this.tls?.port ?? null };
  }

  /** Opens, closes or restarts listeners to match the settings; serialised, never throws. */
  apply(): Promise<void> {
    const reconcile = async () => {
      await this.reconcile();
      this.options.announcePorts?.(this.ports());
    };
    this.queue = this.queue.then(reconcile, reconcile);
    return this.queue;
  }

  /**
   * A new client CA, CRL or server certificate applies to the next Modbus/TLS handshake: the listener
   * reloads its context on the same port and closes open connections; if that fails, it is restarted.
   */
  restartTls(): Promise<void> {
    try {
      this.tls?.reloadTls();
      return this.queue;
    } catch (error) {
      this.options.log(`Modbus/TCP Security: reload failed (${(error as Error).message}); restarting`);
    }
    this.queue = this.queue.then(async () => {
      await this.tls?.close();
      this.tls = null;
    });
    return this.apply();
  }

  enforceWhitelist(): void {
    this.tcp?.enforceWhitelist();
    this.tls?.enforceWhitelist();
  }

  /** Closes open Modbus/TLS connections whose certificate is now on the deny list. */
  enforceRevocation(): void {
    this.tls?.enforceRevocation();
  }

  async close(): Promise<void> {
    await this.queue.catch(() => {});
    await Promise.all([this.tcp?.close(), this.tls?.close(), this.rtu?.server.close()]);
    this.tcp = null;
    this.tls = null;
    this.rtu = null;
    this.options.announcePorts?.(this.ports());
  }

  private async reconcile(): Promise<void> {
    const { communication } = this.options.security.state.settings;
    const { host, tcpPort, tlsPort, rtuPath, log } = this.options;
    const handle = (pdu: Uint8Array, access: ModbusAccess) =>
      handleModbusPdu(pdu, access, this.options.handlerDeps);
    const unitId = () => this.options.metering.config.unitId;

    try {
      if (communication.modbusTcp && tcpPort !== null && !this.tcp) {
        this.tcp = await startModbusTcpServer({
          host,
          port: tcpPort,
          handle,
          unitId,
          allowed: this.options.allowed,
          accessFor: (connection) =>
            this.slotAccess('modbus-tcp', connection.remoteAddress, 'modbusPrincipal'),
        });
        log(`Modbus TCP enabled on port ${this.tcp.port}`);
      } else if (!communication.modbusTcp && this.tcp) {
        await this.tcp.close();
        this.tcp = null;
        log('Modbus TCP blocked');
      }
    } catch (error) {
      log(`Modbus TCP could not start: ${(error as Error).message}`);
    }

    try {
      if (communication.modbusTls && tlsPort !== null && !this.tls) {
        this.tls = await startModbusTcpServer({
          host,
          port: tlsPort,
          handle,
          unitId,
          allowed: this.options.allowed,
          tls: {
            credentials: this.options.tlsCredentials,
            ca: this.options.modbusCa,
            crl: () => this.options.modbusCrl?.() ?? null,
            admit: (peer) => this.admitPeer(peer),
          },
          accessFor: (connection) => this.roleAccess(connection.remoteAddress, connection.peerCertificate),
        });
        log(`Modbus/TCP Security enabled on port ${this.tls.port}`);
      } else if (!communication.modbusTls && this.tls) {
        await this.tls.close();
        this.tls = null;
        log('Modbus/TCP Security blocked');
      }
    } catch (error) {
      log(`Modbus/TCP Security could not start: ${(error as Error).message}`);
    }

    try {
      const config = this.options.metering.config.rtu;
      const line = `${config.baudRate}/${config.parity}/${config.stopBits}`;
      const wanted = communication.modbusRtu && rtuPath !== null;
      if (this.rtu && (!wanted || this.rtu.line !== line)) {
        await this.rtu.server.close();
        this.rtu = null;
        log('Modbus RTU stopped');
      }
      if (wanted && !this.rtu && rtuPath !== null) {
        const server = await startModbusRtuServer({
          path: rtuPath,
          baudRate: config.baudRate,
          parity: config.parity,
          stopBits: config.stopBits,
          handle,
          unitId,
          access: () => this.slotAccess('modbus-rtu', rtuPath, 'rtuPrincipal'),
          log,
        });
        this.rtu = { server, line };
        log(`Modbus RTU enabled on ${rtuPath} (${line})`);
      }
    } catch (error) {
      log(`Modbus RTU could not start: ${(error as Error).message}`);
    }
  }

  /**
   * TCP and RTU act as the configured principal entry, looked up by its identity at each request: an
   * entry that is gone acts as nobody (every request 0x01), never as whatever now holds its slot.
   */
  private slotAccess(
    iface: 'modbus-tcp' | 'modbus-rtu',
    source: string | undefined,
    which: 'modbusPrincipal' | 'rtuPrincipal',
  ): ModbusAccess {
    const context: RequestContext = { interface: iface, source };
    return {
      context,
      actor: () => this.options.security.principalActor(which),
    };
  }

  /**
   * Modbus/TCP Security, after the handshake: OpenSSL's verdict on chain and CRL, then the deny list.
   * A refusal is a denied `modbus.tls.handshake` event naming the reason and the certificate.
   */
  private admitPeer(peer: TlsPeer): boolean {
    const fingerprint = peer.certificate ? fingerprint256(peer.certificate) : null;
    let reason: string | null = null;
    if (!peer.authorized) reason = handshakeRefusal(peer.error);
    else if (
      fingerprint !== null &&
      this.options.security.state.settings.deniedCertificates.includes(fingerprint.replaceAll(':', ''))
    )
      reason = 'denied';
    if (reason === null) return true;
    this.options.security.record({
      type: 'modbus.tls.handshake',
      interface: 'modbus-tls',
      source: peer.remoteAddress,
      result: 'denied',
      detail: `${reason}${fingerprint === null ? '' : ` cert=${fingerprint}`}`,
    });
    return false;
  }

  /**
   * Modbus/TCP Security: the IEC 62351-8 role template named in the client certificate, no entry of
   * the table (none → every request 0x01, and one denied event for the connection).
   */
  private roleAccess(source: string | undefined, certificate: Uint8Array | undefined): ModbusAccess {
    const context: RequestContext = { interface: 'modbus-tls', source };
    const found = certificate ? certificateRoleTemplate(certificate) : { error: 'no-role' as const };
    if (!('role' in found)) {
      const claimed = 'claimed' in found ? ` role=${JSON.stringify(found.claimed.slice(0, 40))}` : '';
      this.options.security.record({
        type: 'modbus.tls.role',
        interface: context.interface,
        source,
        result: 'denied',
        detail: `${found.error}${claimed}${certificate ? ` cert=${fingerprint256(certificate)}` : ''}`,
      });
      return { context, actor: () => null };
    }
    const actor = roleActor(found.role);
    return { context, actor: () => actor };
  }
}

/** Node's verification error code as the event names it. */
function handshakeRefusal(error: string | undefined): string {
  switch (error) {
    case 'CERT_REVOKED':
      return 'revoked';
    case 'CRL_HAS_EXPIRED':
      return 'crl-expired';
    case 'CRL_NOT_YET_VALID':
      return 'crl-not-yet-valid';
    case 'CERT_HAS_EXPIRED':
      return 'certificate-expired';
    case 'CERT_NOT_YET_VALID':
      return 'certificate-not-yet-valid';
    default:
      return `untrusted (${error ?? 'no certificate'})`;
  }
}

/** SHA-256 of a DER certificate as colon-separated upper-case hex (as Node's `fingerprint256`). */
export function fingerprint256(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)?.join(':') ?? '';
}
