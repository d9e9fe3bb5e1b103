/**
 * `metergate run` as docs/cli.md shows it, through the built CLI (dist/cli.mjs, which the board's
 * `metergate` wrapper runs): `run --help` is the device's usage, and `run` boots the device to its ready line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI_ENTRY, LOOPBACK_PORTS } from '../../support/device-process.ts';
import { cli } from './cli-process.ts';

describe('metergate run', () => {
  it('run --help prints the device usage and exits 0', async () => {
    const run = await cli(['run', '--help']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /usage: metergate \[run\] \[options\]/);
    assert.match(run.stdout, /--data-dir/);
  });

  it('the command list names run', async () => {
    const run = await cli(['--help']);
    assert.match(run.stdout, /^ {2}run\s+boot the device/m);
  });

  it('run boots the device to its ready line', async () => {
    const root = mkdtempSync(join(tmpdir(), 'metergate-cli-run-'));
    const child = spawn(
      process.execPath,
      [CLI_ENTRY, 'run', '--sim', '--data-dir', join(root, 'device'), ...LOOPBACK_PORTS],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      let stdout = '';
      const ready = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
          const line = /^metergate ready (.*)$/m.exec(stdout)?.[1];
          if (line) resolve(line);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code} before ready: ${stdout}`)));
      });
      assert.equal(typeof JSON.parse(ready).http, 'number');
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, 'the device exits cleanly on SIGTERM');
    } finally {
      clearTimeout(timer);
      child.kill('SIGKILL');
      rmSync(root, { recursive: true, force: true });
    }
  });
});
