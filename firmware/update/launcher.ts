/**
 * The launcher (dist/launcher.mjs, installed as /opt/metergate/launcher.mjs outside the slots, so an
 * update never replaces it): the systemd unit's ExecStart chain (docs/updates.md).
 *
 *   launcher prepare --firmware FW --spool DIR
 *       as root before each start (ExecStartPre=+): finishes an interrupted install, commits or undoes
 *       a trial, installs a pending bundle (firmware-slots.ts).
 *   launcher run --firmware FW --spool DIR [--ready-timeout S] [--entry dist/device.mjs] -- DEVICE FLAGS
 *       as the service user (ExecStart): starts FW/current's device and passes its output through.
 *       A version on trial must print its ready line and pass the self-check (not in safe mode,
 *       GET /api/v1/info answers 200) within the timeout; then it is confirmed (SPOOL/confirmed.json)
 *       and the next prepare commits it. Otherwise the device is killed and the launcher exits with
 *       NOT_READY_EXIT, so systemd restarts the chain and prepare falls back to the previous version.
 *
 * METERGATE_LAUNCHER_KILL_AT=STEP (tests only, like the simulator's power cut) SIGKILLs prepare right
 * after that install step.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { hostTarget } from './bundle-format.ts';
import { CONFIRMED, FirmwareSlots, INSTALL_STEPS, type InstallStep, readStatus } from './firmware-slots.ts';

/** The launcher's own exit when a version did not become ready in time (restart, then fall back). */
export const NOT_READY_EXIT = 76;
const USAGE_EXIT = 2;

function say(message: string): void {
  process.stderr.write(`metergate-launcher: ${message}\n`);
}

function usage(message: string): never {
  say(
    `${message}\nusage: launcher prepare --firmware FW --spool DIR\n       launcher run --firmware FW --spool DIR [--ready-timeout SECONDS] [--entry FILE] -- DEVICE FLAGS`,
  );
  process.exit(USAGE_EXIT);
}

function prepare(firmwareDir: string, spoolDir: string): void {
  const target = hostTarget();
  if (!target) usage(`no update target for ${process.platform}-${process.arch}`);
  const killAt = process.env.METERGATE_LAUNCHER_KILL_AT as InstallStep | undefined;
  if (killAt !== undefined && !INSTALL_STEPS.includes(killAt))
    usage(`METERGATE_LAUNCHER_KILL_AT: unknown step '${killAt}'`);
  const slots = new FirmwareSlots({
    firmwareDir,
    spoolDir,
    target,
    afterStep: (step) => {
      if (step === killAt) process.kill(process.pid, 'SIGKILL');
    },
  });
  for (const note of slots.prepare()) say(note);
}

/** GET /api/v1/info on the device's own port: the web stack answers, not only the listener. */
function selfCheck(
  ready: { http?: number | null; https?: number | null },
  timeoutMs: number,
): Promise<boolean> {
  const port = ready.https ?? ready.http;
  if (!port) return Promise.resolve(false);
  const request = ready.https ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/api/v1/info', timeout: timeoutMs, rejectUnauthorized: false },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function run(
  firmwareDir: string,
  spoolDir: string,
  entry: string,
  timeoutMs: number,
  flags: string[],
): Promise<void> {
  const status = readStatus(firmwareDir, spoolDir);
  const running = status.running;
  if (!running) {
    say(`no firmware in ${firmwareDir}/current: run scripts/install-pi.sh`);
    process.exit(1);
  }
  const trial = status.trial?.state === 'armed' && status.trial.slot === running.slot ? status.trial : null;
  // The slot, not the link: a switch while this runs does not change what runs.
  // The device learns the layout from here; flags given after them (METERGATE_OPTS) win.
  const layout = ['--firmware-dir', firmwareDir, '--update-spool', spoolDir];
  const child: ChildProcess = spawn(
    process.execPath,
    [join(firmwareDir, 'slots', running.slot, entry), ...layout, ...flags],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  // Whatever ends the launcher ends the device it started: never a device without its launcher.
  process.on('exit', () => child.kill('SIGKILL'));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  let confirmed = false;
  let failed = false;
  const fail = (why: string) => {
    if (confirmed || failed) return;
    failed = true;
    say(`version ${running.version} ${why}`);
    child.kill('SIGKILL');
  };
  const timer = setTimeout(() => fail(`did not become ready within ${timeoutMs / 1000} s`), timeoutMs);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  lines.on('line', (line) => {
    process.stdout.write(`${line}\n`);
    if (!line.startsWith('metergate ready ') || confirmed || failed) return;
    let ready: { mode?: string; http?: number | null; https?: number | null };
    try {
      ready = JSON.parse(line.slice('metergate ready '.length));
    } catch {
      fail('printed a ready line that is not JSON');
      return;
    }
    if (ready.mode === 'safe') {
      fail('started in safe mode');
      return;
    }
    void selfCheck(ready, 5_000)
      .then((ok) => {
        if (failed) return;
        if (!ok) return fail('failed its self-check (GET /api/v1/info)');
        if (trial) {
          // Written before it counts as confirmed: a confirmation that cannot be kept is a failure.
          mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
          writeFileSync(
            join(spoolDir, CONFIRMED),
            `${JSON.stringify({ slot: trial.slot, version: trial.version })}\n`,
          );
        }
        clearTimeout(timer);
        confirmed = true;
        if (trial) say(`version ${trial.version} is ready and passed its self-check: confirmed`);
      })
      .catch((error: Error) => fail(`could not be confirmed: ${error.message}`));
  });
  const [code, signal] = (await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])))) as [
    number | null,
    NodeJS.Signals | null,
  ];
  clearTimeout(timer);
  // A version on trial that ends before it was confirmed (even with a usage error, which systemd does
  // not restart) must come back through prepare, which falls back.
  if (failed || (trial && !confirmed)) process.exit(NOT_READY_EXIT);
  if (signal) process.exit(128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15));
  process.exit(code ?? 1);
}

export async function runLauncher(argv: readonly string[]): Promise<void> {
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const flags = split < 0 ? [] : argv.slice(split + 1);
  let parsed: ReturnType<typeof parseLauncherArgs>;
  try {
    parsed = parseLauncherArgs([...own]);
  } catch (error) {
    usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (!values.firmware || !values.spool) usage('--firmware and --spool are required');
  const command = positionals[0];
  if (command === 'prepare') return prepare(values.firmware, values.spool);
  if (command === 'run') {
    const seconds = Number(values['ready-timeout'] ?? '120');
    if (!Number.isFinite(seconds) || seconds <= 0)
      usage('--ready-timeout must be a number of seconds above 0');
    return run(values.firmware, values.spool, values.entry ?? 'dist/device.mjs', seconds * 1000, flags);
  }
  usage(`unknown command '${command ?? ''}' (prepare or run)`);
}

function parseLauncherArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      firmware: { type: 'string' },
      spool: { type: 'string' },
      'ready-timeout': { type: 'string' },
      entry: { type: 'string' },
    },
  });
}
