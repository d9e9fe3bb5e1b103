/**
 * The CLI's kept session: `metergate login --session-file F` (or with $METERGATE_SESSION set) logs in
 * once and keeps the session cookie, its CSRF token and how to reach the device in F, a file only its
 * owner may read (0600); the commands of that shell then reuse it instead of deriving the key and
 * logging in and out again each time (one `login` event in the audit log, not one pair per command).
 * The device's own timeouts bound it (15 min idle, 8 h at most); `metergate logout` ends it.
 */
import { lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { DEFAULT_SESSION_LIMITS } from '../auth/session-store.ts';
import { CliError } from './cli-error.ts';

export const SESSION_VARIABLE = 'METERGATE_SESSION';

export interface KeptSession {
  readonly version: 1;
  /** The device's origin, e.g. https://192.0.2.10. */
  readonly url: string;
  readonly fingerprint?: string;
  /** The trusted CA / certificate PEM itself (not its path: the file may move). */
  readonly caPem?: string;
  readonly user: string;
  readonly cookie: string;
  readonly csrfToken: string;
  /** ISO instants: when the login was made, and the device's absolute limit for it. */
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** The session file named by `--session-file`, else $METERGATE_SESSION, else none. */
export function sessionFilePath(flag: string | undefined): string | undefined {
  return flag || process.env[SESSION_VARIABLE] || undefined;
}

/** A kept session's absolute end, as the device counts it. */
export function sessionExpiry(now: number): string {
  return new Date(now + DEFAULT_SESSION_LIMITS.absoluteMs).toISOString();
}

/**
 * Writes the session readable by its owner only: a new file made 0600 and renamed over the old one,
 * so no moment exists in which another user could read it.
 */
export function writeSessionFile(file: string, session: KeptSession): void {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new CliError(
      `cannot write the session file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
    );
  }
}

/**
 * The session kept in `file`. CliError when there is none, when another user could read it (it is a
 * credential), when it is malformed, or when its time is up (the file is removed then).
 */
export function readSessionFile(file: string, now: number): KeptSession {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(
        `no session in ${file}: log in first with 'metergate login --url URL --session-file ${file}'`,
      );
    }
    throw new CliError(`cannot read the session file ${file}: ${(error as NodeJS.ErrnoException).code}`);
  }
  if (!stat.isFile()) throw new CliError(`the session file ${file} is not a regular file`);
  if ((stat.mode & 0o077) !== 0 || (process.getuid && stat.uid !== process.getuid())) {
    throw new CliError(
      `the session file ${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)}): not using it; log in again`,
    );
  }
  let session: KeptSession;
  try {
    session = JSON.parse(readFileSync(file, 'utf8')) as KeptSession;
  } catch {
    throw new CliError(`the session file ${file} is not a session this CLI wrote: log in again`);
  }
  if (
    session?.version !== 1 ||
    typeof session.url !== 'string' ||
    typeof session.cookie !== 'string' ||
    typeof session.csrfToken !== 'string' ||
    typeof session.user !== 'string' ||
    Number.isNaN(Date.parse(session.expiresAt))
  ) {
    throw new CliError(`the session file ${file} is not a session this CLI wrote: log in again`);
  }
  if (Date.parse(session.expiresAt) <= now) {
    rmSync(file, { force: true });
    throw sessionEnded(file, session);
  }
  return session;
}

/** The one message for a kept session the device no longer knows (or that ran out here). */
export function sessionEnded(file: string, session: Pick<KeptSession, 'url' | 'user'>): CliError {
  return new CliError(
    `the session of ${session.user} kept in ${file} has expired or ended (idle 15 min, 8 h at most, logged out, or the user changed): log in again with 'metergate login --url ${session.url} --user ${session.user} --session-file ${file}'`,
  );
}

export function removeSessionFile(file: string): void {
  rmSync(file, { force: true });
}
