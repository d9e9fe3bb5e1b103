/**
 * What the Modbus listeners (TCP, TLS, RTU) are given by boot: the Modbus gate bound to the device,
 * and how to find the principal a request acts as. The listeners do framing only; every decision about
 * registers is the Modbus gate's (modbus-gate.ts).
 */
import type { AddressFilter } from '../net/client-whitelist.ts';
import type { ModbusAccess } from './modbus-gate.ts';

/** Handles one request PDU for one principal; returns the response PDU. Never throws. */
export type PduHandler = (pdu: Uint8Array, access: ModbusAccess) => Uint8Array;

export interface ModbusTcpOptions {
  readonly host: string;
  /** 0 = any free port. */
  readonly port: number;
  readonly handle: PduHandler;
  /** The principal of a new connection (plain TCP: the configured Modbus slot, looked up per request). */
  readonly accessFor: (connection: {
    readonly remoteAddress?: string;
    readonly peerCertificate?: Uint8Array;
  }) => ModbusAccess;
  /** Unit ids answered: the configured one, 0 and 255 on TCP ("this device"). Read per request. */
  readonly unitId: () => number;
  /** Asked at accept: false drops the connection before a byte is read. */
  readonly allowed: () => AddressFilter;
  /** Modbus/TCP Security: TLS with a required client certificate verified against `ca`. */
  readonly tls?: {
    readonly credentials: () => { readonly cert: string; readonly key: string };
    /** PEM of the CA that client certificates must chain to; null = none uploaded (every handshake fails). */
    readonly ca: () => string | null;
    /**
     * PEM of that CA's CRL, or null. With one, OpenSSL checks every client certificate against it at
     * the handshake (CRL_CHECK | CRL_CHECK_ALL): a revoked one fails, and so does every one once the
     * CRL is past its next update.
     */
    readonly crl?: () => string | null;
    /**
     * Decides a finished handshake (and, from `enforceRevocation`, an open connection again): false
     * closes it before a Modbus byte is read. `authorized`/`error`: OpenSSL's verdict on the chain and
     * the CRL (error: Node's code, e.g. CERT_REVOKED, CRL_HAS_EXPIRED). Default: authorized.
     */
    readonly admit?: (peer: TlsPeer) => boolean;
  };
  /** Default 32. */
  readonly maxConnections?: number;
  /** Per source address. Default 16. */
  readonly maxConnectionsPerSource?: number;
  /** A connection silent this long is closed. Default 60 s. */
  readonly idleTimeoutMs?: number;
}

export interface TlsPeer {
  readonly remoteAddress?: string;
  readonly authorized: boolean;
  readonly error?: string;
  /** The DER client certificate, when one was sent. */
  readonly certificate?: Uint8Array;
}

export interface ModbusTcpServer {
  readonly port: number;
  /** Drops open connections the whitelist no longer allows. */
  enforceWhitelist(): void;
  /**
   * TLS: the next handshake uses the current certificate, CA and CRL (same port); open connections are
   * closed, so every client shakes hands again under them. Throws when they do not make a context.
   */
  reloadTls(): void;
  /** TLS: asks `admit` again about every open connection (after the deny list changed). */
  enforceRevocation(): void;
  close(): Promise<void>;
}

export interface ModbusRtuOptions {
  /** Serial device or pty. */
  readonly path: string;
  readonly baudRate: number;
  readonly parity: 'none' | 'even' | 'odd';
  readonly stopBits: 1 | 2;
  readonly handle: PduHandler;
  readonly access: () => ModbusAccess;
  readonly unitId: () => number;
  /** Where a serial error is reported (once per server). Default: stderr. */
  readonly log?: (message: string) => void;
}

export interface ModbusRtuServer {
  close(): Promise<void>;
}
