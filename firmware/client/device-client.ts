/**
 * A client of the device's REST API that speaks docs/auth-protocol.md: it derives the key from the
 * password locally, signs the challenge, seals new passwords to the device key, and keeps the session
 * cookie and CSRF token. Used by the CLI and the tests; it trusts the device certificate by a CA/cert
 * PEM or by its SHA-256 fingerprint. Nothing here ever sends a password.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { type ProofPurpose, proofMessage } from '../auth/auth-messages.ts';
import { fromBase64Url, toBase64Url } from '../auth/encoding.ts';
import { deriveSeed, MIN_KDF_ITERATIONS, signWithSeed } from '../auth/password-verifier.ts';
import { type SealedSecret, sealPassword } from '../auth/sealed-secret.ts';

export interface ClientOptions {
  /** PEM of the CA (or the self-signed device certificate) to trust. */
  readonly ca?: string;
  /** Trust the server certificate whose SHA-256 fingerprint (hex, colons optional) is this. */
  readonly fingerprint?: string;
  /** API key sent as Bearer on every request. */
  readonly apiKey?: string;
  /** Every byte written to the connection (plaintext, before TLS), for capture tests. */
  readonly onWrite?: (chunk: Buffer) => void;
  readonly timeoutMs?: number;
  /** Local address the connection is bound to (e.g. 127.0.0.2: another source on loopback). */
  readonly localAddress?: string;
}

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: T;
}

export class DeviceClient {
  private cookie: string | null = null;
  private csrfToken: string | null = null;
  private deviceKey: Uint8Array | null = null;

  constructor(
    readonly baseUrl: string,
    private readonly options: ClientOptions = {},
  ) {}

  get loggedIn(): boolean {
    return this.cookie !== null;
  }

  /** The session cookie and CSRF token, to be kept (the CLI's session file) and resumed later. */
  get session(): { readonly cookie: string; readonly csrfToken: string } | null {
    return this.cookie && this.csrfToken ? { cookie: this.cookie, csrfToken: this.csrfToken } : null;
  }

  /** Continues a session kept from an earlier login (see `session`). */
  resumeSession(session: { readonly cookie: string; readonly csrfToken: string }): void {
    this.cookie = session.cookie;
    this.csrfToken = session.csrfToken;
  }

  /** Any request; the session cookie and CSRF token are added when there is a session. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const url = new URL(path, this.baseUrl);
    // Bytes go as they are (a firmware bundle); anything else as JSON.
    const binary = body instanceof Uint8Array;
    const payload =
      body === undefined
        ? undefined
        : binary
          ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
          : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const all: Record<string, string> = { accept: 'application/json', ...headers };
    if (payload && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      all['content-type'] = binary ? 'application/octet-stream' : 'application/json';
    }
    if (payload) all['content-length'] = String(payload.length);
    if (this.cookie) all.cookie = this.cookie;
    if (this.csrfToken && method !== 'GET') all['x-csrf-token'] = this.csrfToken;
    if (this.options.apiKey) all.authorization = `Bearer ${this.options.apiKey}`;
    const response = await this.send(url, method, all, payload);
    const setCookie = response.headers['set-cookie']?.find((c) => /mg_session=/.test(c));
    if (setCookie) {
      const pair = setCookie.split(';')[0] as string;
      this.cookie = pair.endsWith('=') || /max-age=0/i.test(setCookie) ? null : pair;
    }
    return response as ApiResponse<T>;
  }

  /** Logs in with the challenge-response protocol. Throws ClientError with the device's error. */
  async login(username: string, password: string): Promise<MeBody> {
    const { nonce, signature } = await this.prove('login', username, password);
    const response = await this.request<MeBody>('POST', '/api/v1/auth/login', { username, nonce, signature });
    expectOk(response);
    this.csrfToken = response.body.csrfToken ?? null;
    return response.body;
  }

  /** Changes the logged-in user's own password; the session is renewed by the device. */
  async changeOwnPassword(username: string, currentPassword: string, newPassword: string): Promise<MeBody> {
    const { nonce, signature } = await this.prove('change-password', username, currentPassword);
    const sealed = await this.seal(username, newPassword);
    const response = await this.request<MeBody>('POST', '/api/v1/me/password', {
      nonce,
      signature,
      newPassword: sealed,
    });
    expectOk(response);
    this.csrfToken = response.body.csrfToken ?? null;
    return response.body;
  }

  async logout(): Promise<void> {
    expectOk(await this.request('POST', '/api/v1/auth/logout'));
    this.cookie = null;
    this.csrfToken = null;
  }

  /** A password sealed to the device key for `username` (docs/auth-protocol.md §4). */
  async seal(username: string, password: string): Promise<SealedSecret> {
    if (!this.deviceKey) {
      const info = await this.request<{ deviceKey: string }>('GET', '/api/v1/info');
      expectOk(info);
      this.deviceKey = fromBase64Url(info.body.deviceKey, 32);
      if (!this.deviceKey) throw new ClientError(0, 'bad-device-key', 'the device key in info is malformed');
    }
    return sealPassword(this.deviceKey, username, password);
  }

