/**
 * The Modbus TCP listener, and with `tls` the Modbus/TCP Security listener: framing only. Each request
 * is an MBAP header (transaction id, protocol id 0, length = unit id + PDU bytes, unit id) and a PDU;
 * answers go back in order with the same transaction and unit id. A protocol id other than 0 or a
 * length outside 2–254 leaves the stream impossible to resynchronise, so the connection is closed; a
 * unit id that is not this device's answers 0x0B. The whitelist is asked at accept (on TLS before the
 * handshake); connections are bounded in number, idle time and unanswered bytes. Every decision about
 * registers is the Modbus gate's (modbus-gate.ts).
 *
 * Our own node:net / node:tls listener rather than modbus-serial's ServerTCP, which can neither speak
 * TLS nor tell the handler which connection (and so which principal) a request came from.
 */

import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { createSourceLimit } from '../net/source-limit.ts';
import { TLS_SERVER_POLICY } from '../tls/tls-policy.ts';
import { EXCEPTION, exception, type ModbusAccess } from './modbus-gate.ts';
import type { ModbusTcpOptions, ModbusTcpServer, TlsPeer } from './modbus-transport.ts';

export const MBAP_HEADER_LENGTH = 7;
/** The MBAP length field counts the unit id and the PDU (at most 253 bytes). */
export const MIN_MBAP_LENGTH = 2;
export const MAX_MBAP_LENGTH = 254;
/** Unit ids that mean "this device" on TCP besides the configured one. */
export const TCP_THIS_DEVICE_UNITS: readonly number[] = [0, 255];

export const DEFAULT_MAX_CONNECTIONS = 32;
/** One source address never holds more than half the slots (IEC 62443-4-2 CR 7.1). */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 16;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/**
 * Request bytes not yet answered plus answers the client has not taken yet, per connection. A client
 * that reads its answers never comes near it; one that only sends is closed once the kernel buffers
 * between us are full and this much more has piled up.
 */
export const MAX_QUEUED_BYTES = 128 * 1024;
/** How long a connection closed for a framing error may take to close its side. */
const CLOSE_GRACE_MS = 1000;
/** Requests answered per connection before other connections get a turn. */
const REQUESTS_PER_TURN = 64;

/**
 * Binds and serves until `close()`. Rejects when the port cannot be bound. Options are described in
 * modbus-transport.ts; defaults: 32 connections, 16 per source address, 60 s idle timeout.
 */
