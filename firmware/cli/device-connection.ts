/**
 * What the CLI commands that talk to a running device share: the connection flags (`--url`, and for
 * HTTPS `--fingerprint` or `--ca`), where a password comes from (a file, an environment variable, or a
 * prompt without echo on a terminal; never a flag, so it stays out of shell history and `ps`), and the
 * login, which derives the key locally (docs/auth-protocol.md): no password ever crosses the wire.
 */
import { readFileSync } from 'node:fs';
import { ClientError, DeviceClient, type MeBody } from '../client/device-client.ts';
import { CliError, type CommandIo } from './cli-error.ts';
import {
  type KeptSession,
  readSessionFile,
  removeSessionFile,
  sessionEnded,
  sessionExpiry,
  sessionFilePath,
  writeSessionFile,
} from './session-file.ts';

/** The flags every device command takes (for parseCommandArgs). */
export const CONNECTION_FLAGS = {
  url: { type: 'string' },
  fingerprint: { type: 'string' },
  ca: { type: 'string' },
  user: { type: 'string' },
  'password-file': { type: 'string' },
  'session-file': { type: 'string' },
  'api-key-file': { type: 'string' },
} as const;

export const CONNECTION_USAGE = `connection:
  --url URL                 the device, e.g. https://192.0.2.10 (required)
  --fingerprint SHA256      trust the device certificate with this SHA-256 fingerprint (AB:CD:…)
  --ca FILE                 or trust certificates signed by this CA / this certificate (PEM)
  --user NAME               who logs in (default admin)
  --password-file FILE      the password, first line of FILE; else $METERGATE_PASSWORD, else a prompt
  --session-file FILE       use the session 'metergate login' kept in FILE (0600; else $METERGATE_SESSION):
                            no --url, no password, no new login; 'metergate logout' ends it
  --api-key-file FILE       act with the API key in FILE (else $METERGATE_API_KEY_FILE) instead of a login`;

export interface ConnectionValues {
  readonly url?: string;
  readonly fingerprint?: string;
  readonly ca?: string;
  readonly user?: string;
  readonly 'password-file'?: string;
  readonly 'session-file'?: string;
  readonly 'api-key-file'?: string;
}

/** A client for `--url`, trusting what the flags say. Throws CliError naming the flag. */
export function deviceClient(values: ConnectionValues): DeviceClient {
  return new DeviceClient(...clientTarget(values));
}

/** The origin and trust options `--url`, `--fingerprint` and `--ca` say. */
function clientTarget(values: ConnectionValues): [string, { ca?: string; fingerprint?: string }] {
  if (!values.url) throw new CliError('--url is required (e.g. --url https://192.0.2.10)', 2);
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new CliError(`--url: '${values.url}' is not a URL`, 2);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new CliError(`--url must be http:// or https://, got '${url.protocol}'`, 2);
  }
  if (url.protocol === 'https:' && !values.fingerprint && !values.ca) {
    throw new CliError('an https URL needs --fingerprint (as the device shows it) or --ca FILE', 2);
  }
  if (values.fingerprint && !/^([0-9A-Fa-f]{2}:?){32}$/.test(values.fingerprint.replace(/:$/, ''))) {
    throw new CliError('--fingerprint must be a SHA-256 fingerprint: 32 hex bytes, colons optional', 2);
  }
  let ca: string | undefined;
  if (values.ca) {
    try {
      ca = readFileSync(values.ca, 'utf8');
    } catch (error) {
      throw new CliError(
        `--ca: cannot read ${values.ca}: ${(error as NodeJS.ErrnoException).code ?? error}`,
        2,
      );
    }
  }
  return [url.origin, { ca, fingerprint: values.fingerprint }];
}

/** How a command acts on the device, and what it must do when it is done. */
export interface DeviceSession {
  readonly client: DeviceClient;
  /** Who acts: a user name, or the API key's label. */
  readonly username: string;
  /** `login`: this command logged in (and logs out); `kept`: a session file; `api-key`: a key file. */
  readonly kind: 'login' | 'kept' | 'api-key';
  /** The password, when this command logged in with it. */
  readonly password?: string;
  /** Ends what this command opened: logs out its own login, saves a kept session that was renewed. */
  finish(): Promise<void>;
  /** The acting user was renamed (and its session renewed): a kept session remembers the new name. */
  renamed?(name: string): void;
  /** The device changed its certificate: a kept session pinned by fingerprint trusts the new one. */
  repinned?(fingerprint: string): void;
}

/**
 * Acts as the flags say: with an API key (`--api-key-file`), with the session kept in a session file
 * (`--session-file` or $METERGATE_SESSION; checked with the device first, so an ended one is a clear
 * message), or by logging in for this command alone.
 */
export async function openSession(values: ConnectionValues, io: CommandIo): Promise<DeviceSession> {
  const keyFile = values['api-key-file'] || process.env.METERGATE_API_KEY_FILE || undefined;
  const sessionFile = sessionFilePath(values['session-file']);
  if (keyFile && sessionFile && values['session-file'])
    throw new CliError('give --api-key-file or --session-file, not both', 2);
  if (keyFile) {
    const apiKey = await readSecret('API key', keyFile, 'METERGATE_API_KEY');
    const [origin, trust] = clientTarget(values);
    const client = new DeviceClient(origin, { ...trust, apiKey });
    try {
      const me = await client.request<MeBody>('GET', '/api/v1/me');
      if (me.status !== 200 || me.body.kind !== 'api-key') {
        const error = (me.body as { error?: { message?: string } }).error;
        throw new CliError(`the API key in ${keyFile} was refused: ${error?.message ?? `HTTP ${me.status}`}`);
      }
      return { client, username: me.body.name, kind: 'api-key', finish: async () => {} };
    } catch (error) {
      throw asCliError(error);
    }
  }
  if (sessionFile) return resumeKeptSession(sessionFile, values);
  const client = deviceClient(values);
  const { username, password } = await logIn(client, values, io);
  return { client, username, password, kind: 'login', finish: () => client.logout().catch(() => {}) };
}

