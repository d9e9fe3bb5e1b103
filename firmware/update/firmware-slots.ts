/**
 * The A/B install layout of the firmware (docs/updates.md) and every change to it:
 *
 *   FW/trusted-keys          the keys bundles must be signed with (install-pi.sh; never the API)
 *   FW/slots/a, FW/slots/b   two installed versions, each with its signed manifest in bundle.json
 *   FW/current -> slots/X    what the launcher starts; switched by renaming a new link over it
 *   FW/previous -> slots/Y   what a failed new version falls back to
 *   FW/state/                trial.json (an install on trial), floor (highest committed version),
 *                            last-result.json
 *   SPOOL/pending.mgb        a verified upload waiting for the next start (written by the device)
 *   SPOOL/confirmed.json     written by the launcher's run step when a version on trial became ready
 *
 * `prepare` (root, before each start) finishes or undoes an interrupted change, decides a trial
 * (commit or fall back) and installs a pending bundle; each write is ordered so that a process killed
 * between any two leaves a layout whose `current` is complete: the old or the new version runs.
 */
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { BundleError, isBundleError } from './bundle-error.ts';
import { type BundleManifest, type BundlePolicy, type Target, verifyBundle } from './bundle-format.ts';
import { higherVersion, parseVersion } from './firmware-version.ts';
import { unpackArchive, writeArchive } from './payload-archive.ts';
import { parseTrustedKeys, type TrustedKey } from './trusted-keys.ts';

export type Slot = 'a' | 'b';
export const PENDING_BUNDLE = 'pending.mgb';
export const CONFIRMED = 'confirmed.json';

/** The steps of prepare in order; a test kills the process at each (METERGATE_LAUNCHER_KILL_AT). */
export const INSTALL_STEPS = [
  'verified',
  'extracted',
  'previous-dropped',
  'slot-replaced',
  'trial-written',
  'pending-removed',
  'previous-switched',
  'current-switched',
  'armed',
  'fallback-marked',
  'fallback-switched',
  'committed',
] as const;
export type InstallStep = (typeof INSTALL_STEPS)[number];

export interface SlotInfo {
  readonly slot: Slot;
  readonly version: string | null;
  /** False for a version installed by install-pi.sh from a checkout (no signed manifest). */
  readonly signed: boolean;
}

export interface Trial {
  readonly slot: Slot;
  readonly from: Slot | null;
  readonly version: string;
  /** switched: not started yet; armed: handed to a start; failed: falling back. */
  readonly state: 'switched' | 'armed' | 'failed';
  readonly reason?: string;
}

export interface LastResult {
  readonly result: 'installed' | 'refused' | 'fallback' | 'interrupted';
  readonly version: string | null;
  readonly code?: string;
  readonly reason?: string;
  readonly at: string;
}

export interface FirmwareStatus {
  readonly running: SlotInfo | null;
  readonly previous: SlotInfo | null;
  readonly trial: Trial | null;
  readonly pending: boolean;
  readonly floor: string | null;
  readonly lastResult: LastResult | null;
}

export interface SlotsOptions {
  readonly firmwareDir: string;
  readonly spoolDir: string;
  readonly target: Target;
  readonly now?: () => Date;
  /** Called after each step; the launcher's test hook kills the process there. */
  readonly afterStep?: (step: InstallStep) => void;
}

const other = (slot: Slot): Slot => (slot === 'a' ? 'b' : 'a');

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Temp file and rename: a reader sees the old or the new content, never a part. */
function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text, { mode: 0o644 });
  renameSync(`${path}.tmp`, path);
}

function readLink(firmwareDir: string, name: 'current' | 'previous'): Slot | null {
  try {
    const target = readlinkSync(join(firmwareDir, name));
    return target === 'slots/a' ? 'a' : target === 'slots/b' ? 'b' : null;
  } catch {
    return null;
  }
}

/** A new link renamed over the old one: `name` always names a slot or (null) is gone. */
function setLink(firmwareDir: string, name: 'current' | 'previous', slot: Slot | null): void {
  const path = join(firmwareDir, name);
  if (slot === null) {
    rmSync(path, { force: true });
    return;
  }
  rmSync(`${path}.new`, { force: true });
  symlinkSync(`slots/${slot}`, `${path}.new`);
  renameSync(`${path}.new`, path);
}

/** Writes what the page cache holds to the medium: a rename after it survives a power cut in order. */
function syncDisks(): void {
  try {
    execFileSync('sync', { stdio: 'ignore', timeout: 60_000 });
  } catch {
    // Best effort: a missing `sync` leaves ordering to the file system's journal.
  }
}

