/**
 * The anchors the security record carries for the state kept outside it, so that one anti-rollback
 * counter covers everything: the configuration record (sequence and hash of its payload), the event
 * log (the newest event id of each ring at the commit) and the files bound to the counter (SHA-256 of
 * each, by name). A record written before anchors existed has none: it is read as unanchored, and the
 * next commit anchors it. Stored as one top-level field `a` of the security record's payload, beside
 * the fields security-record.ts encodes (docs/flash-format.md).
 */
import { createHash } from 'node:crypto';
import { cbor } from './sealed-record.ts';

/** The configuration record the security record vouches for; seq 0 = none stored yet. */
export interface ConfigAnchor {
  readonly seq: number;
  /** SHA-256 of the configuration payload's CBOR encoding (empty when seq is 0). */
  readonly hash: Uint8Array;
}

/** Newest event id in the changes ring and in the refusals ring when the record was committed. */
export type LogAnchor = readonly [changes: number, refusals: number];

export interface Anchors {
  /** null: unanchored (a record from before anchors). */
  readonly config: ConfigAnchor | null;
  readonly log: LogAnchor | null;
  /** File name → SHA-256 of its content; a name not listed must not exist. null: unanchored. */
  readonly files: Readonly<Record<string, Uint8Array>> | null;
}

export const UNANCHORED: Anchors = { config: null, log: null, files: null };

/** SHA-256 of bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** The hash a configuration anchor holds for `payload`. */
export function configHash(payload: unknown): Uint8Array {
  return sha256(cbor.encode(payload));
}

export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b));
}

/** The `a` field of the payload (absent parts stay absent: unanchored). */
export function encodeAnchors(anchors: Anchors): { a?: Record<string, unknown> } {
  const a: Record<string, unknown> = {};
  if (anchors.config) a.c = [anchors.config.seq, anchors.config.hash];
  if (anchors.log) a.l = [...anchors.log];
  if (anchors.files) a.f = { ...anchors.files };
  return Object.keys(a).length > 0 ? { a } : {};
}

/** Reads the anchors of an opened payload; throws Error naming the field that is malformed. */
export function decodeAnchors(payload: unknown): Anchors {
  const a = (payload as { a?: unknown } | null)?.a;
  if (a === undefined) return UNANCHORED;
  if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new Error('a: expected a map');
  const { c, l, f } = a as Record<string, unknown>;
  let config: ConfigAnchor | null = null;
  if (c !== undefined) {
    if (!Array.isArray(c) || c.length !== 2 || !isCount(c[0]) || !(c[1] instanceof Uint8Array)) {
      throw new Error('a.c: expected [seq, hash]');
    }
    config = { seq: c[0], hash: new Uint8Array(c[1]) };
  }
  let log: LogAnchor | null = null;
  if (l !== undefined) {
    if (!Array.isArray(l) || l.length !== 2 || !isCount(l[0]) || !isCount(l[1])) {
      throw new Error('a.l: expected [changes id, refusals id]');
    }
    log = [l[0], l[1]];
  }
  let files: Record<string, Uint8Array> | null = null;
  if (f !== undefined) {
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new Error('a.f: expected a map');
    files = {};
    for (const [name, hash] of Object.entries(f)) {
      if (!(hash instanceof Uint8Array) || hash.length !== 32)
        throw new Error(`a.f.${name}: expected 32 bytes`);
      files[name] = new Uint8Array(hash);
    }
  }
  return { config, log, files };
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