async function resumeKeptSession(file: string, values: ConnectionValues): Promise<DeviceSession> {
  const kept = readSessionFile(file, Date.now());
  if (values.url && new URL(values.url).origin !== kept.url)
    throw new CliError(`the session in ${file} is for ${kept.url}, not ${values.url}`, 2);
  if (values.user && values.user !== kept.user)
    throw new CliError(`the session in ${file} is ${kept.user}'s, not ${values.user}'s`, 2);
  const client = new DeviceClient(kept.url, { ca: kept.caPem, fingerprint: kept.fingerprint });
  client.resumeSession(kept);
  try {
    const me = await client.request<MeBody>('GET', '/api/v1/me');
    if (me.status !== 200 || me.body.kind !== 'session' || me.body.name !== kept.user) {
      removeSessionFile(file);
      throw sessionEnded(file, kept);
    }
  } catch (error) {
    throw asCliError(error);
  }
  let user = kept.user;
  let fingerprint = kept.fingerprint;
  return {
    client,
    username: kept.user,
    kind: 'kept',
    finish: async () => {
      // A change of one's own password or name renews the session: keep the new one.
      const now = client.session;
      if (!now) return;
      const changed =
        now.cookie !== kept.cookie ||
        now.csrfToken !== kept.csrfToken ||
        user !== kept.user ||
        fingerprint !== kept.fingerprint;
      if (changed) writeSessionFile(file, { ...kept, ...now, user, ...(fingerprint && { fingerprint }) });
    },
    renamed: (name) => {
      user = name;
    },
    repinned: (next) => {
      if (fingerprint !== undefined) fingerprint = next;
    },
  };
}

/** What a session file keeps for a client that has just logged in. */
export function keptSession(client: DeviceClient, values: ConnectionValues, user: string, now: number) {
  const session = client.session;
  if (!session) throw new CliError('the device opened no session');
  const [origin, trust] = clientTarget(values);
  const kept: KeptSession = {
    version: 1,
    url: origin,
    ...(trust.fingerprint ? { fingerprint: trust.fingerprint } : {}),
    ...(trust.ca ? { caPem: trust.ca } : {}),
    user,
    cookie: session.cookie,
    csrfToken: session.csrfToken,
    createdAt: new Date(now).toISOString(),
    expiresAt: sessionExpiry(now),
  };
  return kept;
}

/**
 * A secret from `file` (its first line), else the environment variable, else asked on the terminal
 * without echo. Throws CliError when none is available (no terminal to ask on).
 */
export async function readSecret(what: string, file: string | undefined, variable: string): Promise<string> {
  if (file) {
    try {
      return (readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '').normalize('NFC');
    } catch (error) {
      throw new CliError(
        `cannot read the ${what} from ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  }
  const fromEnvironment = process.env[variable];
  if (fromEnvironment) return fromEnvironment;
  if (!process.stdin.isTTY) {
    throw new CliError(`no ${what}: give it in a file (see --help) or in $${variable}`, 2);
  }
  return promptHidden(`${what}: `);
}

/** Reads a line from the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  const { stdin, stderr } = process;
  stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let typed = '';
    stdin.setRawMode(true);
    stdin.resume();
    const done = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(typed.normalize('NFC'));
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new CliError('interrupted', 130));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else if (ch >= ' ') typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Logs in as `--user` (default admin), with progress on stderr. Returns who the device says we are. */
export async function logIn(
  client: DeviceClient,
  values: ConnectionValues,
  io: CommandIo,
): Promise<{ username: string; password: string; me: MeBody }> {
  const username = values.user ?? 'admin';
  const password = await readSecret(`password of ${username}`, values['password-file'], 'METERGATE_PASSWORD');
  io.err(`logging in to ${client.baseUrl} as ${username} (deriving the key from the password)…`);
  try {
    const me = await client.login(username, password);
    return { username, password, me };
  } catch (error) {
    throw asCliError(error);
  }
}

/** A device or connection error as one line for the user. */
export function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof ClientError) {
    return new CliError(
      error.status > 0 ? `${error.message} (HTTP ${error.status} ${error.code})` : error.message,
    );
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET') {
    return new CliError(`cannot reach the device: ${code}`);
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    return new CliError(`the device certificate is not trusted (${code}): check --ca or use --fingerprint`);
  }
  return new CliError((error as Error).message ?? String(error));
}

/**
 * Opens the session the flags say (openSession), runs `work` with it, and finishes it whatever
 * happened (a login of its own is logged out even after a refusal). Errors come out as one line.
 */
export async function withSession<T>(
  values: ConnectionValues,
  io: CommandIo,
  work: (session: DeviceSession) => Promise<T>,
): Promise<T> {
  const session = await openSession(values, io);
  try {
    return await work(session);
  } catch (error) {
    throw asCliError(error);
  } finally {
    await session.finish();
  }
}