export async function startModbusTcpServer(options: ModbusTcpOptions): Promise<ModbusTcpServer> {
  // Node timers take at most 2^31-1 ms (a larger value would fire after 1 ms).
  const idleTimeoutMs = Math.min(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, 2 ** 31 - 1);
  /** Raw TCP sockets (TLS: also during the handshake) and established TLS sockets. */
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const serve = (socket: Socket, access: ModbusAccess) => {
    socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    const connection = new MbapConnection(socket, access, options, idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => connection.receive(chunk));
  };

  /** Established TLS connections and the verdict input of their handshake, for `enforceRevocation`. */
  const peers = new Map<Socket, TlsPeer>();
  let server: Server;
  /** TLS: builds the secure context again from the current certificate, CA and CRL. */
  let reloadContext: (() => void) | null = null;
  if (options.tls) {
    const tls = options.tls;
    const admit = tls.admit ?? ((peer: TlsPeer) => peer.authorized);
    const secureContext = () => {
      const ca = tls.ca();
      const crl = tls.crl?.() ?? null;
      return {
        ...tls.credentials(),
        // An empty list (not undefined) when no CA was uploaded: Node would otherwise trust its public roots.
        ca: ca === null ? [] : [ca],
        ...(crl === null ? {} : { crl }),
        ...TLS_SERVER_POLICY,
      };
    };
    const tlsServer = createTlsServer({
      ...secureContext(),
      requestCert: true,
      // Decided in 'secureConnection' below, so a refusal (revoked, expired CRL) is known and logged;
      // Node would otherwise close such a connection after the handshake without telling anyone.
      rejectUnauthorized: false,
      // Counted from accept: bytes of an unfinished handshake do not restart it.
      handshakeTimeout: idleTimeoutMs,
    });
    // With a listener here Node leaves the socket open (a handshake timeout included): close it.
    tlsServer.on('tlsClientError', (_error, socket) => socket.destroy());
    tlsServer.on('secureConnection', (socket: TLSSocket) => {
      try {
        socket.on('error', () => socket.destroy());
        // Client-initiated renegotiation (TLS 1.2) only costs the server handshakes: refused outright.
        socket.disableRenegotiation();
        const raw = socket.getPeerCertificate(true)?.raw;
        const peerCertificate = raw && raw.length > 0 ? new Uint8Array(raw) : undefined;
        const peer: TlsPeer = {
          remoteAddress: socket.remoteAddress,
          authorized: socket.authorized,
          error: socket.authorizationError === undefined ? undefined : String(socket.authorizationError),
          certificate: peerCertificate,
        };
        // Only a chain OpenSSL accepted can be admitted, whatever `admit` says.
        if (!admit(peer) || !socket.authorized) return void socket.destroy();
        track(socket);
        peers.set(socket, peer);
        socket.once('close', () => peers.delete(socket));
        serve(socket, options.accessFor({ remoteAddress: socket.remoteAddress, peerCertificate }));
      } catch {
        socket.destroy();
      }
    });
    reloadContext = () => tlsServer.setSecureContext(secureContext());
    server = tlsServer;
  } else {
    server = createNetServer();
    server.on('connection', (socket: Socket) => {
      try {
        if (socket.destroyed) return;
        serve(socket, options.accessFor({ remoteAddress: socket.remoteAddress }));
      } catch {
        socket.destroy();
      }
    });
  }
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const admit = createSourceLimit(options.maxConnectionsPerSource ?? DEFAULT_MAX_CONNECTIONS_PER_SOURCE);
  // Runs before the listener above (and, on TLS, before a byte of the handshake is read).
  server.prependListener('connection', (socket: Socket) => {
    socket.on('error', () => socket.destroy());
    let admitted = false;
    try {
      admitted = options.allowed()(socket.remoteAddress);
    } catch {}
    if (!admitted || !admit(socket)) return void socket.destroy();
    track(socket);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Accept errors (EMFILE…) after listening: the listener keeps running.
  server.on('error', () => {});
  const port = (server.address() as AddressInfo).port;

  let closed: Promise<void> | null = null;
  return {
    port,
    enforceWhitelist() {
      const allowed = options.allowed();
      for (const socket of sockets) if (!allowed(socket.remoteAddress)) socket.destroy();
    },
    reloadTls() {
      if (!reloadContext) return;
      reloadContext();
      // Connections made under the old context (handshakes under way included) shake hands again.
      for (const socket of sockets) socket.destroy();
    },
    enforceRevocation() {
      const admit = options.tls?.admit;
      if (!admit) return;
      for (const [socket, peer] of peers) if (!admit(peer)) socket.destroy();
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}

/** One connection's MBAP stream: buffers partial frames, answers complete ones in order. */
class MbapConnection {
  private pending: Buffer = Buffer.alloc(0);
  private resumeScheduled = false;
  private broken = false;

  constructor(
    private readonly socket: Socket,
    private readonly access: ModbusAccess,
    private readonly options: ModbusTcpOptions,
    private readonly idleTimeoutMs: number,
  ) {}

  receive(chunk: Buffer): void {
    if (this.broken) return;
    try {
      this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
      if (this.flooded()) return void this.socket.destroy();
      if (!this.resumeScheduled) this.answerSome();
    } catch {
      this.socket.destroy();
    }
  }

  /**
   * The stream cannot be resynchronised: answers already written still go out, then FIN; what the
   * client sends meanwhile is read and dropped (closing with unread bytes would reset the connection
   * and could lose those answers). The connection is dropped after a short grace in any case.
   */
  private abandon(): void {
    this.broken = true;
    this.pending = Buffer.alloc(0);
    const grace = this.idleTimeoutMs > 0 ? Math.min(CLOSE_GRACE_MS, this.idleTimeoutMs) : CLOSE_GRACE_MS;
    // Counted from now, not from the last byte received: a client that keeps sending gains nothing.
    const timer = setTimeout(() => this.socket.destroy(), grace).unref();
    this.socket.once('close', () => clearTimeout(timer));
    this.socket.end();
  }

  private flooded(): boolean {
    return this.pending.length + this.socket.writableLength > MAX_QUEUED_BYTES;
  }

  /** Answers up to REQUESTS_PER_TURN complete requests; then yields to other connections. */
  private answerSome(): void {
    for (let answered = 0; answered < REQUESTS_PER_TURN; answered++) {
      if (this.broken) return;
      if (!this.socket.writable) return void this.socket.destroy();
      const frame = this.nextFrame();
      if (frame === 'incomplete') return;
      if (frame === 'broken') return void this.abandon();
      this.socket.write(this.answer(frame));
      if (this.flooded()) return void this.socket.destroy();
    }
    if (this.pending.length < MBAP_HEADER_LENGTH) return;
    this.resumeScheduled = true;
    this.socket.pause();
    setImmediate(() => {
      this.resumeScheduled = false;
      if (this.socket.destroyed) return;
      this.socket.resume();
      try {
        this.answerSome();
      } catch {
        this.socket.destroy();
      }
    });
  }

  /** The next complete request, 'incomplete' when more bytes are needed, 'broken' when unparseable. */
  private nextFrame(): { transaction: number; unit: number; pdu: Uint8Array } | 'incomplete' | 'broken' {
    const buffer = this.pending;
    if (buffer.length < MBAP_HEADER_LENGTH - 1) return 'incomplete';
    const protocol = buffer.readUInt16BE(2);
    const length = buffer.readUInt16BE(4);
    if (protocol !== 0 || length < MIN_MBAP_LENGTH || length > MAX_MBAP_LENGTH) return 'broken';
    if (buffer.length < 6 + length) return 'incomplete';
    const frame = {
      transaction: buffer.readUInt16BE(0),
      unit: buffer[6] as number,
      // A copy: the handler may keep or view it, and `pending` is a view of the socket's chunk.
      pdu: new Uint8Array(buffer.subarray(MBAP_HEADER_LENGTH, 6 + length)),
    };
    this.pending = buffer.subarray(6 + length);
    return frame;
  }

  private answer(frame: { transaction: number; unit: number; pdu: Uint8Array }): Buffer {
    const functionCode = frame.pdu[0] as number;
    let response: Uint8Array;
    if (frame.unit !== this.options.unitId() && !TCP_THIS_DEVICE_UNITS.includes(frame.unit)) {
      // A unit id we are not: as a gateway whose target does not answer.
      response = exception(functionCode, EXCEPTION.GATEWAY_TARGET_FAILED);
    } else {
      try {
        response = this.options.handle(frame.pdu, this.access);
      } catch {
        // The handler promises not to throw; should it anyway, the client still gets an answer.
        response = exception(functionCode, EXCEPTION.SERVER_DEVICE_FAILURE);
      }
      if (response.length < 1 || response.length > MAX_MBAP_LENGTH - 1)
        response = exception(functionCode, EXCEPTION.SERVER_DEVICE_FAILURE);
    }
    const out = Buffer.allocUnsafe(MBAP_HEADER_LENGTH + response.length);
    out.writeUInt16BE(frame.transaction, 0);
    out.writeUInt16BE(0, 2);
    out.writeUInt16BE(1 + response.length, 4);
    out[6] = frame.unit;
    out.set(response, MBAP_HEADER_LENGTH);
    return out;
  }
}
