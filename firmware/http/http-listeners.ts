/**
 * The HTTP and HTTPS listeners around the app: the client whitelist applied at accept, TLS 1.2+ with
 * forward-secret AEAD suites only, header/request/idle timeouts and a connection cap, the certificate
 * swapped in place after an upload, and plain HTTP closed and opened again live (security setting
 * `http`: `off` closes the listener).
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { AddressFilter } from '../net/client-whitelist.ts';
import { createSourceLimit } from '../net/source-limit.ts';
import { TLS_SERVER_POLICY } from '../tls/tls-policy.ts';
import type { TlsCredentials } from '../tls/tls-service.ts';

/**
 * Node enforces the header and request timeouts by a sweep every `connectionsCheckingInterval` (30 s
 * by default): once a second, a slowloris connection is closed about when its headers are due.
 */
const SERVER_OPTIONS = { connectionsCheckingInterval: 1000 } as const;

export interface HttpListenerOptions {
  readonly host: string;
  /** The plain-HTTP port (0: any free one); null: never listen on HTTP. */
  readonly httpPort: number | null;
  /** False: plain HTTP starts closed (`http: off`), to be opened by `setHttpOpen(true)`. Default true. */
  readonly httpOpen?: boolean;
  readonly httpsPort: number | null;
  readonly credentials: () => TlsCredentials;
  /** Asked for every new connection: false drops it. */
  readonly allowed: () => AddressFilter;
  /** Per listener. Default 64. */
  readonly maxConnections?: number;
  /** Per listener and source address. Default 32: one host never takes every slot. */
  readonly maxConnectionsPerSource?: number;
}

export interface HttpListeners {
  /** The plain-HTTP port while it listens, else null. */
  readonly http: number | null;
  readonly https: number | null;
  /**
   * Opens or closes the plain-HTTP listener (closing ends its connections). It opens on the port it
   * had before, or the configured one; resolves once the change has taken effect.
   */
  setHttpOpen(open: boolean): Promise<void>;
  /** Serves the current credentials to new TLS connections. */
  reloadTls(): void;
  /** Drops open connections the whitelist no longer allows (after it changed). */
  enforceWhitelist(): void;
  close(): Promise<void>;
}

export async function startHttpListeners(
  fetch: Parameters<typeof getRequestListener>[0],
  options: HttpListenerOptions,
): Promise<HttpListeners> {
  const listener = getRequestListener(fetch);
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const tlsOptions = () => ({
    ...options.credentials(),
    ...TLS_SERVER_POLICY,
  });

  const harden = (server: Server) => {
    const admit = createSourceLimit(options.maxConnectionsPerSource ?? 32);
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    server.maxConnections = options.maxConnections ?? 64;
    server.setTimeout(60_000, (socket: Socket) => socket.destroy());
    server.on('connection', (socket: Socket) => {
      if (!options.allowed()(socket.remoteAddress) || !admit(socket)) {
        socket.destroy();
        return;
      }
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      const answer = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      // Closed once the answer is out, not just half-closed: a client that goes on sending (slowloris)
      // would otherwise keep its connection slot.
      if (socket.writable)
        socket.end(`HTTP/1.1 ${answer}\r\nConnection: close\r\n\r\n`, () => socket.destroy());
      else socket.destroy();
    });
    servers.push(server);
    return server;
  };

  const listen = (server: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host, () => resolve((server.address() as AddressInfo).port));
    });

  let httpsServer: ReturnType<typeof createHttpsServer> | null = null;
  let httpServer: Server | null = null;
  let httpPort: number | null = null;
  let httpsPort: number | null = null;
  /** The port plain HTTP comes back on: the one it had, so bookmarks and firewall rules still fit. */
  let httpHome = options.httpPort;
  const openHttp = async () => {
    if (httpServer !== null || httpHome === null) return;
    const server = harden(createHttpServer(SERVER_OPTIONS, listener));
    try {
      httpPort = await listen(server, httpHome);
    } catch (error) {
      servers.splice(servers.indexOf(server), 1);
      throw error;
    }
    httpServer = server;
    httpHome = httpPort;
  };
  const closeHttp = async () => {
    const server = httpServer;
    if (server === null) return;
    httpServer = null;
    httpPort = null;
    servers.splice(servers.indexOf(server), 1);
    await closeServer(server);
  };
  try {
    if (options.httpOpen !== false) await openHttp();
    if (options.httpsPort !== null) {
      httpsServer = createHttpsServer(
        { ...SERVER_OPTIONS, ...tlsOptions(), handshakeTimeout: 10_000 },
        listener,
      );
      // With a listener here node no longer destroys the socket itself: a failed or timed-out handshake
      // must not keep holding one of the connection slots.
      httpsServer.on('tlsClientError', (_error, socket) => socket.destroy());
      // Client-initiated renegotiation (TLS 1.2) only costs the server handshakes: refused outright.
      httpsServer.on('secureConnection', (socket) => socket.disableRenegotiation());
      httpsPort = await listen(harden(httpsServer), options.httpsPort);
    }
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw error;
  }

  let change = Promise.resolve();
  return {
    get http() {
      return httpPort;
    },
    https: httpsPort,
    setHttpOpen: (open) => {
      // One change at a time, in the order asked.
      change = change.catch(() => {}).then(() => (open ? openHttp() : closeHttp()));
      return change;
    },
    reloadTls: () => httpsServer?.setSecureContext(tlsOptions()),
    enforceWhitelist: () => {
      const allowed = options.allowed();
      for (const socket of sockets) if (!allowed(socket.remoteAddress)) socket.destroy();
    },
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