export function slotInfo(firmwareDir: string, slot: Slot): SlotInfo | null {
  const dir = join(firmwareDir, 'slots', slot);
  const bundle = readJson<{ manifest?: BundleManifest }>(join(dir, 'bundle.json'));
  if (bundle?.manifest && parseVersion(bundle.manifest.version)) {
    return { slot, version: bundle.manifest.version, signed: true };
  }
  if (!existsSync(join(dir, 'dist'))) return null;
  const pkg = readJson<{ version?: unknown }>(join(dir, 'package.json'));
  return { slot, version: parseVersion(pkg?.version) ? (pkg?.version as string) : null, signed: false };
}

export function readTrustedKeys(firmwareDir: string): TrustedKey[] {
  const path = join(firmwareDir, 'trusted-keys');
  return existsSync(path) ? parseTrustedKeys(readFileSync(path, 'utf8')) : [];
}

export function readStatus(firmwareDir: string, spoolDir: string): FirmwareStatus {
  const current = readLink(firmwareDir, 'current');
  const previous = readLink(firmwareDir, 'previous');
  const trial = readJson<Trial>(join(firmwareDir, 'state', 'trial.json'));
  return {
    running: current ? slotInfo(firmwareDir, current) : null,
    previous: previous && previous !== current ? slotInfo(firmwareDir, previous) : null,
    trial,
    pending: existsSync(join(spoolDir, PENDING_BUNDLE)),
    floor: floorOf(firmwareDir),
    lastResult: readJson<LastResult>(join(firmwareDir, 'state', 'last-result.json')),
  };
}

/**
 * The version nothing may go below: the higher of the floor file and the committed running version.
 * A floor file restored from an old copy cannot lower it below what runs, and neither file lives in
 * the data dir that a backup restores.
 */
export function floorOf(firmwareDir: string): string | null {
  let floor: string | null = null;
  try {
    const text = readFileSync(join(firmwareDir, 'state', 'floor'), 'utf8').trim();
    if (parseVersion(text)) floor = text;
  } catch {
    // No floor yet: a new install.
  }
  const current = readLink(firmwareDir, 'current');
  const onTrial = existsSync(join(firmwareDir, 'state', 'trial.json'));
  const running = current && !onTrial ? slotInfo(firmwareDir, current)?.version : null;
  return higherVersion(floor, running ?? null);
}

/** The policy a bundle is checked against on this device now. */
export function currentPolicy(firmwareDir: string, target: Target): BundlePolicy {
  const current = readLink(firmwareDir, 'current');
  return {
    trustedKeys: readTrustedKeys(firmwareDir),
    target,
    installed: current ? (slotInfo(firmwareDir, current)?.version ?? null) : null,
    floor: floorOf(firmwareDir),
  };
}

export class FirmwareSlots {
  private readonly fw: string;
  private readonly state: string;

  constructor(private readonly options: SlotsOptions) {
    this.fw = options.firmwareDir;
    this.state = join(options.firmwareDir, 'state');
  }

  private step(step: InstallStep): void {
    this.options.afterStep?.(step);
  }

  private result(result: Omit<LastResult, 'at'>): void {
    const at = (this.options.now?.() ?? new Date()).toISOString();
    writeAtomic(join(this.state, 'last-result.json'), `${JSON.stringify({ ...result, at })}\n`);
  }

  private trial(): Trial | null {
    return readJson<Trial>(join(this.state, 'trial.json'));
  }

  private writeTrial(trial: Trial | null): void {
    const path = join(this.state, 'trial.json');
    if (trial === null) rmSync(path, { force: true });
    else writeAtomic(path, `${JSON.stringify(trial)}\n`);
  }

  /** Everything before a start; returns what it did, for the log. */
  prepare(): string[] {
    mkdirSync(this.state, { recursive: true });
    const spool = this.options.spoolDir;
    if (!existsSync(spool)) {
      // Made by root before the first start; the device (the data dir's owner) writes uploads there.
      mkdirSync(spool, { recursive: true, mode: 0o700 });
      const owner = statSync(dirname(spool));
      chownSync(spool, owner.uid, owner.gid);
    }
    const notes = this.settleTrial();
    if (this.trial() === null && existsSync(join(this.options.spoolDir, PENDING_BUNDLE))) {
      notes.push(this.installPending());
    }
    const trial = this.trial();
    if (trial?.state === 'switched') {
      rmSync(join(this.options.spoolDir, CONFIRMED), { force: true });
      this.writeTrial({ ...trial, state: 'armed' });
      this.step('armed');
      notes.push(`version ${trial.version} starts on trial`);
    }
    return notes;
  }

