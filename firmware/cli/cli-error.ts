/** The CLI's error: one clear line for the user and the exit code to leave with. */

export interface CommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
