/**
 * Test fixture for the secure store: a data dir (`<dir>/flash.img`, `<dir>/keys/`) in a fresh temp
 * directory, and a "boot" that opens the simulated flash, the file key provider, the file counter and
 * the store from those files, as the device does after a power cycle.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIN_KDF_ITERATIONS, type PasswordVerifier } from '../../firmware/auth/password-verifier.ts';
import { ADMIN_SLOT } from '../../firmware/core/slots.ts';
import { actorFor, setPassword } from '../../firmware/core/user-table.ts';
import { FileKeyProvider, FileMonotonicCounter } from '../../firmware/keys/file-key-provider.ts';
import { SECURITY_RECORD_BLOCKS } from '../../firmware/store/flash-layout.ts';
import {
  type OpenOptions,
  type SecureStore,
  type SecureStoreDeps,
  SecureStore as Store,
  type StoreOpenResult,
} from '../../firmware/store/secure-store.ts';
import { encodeSecurityState, type SecurityState } from '../../firmware/store/security-record.ts';
import { DEFAULT_BLOCK_SIZE, NorFlash } from '../../sim/nor-flash.ts';

/** The clock every fixture store sees: 2025-01-15T12:00:00Z. */
export const FIXED_TIME = Date.UTC(2025, 0, 15, 12, 0, 0);

export interface DataDir {
  readonly dir: string;
  readonly imagePath: string;
  readonly keysDir: string;
  readonly rootKeyPath: string;
  readonly counterPath: string;
}

/** A fresh data dir under the system temp dir; nothing inside it exists yet. */
export function createDataDir(): DataDir {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-'));
  const keysDir = join(dir, 'keys');
  return {
    dir,
    imagePath: join(dir, 'flash.img'),
    keysDir,
    rootKeyPath: join(keysDir, 'root.key'),
    counterPath: join(keysDir, 'rollback.counter'),
  };
}

/** A data dir removed (with everything left open in it closed) when the test `t` ends. */
export function tempDataDir(t: { after(fn: () => void): void }): DataDir {
  const data = createDataDir();
  t.after(() => {
    closeAll(data);
    rmSync(data.dir, { recursive: true, force: true });
  });
  return data;
}

export interface BootOptions extends OpenOptions {
  /** Lose power after this many programmed bytes (counted from this boot). */
  readonly powerCutAfterBytes?: number;
  /** Create a blank image if there is none. Default true. */
  readonly create?: boolean;
}

export interface Booted {
  readonly flash: NorFlash;
  readonly keys: FileKeyProvider;
  readonly counter: FileMonotonicCounter;
  readonly deps: SecureStoreDeps;
  readonly result: StoreOpenResult;
  /** Closes the flash (a power-off); safe to call twice. */
  close(): void;
}

/** Boots not yet closed, by data dir. */
const open = new Map<string, Set<Booted>>();

/** Closes every flash a boot of `data` left open (the fixture's cleanup does it too). */
export function closeAll(data: DataDir): void {
  for (const booted of open.get(data.dir) ?? []) booted.close();
  open.delete(data.dir);
}

/** Opens flash, keys, counter and store from the data dir's files. */
export async function boot(data: DataDir, options: BootOptions = {}): Promise<Booted> {
  const { powerCutAfterBytes, create = true, ...openOptions } = options;
  const flash = NorFlash.open({ path: data.imagePath, create, powerCutAfterBytes });
  const keys = new FileKeyProvider(data.keysDir);
  const counter = new FileMonotonicCounter(data.counterPath);
  const deps: SecureStoreDeps = { flash, keys, counter, now: () => FIXED_TIME };
  let closed = false;
  let result: StoreOpenResult;
  try {
    result = await Store.open(deps, { kdfIterations: MIN_KDF_ITERATIONS, ...openOptions });
  } catch (error) {
    flash.close();
    throw error;
  }
  const booted: Booted = {
    flash,
    keys,
    counter,
    deps,
    result,
    close() {
      if (closed) return;
      closed = true;
      open.get(data.dir)?.delete(booted);
      flash.close();
    },
  };
  if (!open.has(data.dir)) open.set(data.dir, new Set());
  open.get(data.dir)?.add(booted);
  return booted;
}

