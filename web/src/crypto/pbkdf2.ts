/**
 * PBKDF2-HMAC-SHA256 with a 32-byte output: the password key of docs/auth-protocol.md §3.
 *
 * WebCrypto does it natively, but browsers offer `crypto.subtle` only in a secure context (HTTPS or
 * localhost); a device reached over plain HTTP at its IP address is not one. There this JavaScript
 * runs instead, in a Web Worker (derive-key.ts chooses): slower, but the password still never leaves
 * the browser.
 */

// First 32 bits of the fractional parts of the square (H0) and cube (K) roots of the first primes
// (FIPS 180-4 §4.2.2 and §5.3.3), computed rather than listed.
const PRIMES: number[] = [];
for (let n = 2; PRIMES.length < 64; n++) if (PRIMES.every((p) => n % p)) PRIMES.push(n);
const frac = (x: number) => ((x - Math.floor(x)) * 2 ** 32) | 0;
const K = new Int32Array(PRIMES.map((p) => frac(Math.cbrt(p))));
const H0 = new Int32Array(PRIMES.slice(0, 8).map((p) => frac(Math.sqrt(p))));

/**
 * One SHA-256 compression of the block already in `w[0..15]` (the rest of `w` is the message
 * schedule), from state `s` into `out` (which may be `s`). No allocation: the loop of 1.2 million of
 * these per login is what this file is about.
 */
function compress(w: Int32Array, s: Int32Array, out: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15] as number;
    const y = w[i - 2] as number;
    w[i] =
      ((w[i - 16] as number) +
        (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
        (w[i - 7] as number) +
        (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) |
      0;
  }
  let a = s[0] as number;
  let b = s[1] as number;
  let c = s[2] as number;
  let d = s[3] as number;
  let e = s[4] as number;
  let f = s[5] as number;
  let g = s[6] as number;
  let h = s[7] as number;
  for (let i = 0; i < 64; i++) {
    const t1 =
      (h +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) +
        (K[i] as number) +
        (w[i] as number)) |
      0;
    const t2 =
      ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c))) |
      0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[0] = ((s[0] as number) + a) | 0;
  out[1] = ((s[1] as number) + b) | 0;
  out[2] = ((s[2] as number) + c) | 0;
  out[3] = ((s[3] as number) + d) | 0;
  out[4] = ((s[4] as number) + e) | 0;
  out[5] = ((s[5] as number) + f) | 0;
  out[6] = ((s[6] as number) + g) | 0;
  out[7] = ((s[7] as number) + h) | 0;
}

/** SHA-256 of `data` into a new state, continuing from `start` after `prefix` bytes (whole blocks). */
function sha256(data: Uint8Array, start: Int32Array = H0, prefix = 0): Int32Array {
  const padded = new Uint8Array((data.length + 72) & ~63);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 4, (prefix + data.length) * 8);
  const s = new Int32Array(start);
  const w = new Int32Array(64);
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getInt32(offset + 4 * i);
    compress(w, s, s);
  }
  return s;
}

const bytesOf = (s: Int32Array): Uint8Array => {
  const out = new DataView(new ArrayBuffer(32));
  for (let i = 0; i < 8; i++) out.setInt32(4 * i, s[i] as number);
  return new Uint8Array(out.buffer);
};

/**
 * PBKDF2-HMAC-SHA256(password, salt, iterations), 32 bytes, in JavaScript. `progress(done)` is called
 * every `every` iterations (default 20,000) with the iterations done so far.
 */
export function pbkdf2Sha256Js(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  progress?: (done: number) => void,
  every = 20_000,
): Uint8Array {
  const key = password.length > 64 ? bytesOf(sha256(password)) : password;
  // HMAC's inner and outer hashes start from the state after the padded key: computed once.
  const w = new Int32Array(64);
  const [inner, outer] = [0x36, 0x5c].map((pad) => {
    for (let i = 0; i < 16; i++) {
      let word = 0;
      for (let j = 0; j < 4; j++) word = (word << 8) | ((key[4 * i + j] ?? 0) ^ pad);
      w[i] = word;
    }
    const state = new Int32Array(8);
    compress(w, H0, state);
    return state;
  }) as [Int32Array, Int32Array];
  const first = new Uint8Array(salt.length + 4);
  first.set(salt);
  first[salt.length + 3] = 1;
  // U1 = HMAC(salt || INT(1)); every later U is the HMAC of a 32-byte message, whose padded block is
  // fixed but for its first 8 words: 0x80 after the message, the length (64 + 32 bytes) at the end.
  const u = sha256(bytesOf(sha256(first, inner, 64)), outer, 64);
  const t = new Int32Array(u);
  const h = new Int32Array(8);
  for (let n = 1; n < iterations; n++) {
    w.set(u);
    w.fill(0, 8, 16);
    w[8] = 0x80000000 | 0;
    w[15] = 768;
    compress(w, inner, h);
    w.set(h);
    w.fill(0, 8, 16);
    w[8] = 0x80000000 | 0;
    w[15] = 768;
    compress(w, outer, u);
    for (let i = 0; i < 8; i++) t[i] = (t[i] as number) ^ (u[i] as number);
    if (progress && (n + 1) % every === 0) progress(n + 1);
  }
  return bytesOf(t);
}
