/**
 * Files of the data dir bound to the anti-rollback counter: the security record anchors the SHA-256
 * of each (record-anchors.ts), so an older copy put back (an old certificate and key, an old Modbus
 * client CA or CRL) is found at boot instead of trusted. Generic over the files of one directory: the
 * TLS service writes every file it keeps through `write`, and reads them through `read`.
 *
 * A write is power-cut-safe: each new file goes to `<name>.next` (atomically: temp file, fsync,
 * rename) and each file to remove is renamed to `<name>.old`, then one security commit anchors the
 * new hashes, then each `.next` is renamed over its file and each `.old` deleted. Boot finishes what
 * the commit already vouches for (a `.next` with the anchored hash goes into place) and undoes what
 * it does not (a `.old` with the anchored hash comes back; other leftovers are deleted), so a cut at
 * any point leaves the old set or the new one, never a mismatch.
 *
 * At boot (`verify`) every anchored file must be there with its hash, and every file there must be
 * anchored; anything else is a security event (`file.rollback`) and the file is treated as absent:
 * the TLS service then falls back (a new self-signed certificate; no Modbus client CA, so Modbus/TLS
 * clients are refused rather than checked against an old CA).
 */
import { readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomically } from '../keys/file-key-provider.ts';
import { sameBytes, sha256 } from './record-anchors.ts';
import type { SecureStore } from './secure-store.ts';

export const FILE_ROLLBACK_EVENT = 'file.rollback';
const NEXT = '.next';
const OLD = '.old';
const isLeftover = (name: string) => name.endsWith(NEXT) || name.endsWith(OLD);

/** What the TLS service needs of a file store; `PlainFiles` is the unbound one (tests, tools). */
export interface FileStore {
  /** The file's bytes, or null when absent or not the bound version. */
  read(name: string): Buffer | null;
  /** Replaces (bytes) or removes (null) files together. */
  write(changes: Readonly<Record<string, Uint8Array | null>>): void;
  /** The names refused at boot (not the committed version), until written again. */
  refused(): readonly string[];
}

export class AnchoredFiles implements FileStore {
  private readonly refusedFiles = new Map<string, string>();

  /**
   * @param dir the directory (created on the first write, mode 0700)
   * @param prefix the files' names in the anchors, e.g. `tls/` (docs/flash-format.md)
   */
  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    private readonly store: SecureStore,
  ) {}

  /**
   * Boot: finishes or drops interrupted writes, then checks every file against the anchors. A record
   * from before file anchors adopts the files as they are (one commit). Returns the findings.
   */
  verify(options: { readOnly?: boolean } = {}): ReadonlyMap<string, string> {
    const anchored = this.anchors();
    const present = this.listFiles();
    if (anchored === null) {
      if (!options.readOnly) {
        const files = { ...(this.store.anchors.files ?? {}) };
        for (const name of present.filter((n) => !isLeftover(n))) {
          const hash = this.hash(name);
          // An unreadable file is not adopted: the next boot refuses it like any unanchored file.
          if (hash) files[this.prefix + name] = hash;
        }
        this.store.commitAnchors({ files });
      }
      return this.refusedFiles;
    }
    for (const name of present.filter(isLeftover)) {
      const target = name.slice(0, -(name.endsWith(NEXT) ? NEXT : OLD).length);
      const want = anchored[target];
      const leftover = join(this.dir, name);
      if (options.readOnly) continue;
      // A .next the commit vouches for goes into place; a .old it still vouches for comes back.
      const useful =
        want !== undefined &&
        this.matches(name, want) &&
        (name.endsWith(NEXT) ? !this.matches(target, want) : !this.exists(target));
      if (useful) renameSync(leftover, join(this.dir, target));
      else rmSync(leftover, { force: true });
    }
    const names = new Set([...Object.keys(anchored), ...this.listFiles().filter((n) => !isLeftover(n))]);
    for (const name of names) {
      const want = anchored[name];
      const exists = this.exists(name);
      let problem: string | null = null;
      if (want && !exists) problem = `${this.prefix}${name} is missing (the committed state has it)`;
      else if (!want && exists) problem = `${this.prefix}${name} is not part of the committed state`;
      else if (want && !this.matches(name, want))
        problem = `${this.prefix}${name} is not the committed version (an older or foreign copy)`;
      if (problem === null) continue;
      this.refusedFiles.set(name, problem);
      if (!options.readOnly) this.store.alert(FILE_ROLLBACK_EVENT, `${problem}; not used`);
    }
    return this.refusedFiles;
  }

  /** The files refused at boot and why (until written again). */
  refusals(): ReadonlyMap<string, string> {
    return this.refusedFiles;
  }

  refused(): readonly string[] {
    return [...this.refusedFiles.keys()];
  }

  read(name: string): Buffer | null {
    if (this.refusedFiles.has(name)) return null;
    try {
      return readFileSync(join(this.dir, name));
    } catch {
      return null;
    }
  }

  write(changes: Readonly<Record<string, Uint8Array | null>>): void {
    const files = { ...(this.store.anchors.files ?? {}) };
    for (const [name, data] of Object.entries(changes)) {
      if (data === null) {
        delete files[this.prefix + name];
        if (this.exists(name)) renameSync(join(this.dir, name), join(this.dir, name + OLD));
      } else {
        writeAtomically(this.dir, name + NEXT, data);
        files[this.prefix + name] = sha256(data);
      }
    }
    this.store.commitAnchors({ files });
    for (const [name, data] of Object.entries(changes)) {
      if (data === null) rmSync(join(this.dir, name + OLD), { force: true });
      else renameSync(join(this.dir, name + NEXT), join(this.dir, name));
      this.refusedFiles.delete(name);
    }
  }

  /** This directory's part of the anchors (names without the prefix), or null when unanchored. */
  private anchors(): Record<string, Uint8Array> | null {
    const all = this.store.anchors.files;
    if (all === null) return null;
    const mine: Record<string, Uint8Array> = {};
    for (const [name, hash] of Object.entries(all)) {
      if (name.startsWith(this.prefix)) mine[name.slice(this.prefix.length)] = hash;
    }
    return mine;
  }

  private listFiles(): string[] {
    try {
      return readdirSync(this.dir).filter(
        (name) => !name.startsWith('.') && !name.endsWith('.tmp') && statSync(join(this.dir, name)).isFile(),
      );
    } catch {
      return [];
    }
  }

  private exists(name: string): boolean {
    try {
      return statSync(join(this.dir, name)).isFile();
    } catch {
      return false;
    }
  }

  private matches(name: string, want: Uint8Array): boolean {
    return sameBytes(this.hash(name) ?? undefined, want);
  }

  /** SHA-256 of the file, or null when it cannot be read. */
  private hash(name: string): Uint8Array | null {
    try {
      return sha256(readFileSync(join(this.dir, name)));
    } catch {
      return null;
    }
  }
}

/** Files not bound to anything (a TLS service outside a device: tests, tools). */
export class PlainFiles implements FileStore {
  constructor(private readonly dir: string) {}

  read(name: string): Buffer | null {
    try {
      return readFileSync(join(this.dir, name));
    } catch {
      return null;
    }
  }

  write(changes: Readonly<Record<string, Uint8Array | null>>): void {
    for (const [name, data] of Object.entries(changes)) {
      if (data === null) rmSync(join(this.dir, name), { force: true });
      else writeAtomically(this.dir, name, data);
    }
  }

  refused(): readonly string[] {
    return [];
  }
}
