/**
 * The update bundle (docs/updates.md): a frame with a signed manifest in front of the payload.
 *
 *   0    8  magic "MGBNDL01"
 *   8   32  key id: SHA-256 of the signer's Ed25519 public key
 *   40  64  Ed25519 signature of SIGNING_CONTEXT + the manifest's bytes
 *   104  4  manifest length n (big-endian, 2 … MAX_MANIFEST_BYTES)
 *   108  n  manifest: JSON {format, version, target, payloadSha256, minFromVersion, size}
 *   108+n   payload: exactly `size` bytes whose SHA-256 is `payloadSha256`
 *
 * Checked in the order TUF checks metadata: the key is looked up and the signature verified before
 * a byte of the manifest is parsed; only then the manifest's claims (target, version) and last the
 * payload against the signed hash and size. Pure: no files, no clock.
 */
import { createHash, type Hash } from 'node:crypto';
import nacl from 'tweetnacl';
import { BundleError } from './bundle-error.ts';
import { compareVersions, parseVersion } from './firmware-version.ts';
import { keyId, type TrustedKey } from './trusted-keys.ts';

export const BUNDLE_MAGIC = 'MGBNDL01';
export const BUNDLE_FORMAT = 1;
/** Domain separation: a signature made for anything else never verifies as a bundle manifest. */
export const SIGNING_CONTEXT = 'metergate update manifest v1\0';
export const HEADER_BYTES = 108;
export const MAX_MANIFEST_BYTES = 16 * 1024;
/** The largest payload a device accepts (a build with production node_modules is far below). */
export const MAX_PAYLOAD_BYTES = 128 * 1024 * 1024;
export const TARGETS = ['linux-arm64', 'linux-x64'] as const;
export type Target = (typeof TARGETS)[number];

export interface BundleManifest {
  readonly format: number;
  readonly version: string;
  readonly target: Target;
  /** Hex SHA-256 of the payload. */
  readonly payloadSha256: string;
  /** The lowest installed version this bundle may be installed over. */
  readonly minFromVersion: string;
  /** The payload's length in bytes. */
  readonly size: number;
}

export interface BundleHeader {
  readonly keyId: Uint8Array;
  readonly signature: Uint8Array;
  readonly manifestBytes: Uint8Array;
  /** Where the payload starts in the bundle. */
  readonly payloadOffset: number;
}

/** What the device knows when it checks a bundle. */
export interface BundlePolicy {
  readonly trustedKeys: readonly TrustedKey[];
  /** This board's target. */
  readonly target: Target;
  /** The version installed and running now (null: unknown, e.g. a development checkout). */
  readonly installed: string | null;
  /** The highest version ever committed on this device: nothing below it is accepted. */
  readonly floor: string | null;
}

/** The target of the machine this runs on, or null when no bundle can be built for it. */
export function hostTarget(platform = process.platform, arch = process.arch): Target | null {
  const target = `${platform}-${arch}`;
  return (TARGETS as readonly string[]).includes(target) ? (target as Target) : null;
}

function signedBytes(manifestBytes: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(SIGNING_CONTEXT, 'utf8'), manifestBytes]);
}

export interface BundleContent {
  readonly version: string;
  readonly target: Target;
  readonly minFromVersion: string;
  readonly payload: Uint8Array;
}

/** Builds and signs a bundle with an Ed25519 secret key (64 bytes, tweetnacl's form). */
export function encodeBundle(content: BundleContent, secretKey: Uint8Array): Uint8Array {
  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    version: content.version,
    target: content.target,
    payloadSha256: createHash('sha256').update(content.payload).digest('hex'),
    minFromVersion: content.minFromVersion,
    size: content.payload.length,
  };
  checkManifestShape(manifest);
  const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  const pair = nacl.sign.keyPair.fromSecretKey(secretKey);
  const signature = nacl.sign.detached(signedBytes(manifestBytes), secretKey);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(manifestBytes.length);
  return Buffer.concat([
    Buffer.from(BUNDLE_MAGIC, 'ascii'),
    keyId(pair.publicKey),
    signature,
    length,
    manifestBytes,
    content.payload,
  ]);
}

/**
 * The frame in front of the payload. `head` is the bundle's first bytes (at least up to the end of
 * the manifest); `total`, when known, is the whole bundle's length. Throws bundle.truncated or
 * bundle.malformed.
 */
export function readBundleHeader(head: Uint8Array): BundleHeader {
  const bytes = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (bytes.length < BUNDLE_MAGIC.length) {
    throw new BundleError(
      'bundle.truncated',
      `the bundle ends after ${bytes.length} bytes, inside its header`,
    );
  }
  if (bytes.subarray(0, 8).toString('latin1') !== BUNDLE_MAGIC) {
    throw new BundleError(
      'bundle.malformed',
      `not a metergate update bundle (no '${BUNDLE_MAGIC}' at the start)`,
    );
  }
  if (bytes.length < HEADER_BYTES) {
    throw new BundleError(
      'bundle.truncated',
      `the bundle ends after ${bytes.length} bytes, inside its header`,
    );
  }
  const manifestLength = bytes.readUInt32BE(104);
  if (manifestLength < 2 || manifestLength > MAX_MANIFEST_BYTES) {
    throw new BundleError(
      'bundle.malformed',
      `manifest length ${manifestLength} is outside 2 … ${MAX_MANIFEST_BYTES}`,
    );
  }
  if (bytes.length < HEADER_BYTES + manifestLength) {
    throw new BundleError(
      'bundle.truncated',
      `the bundle ends after ${bytes.length} bytes, inside its manifest`,
    );
  }
  return {
    keyId: new Uint8Array(bytes.subarray(8, 40)),
    signature: new Uint8Array(bytes.subarray(40, 104)),
    manifestBytes: new Uint8Array(bytes.subarray(HEADER_BYTES, HEADER_BYTES + manifestLength)),
    payloadOffset: HEADER_BYTES + manifestLength,
  };
}

