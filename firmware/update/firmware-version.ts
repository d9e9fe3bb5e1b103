/**
 * Firmware version numbers as bundles carry them: semantic versions (MAJOR.MINOR.PATCH with an
 * optional pre-release, build metadata ignored), parsed strictly and ordered as semver.org §11 orders
 * them, so "below the installed version" means the same thing on the workstation and on the device.
 */

const VERSION =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;

export interface FirmwareVersion {
  readonly core: readonly [number, number, number];
  /** Dot-separated pre-release identifiers; empty for a release. */
  readonly pre: readonly string[];
}

/** The version, or null when `text` is not a semantic version (at most 64 characters). */
export function parseVersion(text: unknown): FirmwareVersion | null {
  if (typeof text !== 'string' || text.length > 64) return null;
  const match = VERSION.exec(text);
  if (!match) return null;
  const core = [Number(match[1]), Number(match[2]), Number(match[3])] as const;
  if (!core.every(Number.isSafeInteger)) return null;
  return { core, pre: match[4] ? match[4].split('.') : [] };
}

function comparePre(a: readonly string[], b: readonly string[]): number {
  // A release ranks above every pre-release of the same core.
  if (a.length === 0 || b.length === 0) return Math.sign(b.length - a.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    if (x === y) continue;
    const xNum = /^\d+$/.test(x);
    const yNum = /^\d+$/.test(y);
    if (xNum && yNum) return Number(x) < Number(y) ? -1 : 1;
    if (xNum !== yNum) return xNum ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return Math.sign(a.length - b.length);
}

/** Negative when a < b, 0 when equal in precedence, positive when a > b. Throws on a non-version. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) throw new Error(`not a semantic version: '${x ? b : a}'`);
  for (let i = 0; i < 3; i++) {
    const diff = (x.core[i] as number) - (y.core[i] as number);
    if (diff !== 0) return Math.sign(diff);
  }
  return comparePre(x.pre, y.pre);
}

/** The higher of two versions (the first on a tie); null stands for "none yet". */
export function higherVersion(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareVersions(a, b) >= 0 ? a : b;
}
