/**
 * The payload of an update bundle: the firmware's files as one gzip stream of entries
 * `u16 path length | path (UTF-8, relative, '/'-separated) | u8 executable (0/1) | u32 size | bytes`,
 * ended by a zero path length. Directories are implied by paths; links are not carried. Unpacking
 * refuses any path that could leave the target directory (absolute, `..`, empty segments).
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BundleError } from './bundle-error.ts';

export interface ArchiveFile {
  readonly path: string;
  readonly executable: boolean;
  readonly data: Uint8Array;
}

const SAFE_SEGMENT = /^(?!\.\.?$)[^/\\\0]+$/;

function checkPath(path: string): void {
  if (path.length === 0 || !path.split('/').every((segment) => SAFE_SEGMENT.test(segment))) {
    throw new BundleError('bundle.malformed', `payload path '${path}' is not a plain relative path`);
  }
}

export function packArchive(files: readonly ArchiveFile[]): Uint8Array {
  const parts: Buffer[] = [];
  for (const file of files) {
    checkPath(file.path);
    const path = Buffer.from(file.path, 'utf8');
    const head = Buffer.alloc(2 + path.length + 5);
    head.writeUInt16BE(path.length, 0);
    path.copy(head, 2);
    head.writeUInt8(file.executable ? 1 : 0, 2 + path.length);
    head.writeUInt32BE(file.data.length, 3 + path.length);
    parts.push(head, Buffer.from(file.data));
  }
  parts.push(Buffer.alloc(2));
  return gzipSync(Buffer.concat(parts), { level: 9 });
}

export function unpackArchive(payload: Uint8Array): ArchiveFile[] {
  let bytes: Buffer;
  try {
    bytes = gunzipSync(payload);
  } catch {
    throw new BundleError('bundle.malformed', 'the payload is not a gzip stream');
  }
  const files: ArchiveFile[] = [];
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length)
      throw new BundleError('bundle.malformed', 'the payload archive ends inside an entry');
  };
  for (;;) {
    need(2);
    const pathLength = bytes.readUInt16BE(at);
    at += 2;
    if (pathLength === 0) break;
    need(pathLength + 5);
    const path = bytes.subarray(at, at + pathLength).toString('utf8');
    checkPath(path);
    const executable = bytes.readUInt8(at + pathLength) === 1;
    const size = bytes.readUInt32BE(at + pathLength + 1);
    at += pathLength + 5;
    need(size);
    files.push({ path, executable, data: bytes.subarray(at, at + size) });
    at += size;
  }
  if (at !== bytes.length) throw new BundleError('bundle.malformed', 'bytes after the payload archive end');
  return files;
}

/** Writes the files under `dir` (which must not exist yet or be empty). */
export function writeArchive(files: readonly ArchiveFile[], dir: string): void {
  for (const file of files) {
    const target = join(dir, ...file.path.split('/'));
    if (relative(dir, target).startsWith(`..${sep}`)) throw new Error(`escapes ${dir}: ${file.path}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.data, { mode: file.executable ? 0o755 : 0o644 });
  }
}

/** Reads a directory tree's regular files as archive entries (links and other types are skipped). */
export function readTree(dir: string, prefix = ''): ArchiveFile[] {
  const files: ArchiveFile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const stat = lstatSync(path, { throwIfNoEntry: false });
    const entry = prefix ? `${prefix}/${name}` : name;
    if (!stat) continue;
    if (stat.isDirectory()) files.push(...readTree(path, entry));
    else if (stat.isFile()) {
      files.push({ path: entry, executable: (stat.mode & 0o111) !== 0, data: readFileSync(path) });
    }
  }
  return files;
}
