/**
 * A small seeded PRNG for fuzz tests, so a failing run can be replayed from the seed it printed, and
 * the seed itself: MODBUS_FUZZ_SEED when set, else a fresh random one.
 */

export interface Random {
  /** In [0, 1). */
  (): number;
  /** An integer in [0, below). */
  int(below: number): number;
  /** An element of `items`. */
  pick<T>(items: readonly T[]): T;
  /** `length` random bytes. */
  bytes(length: number): Uint8Array;
}

export function fuzzSeed(variable = 'MODBUS_FUZZ_SEED'): number {
  const given = process.env[variable];
  return given !== undefined && given !== '' ? Number(given) >>> 0 : Math.floor(Math.random() * 2 ** 32);
}

/** mulberry32. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (below: number) => Math.floor(next() * below);
  return Object.assign(next, {
    int,
    pick: <T>(items: readonly T[]) => items[int(items.length)] as T,
    bytes: (length: number) => Uint8Array.from({ length }, () => int(256)),
  });
}