/** Boots and asserts normal mode; returns the store beside the boot. */
export async function bootNormal(
  data: DataDir,
  options: BootOptions = {},
): Promise<Booted & { store: SecureStore; normal: Extract<StoreOpenResult, { mode: 'normal' }> }> {
  const booted = await boot(data, options);
  const { result } = booted;
  if (result.mode !== 'normal') {
    booted.close();
    assert.fail(`expected normal mode, got safe mode: ${result.reason}`);
  }
  return { ...booted, store: result.store, normal: result };
}

/** Boots, commits `next`, powers off. */
export async function commitAndPowerOff(data: DataDir, next: SecurityState): Promise<void> {
  const booted = await bootNormal(data);
  booted.store.commit(next, { time: FIXED_TIME, type: 'test.commit', interface: 'system', result: 'ok' });
  booted.close();
}

/** The image file's bytes. */
export function readImage(data: DataDir): Buffer {
  return readFileSync(data.imagePath);
}

export function writeImage(data: DataDir, bytes: Uint8Array): void {
  writeFileSync(data.imagePath, bytes);
}

/** The bytes of one erase block of the image file. */
export function imageBlock(image: Uint8Array, block: number, blockSize = DEFAULT_BLOCK_SIZE): Uint8Array {
  return image.subarray(block * blockSize, (block + 1) * blockSize);
}

/** Both security-record blocks (A then B) of the image file. */
export function recordBlocks(image: Uint8Array): Uint8Array {
  const [a, b] = SECURITY_RECORD_BLOCKS;
  assert.equal(b, a + 1);
  return image.subarray(a * DEFAULT_BLOCK_SIZE, (b + 1) * DEFAULT_BLOCK_SIZE);
}

/** Header + box length of the sealed copy at the start of `block` (box length is big-endian at 12). */
export function sealedLength(block: Uint8Array): number {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  return 40 + view.getUint32(12);
}

/** Copies the image and the keys dir to `into` (a directory that must not exist yet). */
export function snapshot(data: DataDir, into: string): void {
  cpSync(data.imagePath, join(into, 'flash.img'));
  cpSync(data.keysDir, join(into, 'keys'), { recursive: true });
}

/** Replaces the image and the keys dir with those of a snapshot. */
export function restore(data: DataDir, from: string): void {
  rmSync(data.keysDir, { recursive: true, force: true });
  cpSync(join(from, 'keys'), data.keysDir, { recursive: true });
  cpSync(join(from, 'flash.img'), data.imagePath);
}

/** A state in its canonical stored form, for whole-state comparisons. */
export function canonical(state: SecurityState): unknown {
  return encodeSecurityState(state);
}

/**
 * First boot, then the admin sets its own password to `verifier` (so the state differs from the
 * factory one, and falling back to defaults would show); returns the committed state.
 */
export async function provisionWithAdminPassword(
  data: DataDir,
  verifier: PasswordVerifier,
): Promise<SecurityState> {
  const first = await bootNormal(data);
  const state = first.store.state;
  const table = setPassword(state.table, actorFor(state.table, ADMIN_SLOT), ADMIN_SLOT, verifier, {
    currentPasswordVerified: true,
  });
  const next = { ...state, table };
  first.store.commit(next, {
    time: FIXED_TIME,
    type: 'password.change',
    interface: 'system',
    result: 'ok',
    slot: ADMIN_SLOT,
  });
  first.close();
  return next;
}

/** The files of the key store (root key, counter) and their bytes. */
export function keyFiles(data: DataDir): Map<string, Buffer> {
  return new Map(readdirSync(data.keysDir).map((name) => [name, readFileSync(join(data.keysDir, name))]));
}