  /** Finishes an interrupted switch or fallback, and commits or undoes a trial that has run. */
  private settleTrial(): string[] {
    const trial = this.trial();
    if (!trial) return [];
    if (trial.state === 'failed') return [this.fallBack(trial, trial.reason ?? 'it did not become ready')];
    if (readLink(this.fw, 'current') !== trial.slot) {
      // Killed before the switch was complete: finish it when the new slot is whole.
      if (slotInfo(this.fw, trial.slot)?.version === trial.version) {
        // The bundle is in its slot: a pending copy left behind must not be installed again.
        rmSync(join(this.options.spoolDir, PENDING_BUNDLE), { force: true });
        setLink(this.fw, 'previous', trial.from);
        setLink(this.fw, 'current', trial.slot);
        return [`finished switching to ${trial.version}`];
      }
      this.writeTrial(null);
      this.result({ result: 'interrupted', version: trial.version, reason: 'the install was cut short' });
      return [`install of ${trial.version} was cut short; the installed version stays`];
    }
    if (trial.state !== 'armed') return [];
    const confirmed = readJson<{ slot?: string; version?: string }>(join(this.options.spoolDir, CONFIRMED));
    if (confirmed?.slot === trial.slot && confirmed.version === trial.version) {
      const floor = higherVersion(floorOf(this.fw), trial.version) as string;
      writeAtomic(join(this.state, 'floor'), `${floor}\n`);
      this.result({ result: 'installed', version: trial.version });
      // The commit point: cut short before it, the next start commits again (the same writes).
      this.writeTrial(null);
      this.step('committed');
      rmSync(join(this.options.spoolDir, CONFIRMED), { force: true });
      return [`version ${trial.version} committed`];
    }
    if (trial.from === null) {
      // Nothing to fall back to: keep it, and say so.
      this.result({
        result: 'fallback',
        version: trial.version,
        reason: 'it did not become ready; no previous version',
      });
      this.writeTrial(null);
      return [`version ${trial.version} did not become ready and there is no previous version`];
    }
    const failed: Trial = {
      ...trial,
      state: 'failed',
      reason: 'it did not become ready and pass its self-check in time',
    };
    this.writeTrial(failed);
    this.step('fallback-marked');
    return [this.fallBack(failed, failed.reason as string)];
  }

  private fallBack(trial: Trial, reason: string): string {
    if (trial.from !== null) {
      setLink(this.fw, 'current', trial.from);
      this.step('fallback-switched');
    }
    // The failed version is no fallback for anything: the next install overwrites its slot.
    setLink(this.fw, 'previous', null);
    this.result({ result: 'fallback', version: trial.version, code: 'update.not-ready', reason });
    this.writeTrial(null);
    return `version ${trial.version} failed (${reason}); back to the previous version`;
  }

  private installPending(): string {
    const pendingPath = join(this.options.spoolDir, PENDING_BUNDLE);
    let verified: ReturnType<typeof verifyBundle>;
    try {
      verified = verifyBundle(readFileSync(pendingPath), currentPolicy(this.fw, this.options.target));
    } catch (error) {
      if (!isBundleError(error)) throw error;
      rmSync(pendingPath, { force: true });
      this.result({ result: 'refused', version: null, code: error.code, reason: error.message });
      return `update refused: ${error.code}: ${error.message}`;
    }
    this.step('verified');
    const { manifest, header, payload } = verified;
    const from = readLink(this.fw, 'current');
    const slot: Slot = from ? other(from) : 'a';
    const slotDir = join(this.fw, 'slots', slot);
    const fresh = `${slotDir}.new`;
    rmSync(fresh, { recursive: true, force: true });
    let files: ReturnType<typeof unpackArchive>;
    try {
      files = unpackArchive(payload);
    } catch (error) {
      if (!(error instanceof BundleError)) throw error;
      rmSync(pendingPath, { force: true });
      this.result({ result: 'refused', version: manifest.version, code: error.code, reason: error.message });
      return `update refused: ${error.code}: ${error.message}`;
    }
    writeArchive(files, fresh);
    writeFileSync(
      join(fresh, 'bundle.json'),
      `${JSON.stringify({
        manifest,
        keyId: Buffer.from(header.keyId).toString('hex'),
        signature: Buffer.from(header.signature).toString('base64'),
        manifestBytes: Buffer.from(header.manifestBytes).toString('base64'),
      })}\n`,
    );
    syncDisks();
    this.step('extracted');
    if (readLink(this.fw, 'previous') === slot) {
      setLink(this.fw, 'previous', null);
      this.step('previous-dropped');
    }
    rmSync(slotDir, { recursive: true, force: true });
    renameSync(fresh, slotDir);
    this.step('slot-replaced');
    this.writeTrial({ slot, from, version: manifest.version, state: 'switched' });
    this.step('trial-written');
    rmSync(pendingPath, { force: true });
    this.step('pending-removed');
    setLink(this.fw, 'previous', from);
    this.step('previous-switched');
    setLink(this.fw, 'current', slot);
    syncDisks();
    this.step('current-switched');
    return `installed ${manifest.version} into slot ${slot}`;
  }
}
