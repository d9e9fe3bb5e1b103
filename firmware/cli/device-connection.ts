/**
 * What the CLI commands that talk to a running device share: the connection flags (`--url`, and for
 * HTTPS `--fingerprint` or `--ca`), where a password comes from (a file, an environment variable, or a
 * prompt without echo on a terminal; never a flag, so it stays out of shell history and `ps`), and the
 * login, which derives the key locally (docs/auth-protocol.md): no password ever crosses the wire.
 */
import { readFileSync } from 'node:fs';
import { ClientError, DeviceClient, type MeBody } from '../client/device-client.ts';
import { CliError, type CommandIo } from './cli-error.ts';

/** The flags every device command takes (for parseCommandArgs). */
export const CONNECTION_FLAGS = {
  url: { type: 'string' },
  fingerprint: { type: 'string' },
  ca: { type: 'string' },
  user: { type: 'string' },
  'password-file': { type: 'string' },
} as const;

export const CONNECTION_USAGE = `connection:
  --url URL                 the device, e.g. https://192.0.2.10 (required)
  --fingerprint SHA256      trust the device certificate with this SHA-256 fingerprint (AB:CD:…)
  --ca FILE                 or trust certificates signed by this CA / this certificate (PEM)
  --user NAME               who logs in (default admin)
  --password-file FILE      the password, first line of FILE; else $METERGATE_PASSWORD, else a prompt`;

export interface ConnectionValues {
  readonly url?: string;
  readonly fingerprint?: string;
  readonly ca?: string;
  readonly user?: string;
  readonly 'password-file'?: string;
}

/** A client for `--url`, trusting what the flags say. Throws CliError naming the flag. */
export function deviceClient(values: ConnectionValues): DeviceClient {
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
  return new DeviceClient(url.origin, { ca, fingerprint: values.fingerprint });
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
