/**
 * Runs the built CLI (dist/cli.mjs) as a process for the CLI's end-to-end tests: bounded in time,
 * no standard input, the password variables cleared unless the test sets them.
 */
import { spawn } from 'node:child_process';
import { CLI_ENTRY } from '../../support/device-process.ts';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
      env: {
        ...process.env,
        METERGATE_PASSWORD: '',
        METERGATE_NEW_PASSWORD: '',
        METERGATE_SESSION: '',
        METERGATE_API_KEY_FILE: '',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