/** How many bytes of a bundle must be read before readBundleHeader can succeed (0: not known yet). */
export function headerLength(head: Uint8Array): number {
  if (head.length < HEADER_BYTES) return 0;
  return HEADER_BYTES + Buffer.from(head.buffer, head.byteOffset, head.byteLength).readUInt32BE(104);
}

function malformed(field: string, expected: string): never {
  throw new BundleError('bundle.malformed', `manifest field '${field}': expected ${expected}`);
}

function checkManifestShape(value: unknown): asserts value is BundleManifest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) malformed('(root)', 'an object');
  const m = value as Record<string, unknown>;
  if (m.format !== BUNDLE_FORMAT) {
    throw new BundleError(
      'bundle.unsupported-format',
      `manifest format ${JSON.stringify(m.format)} is not supported (this firmware reads format ${BUNDLE_FORMAT})`,
    );
  }
  if (!parseVersion(m.version)) malformed('version', 'a semantic version such as 1.2.3');
  if (!parseVersion(m.minFromVersion)) malformed('minFromVersion', 'a semantic version such as 1.0.0');
  if (!(TARGETS as readonly unknown[]).includes(m.target)) malformed('target', TARGETS.join(' or '));
  if (typeof m.payloadSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.payloadSha256)) {
    malformed('payloadSha256', '64 lowercase hex digits');
  }
  if (typeof m.size !== 'number' || !Number.isSafeInteger(m.size) || m.size < 0)
    malformed('size', 'a byte count');
}

/**
 * Checks the signed part of a bundle against the device's policy and returns its manifest. Throws
 * BundleError: unknown-key, bad-signature, malformed / unsupported-format (only for a manifest that
 * is signed by a trusted key), wrong-target, downgrade, too-old, too-large.
 */
export function checkBundleHeader(header: BundleHeader, policy: BundlePolicy): BundleManifest {
  const key = policy.trustedKeys.find((k) => Buffer.from(k.id).equals(Buffer.from(header.keyId)));
  if (!key) {
    throw new BundleError(
      'bundle.unknown-key',
      `signed by key ${Buffer.from(header.keyId).toString('hex').slice(0, 16)}…, which this device does not trust`,
    );
  }
  if (!nacl.sign.detached.verify(signedBytes(header.manifestBytes), header.signature, key.publicKey)) {
    throw new BundleError(
      'bundle.bad-signature',
      'the manifest signature does not verify with the trusted key it names',
    );
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(Buffer.from(header.manifestBytes).toString('utf8'));
  } catch {
    throw new BundleError('bundle.malformed', 'the manifest is not JSON');
  }
  checkManifestShape(manifest);
  if (manifest.target !== policy.target) {
    throw new BundleError(
      'bundle.wrong-target',
      `the bundle is for ${manifest.target}, this device is ${policy.target}`,
    );
  }
  if (policy.floor !== null && compareVersions(manifest.version, policy.floor) < 0) {
    throw new BundleError(
      'bundle.downgrade',
      `version ${manifest.version} is below ${policy.floor}, the highest version installed on this device`,
    );
  }
  if (policy.installed !== null && compareVersions(policy.installed, manifest.minFromVersion) < 0) {
    throw new BundleError(
      'bundle.too-old',
      `version ${manifest.version} installs over ${manifest.minFromVersion} or later; this device runs ${policy.installed}: install an intermediate version first`,
    );
  }
  if (manifest.size > MAX_PAYLOAD_BYTES) {
    throw new BundleError(
      'bundle.too-large',
      `the payload has ${manifest.size} bytes; at most ${MAX_PAYLOAD_BYTES}`,
    );
  }
  return manifest;
}

/** The payload's hash and length, fed chunk by chunk as it streams in, checked against the manifest. */
export class PayloadCheck {
  private readonly hash: Hash = createHash('sha256');
  private length = 0;

  constructor(private readonly manifest: BundleManifest) {}

  /** Throws bundle.malformed as soon as more bytes arrive than the manifest's size. */
  update(chunk: Uint8Array): void {
    this.length += chunk.length;
    if (this.length > this.manifest.size) {
      throw new BundleError(
        'bundle.malformed',
        `more than the ${this.manifest.size} payload bytes the manifest states`,
      );
    }
    this.hash.update(chunk);
  }

  /** At the end of the bundle: throws bundle.truncated (too short) or bundle.wrong-hash. */
  finish(): void {
    if (this.length < this.manifest.size) {
      throw new BundleError(
        'bundle.truncated',
        `the payload ends after ${this.length} of the ${this.manifest.size} bytes the manifest states`,
      );
    }
    if (this.hash.digest('hex') !== this.manifest.payloadSha256) {
      throw new BundleError(
        'bundle.wrong-hash',
        'the payload does not have the SHA-256 the signed manifest states',
      );
    }
  }
}

/** Verifies a whole bundle held in memory; returns its manifest and payload. */
export function verifyBundle(
  bundle: Uint8Array,
  policy: BundlePolicy,
): { manifest: BundleManifest; header: BundleHeader; payload: Uint8Array } {
  const header = readBundleHeader(bundle);
  const manifest = checkBundleHeader(header, policy);
  const payload = bundle.subarray(header.payloadOffset);
  const check = new PayloadCheck(manifest);
  check.update(payload);
  check.finish();
  return { manifest, header, payload };
}