  /** Challenge, key derivation and signature: the proof of a password, for `purpose`. */
  async prove(
    purpose: ProofPurpose,
    username: string,
    password: string,
  ): Promise<{ nonce: string; signature: string }> {
    const challenge = await this.request<ChallengeBody>('POST', '/api/v1/auth/challenge', { username });
    expectOk(challenge);
    const nonce = fromBase64Url(challenge.body.nonce, 32);
    const salt = fromBase64Url(challenge.body.salt, 16);
    // A device (or a man in the middle) asking for a cheap KDF would make the signature cheap to attack.
    if (
      !nonce ||
      !salt ||
      challenge.body.kdf !== 'pbkdf2-sha256' ||
      !(challenge.body.iterations >= MIN_KDF_ITERATIONS)
    ) {
      throw new ClientError(
        0,
        'bad-challenge',
        'the device sent a challenge this client does not understand',
      );
    }
    this.deviceKey = fromBase64Url(challenge.body.deviceKey, 32) ?? this.deviceKey;
    const seed = await deriveSeed(password, salt, challenge.body.iterations);
    const signature = signWithSeed(seed, proofMessage(purpose, username, nonce));
    seed.fill(0);
    return { nonce: challenge.body.nonce, signature: toBase64Url(signature) };
  }

  /**
   * Trust by fingerprint: one handshake that only reads the certificate, compared with the fingerprint;
   * then that very certificate is the only trust anchor of every request. Nothing is sent to a server
   * before its certificate was checked.
   */
  private async pinnedCertificate(url: URL, fingerprint: string): Promise<string> {
    if (this.pinned) return this.pinned;
    const { localAddress, timeoutMs = 30_000 } = this.options;
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const socket = tlsConnect({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(url.port || 443),
        rejectUnauthorized: false,
        timeout: timeoutMs,
        ...(localAddress === undefined ? {} : { localAddress }),
      });
      socket.once('secureConnect', () => {
        const cert = socket.getPeerCertificate();
        socket.destroy();
        if (!cert?.raw)
          return reject(new ClientError(0, 'no-certificate', `${url.host} sent no certificate`));
        if (normalizeFingerprint(cert.fingerprint256 ?? '') !== normalizeFingerprint(fingerprint)) {
          return reject(
            new ClientError(
              0,
              'fingerprint-mismatch',
              `the device certificate is ${cert.fingerprint256}, not ${fingerprint}`,
            ),
          );
        }
        resolve(cert.raw);
      });
      socket.once('timeout', () =>
        socket.destroy(new ClientError(0, 'timeout', `no TLS handshake with ${url.host}`)),
      );
      socket.once('error', reject);
    });
    const base64 = raw.toString('base64').replace(/.{64}/g, '$&\n');
    this.pinned = `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
    return this.pinned;
  }

  private pinned: string | null = null;

  private async send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    payload?: Buffer,
  ): Promise<ApiResponse> {
    const secure = url.protocol === 'https:';
    const { fingerprint, onWrite, localAddress, timeoutMs = 30_000 } = this.options;
    const ca =
      secure && fingerprint !== undefined ? await this.pinnedCertificate(url, fingerprint) : this.options.ca;
    return new Promise((resolve, reject) => {
      const options = {
        method,
        headers,
        agent: false as const,
        timeout: timeoutMs,
        ...(localAddress === undefined ? {} : { localAddress }),
        // A pinned device certificate names no host: the pin, not the name, is what is trusted.
        ...(secure
          ? { ca, ...(fingerprint === undefined ? {} : { checkServerIdentity: () => undefined }) }
          : {}),
      };
      const req = (secure ? httpsRequest : httpRequest)(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          if ((res.headers['content-type'] ?? '').includes('json') && text) {
            try {
              body = JSON.parse(text);
            } catch {
              body = text;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      });
      req.on('timeout', () =>
        req.destroy(new ClientError(0, 'timeout', `no answer from ${url.host} in ${timeoutMs} ms`)),
      );
      req.on('error', reject);
      if (onWrite) {
        req.on('socket', (socket) => {
          const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
          socket.write = ((chunk: unknown, ...rest: unknown[]) => {
            onWrite(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
            return write(chunk, ...rest);
          }) as typeof socket.write;
        });
      }
      req.end(payload);
    });
  }
}

export interface MeBody {
  readonly kind: string;
  readonly slot: number;
  readonly name: string;
  readonly permissions: string[];
  readonly mustChangePassword: boolean;
  readonly csrfToken?: string;
}

interface ChallengeBody {
  readonly nonce: string;
  readonly salt: string;
  readonly kdf: string;
  readonly iterations: number;
  readonly deviceKey: string;
}

export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function expectOk(response: ApiResponse): void {
  if (response.status >= 200 && response.status < 300) return;
  const error = (response.body as { error?: { code?: string; message?: string } })?.error;
  throw new ClientError(
    response.status,
    error?.code ?? 'http-error',
    error?.message ?? `HTTP ${response.status}`,
  );
}

function normalizeFingerprint(value: string): string {
  return value.replace(/:/g, '').toUpperCase();
}
