/**
 * PBKDF2-HMAC-SHA256 with a 32-byte output: the password key of docs/auth-protocol.md §3.
 *
 * WebCrypto does it natively, but browsers offer `crypto.subtle` only in a secure context (HTTPS or
 * localhost); a device reached over plain HTTP at its IP address is not one. There the same function
 * runs in JavaScript: slower, but the password still never leaves the browser.
 */

// First 32 bits of the fractional parts of the square (H0) and cube (K) roots of the first primes
// (FIPS 180-4 §4.2.2 and §5.3.3), computed rather than listed.
const PRIMES: number[] = [];
for (let n = 2; PRIMES.length < 64; n++) if (PRIMES.every((p) => n % p)) PRIMES.push(n);
const frac = (x: number) => ((x - Math.floor(x)) * 2 ** 32) | 0;
const K = PRIMES.map((p) => frac(Math.cbrt(p)));
const H0 = new Int32Array(PRIMES.slice(0, 8).map((p) => frac(Math.sqrt(p))));
const w = new Int32Array(64);
const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));

/** One SHA-256 compression of the 64-byte block at `offset` into the state `s`. */
function compress(s: Int32Array, view: DataView, offset: number): void {
  for (let i = 0; i < 64; i++) {
    const x = w[i - 15] as number;
    const y = w[i - 2] as number;
    w[i] =
      i < 16
        ? view.getInt32(offset + 4 * i)
        : ((w[i - 16] as number) +
            (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) +
            (w[i - 7] as number) +
            (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10))) |
          0;
  }
  let [a, b, c, d, e, f, g, h] = s as unknown as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  for (let i = 0; i < 64; i++) {
    const t1 =
      (h +
        (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
        ((e & f) ^ (~e & g)) +
        (K[i] as number) +
        (w[i] as number)) |
      0;
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  [a, b, c, d, e, f, g, h].forEach((v, i) => {
    s[i] = ((s[i] as number) + v) | 0;
  });
}

/** SHA-256 of `data`, continuing from state `start` after `prefix` bytes (whole blocks) were hashed. */
function sha256(data: Uint8Array, start: Int32Array = H0, prefix = 0): Uint8Array {
  const padded = new Uint8Array((data.length + 72) & ~63);
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 4, (prefix + data.length) * 8);
  const s = new Int32Array(start);
  for (let offset = 0; offset < padded.length; offset += 64) compress(s, view, offset);
  const out = new DataView(new ArrayBuffer(32));
  for (let i = 0; i < 8; i++) out.setInt32(4 * i, s[i] as number);
  return new Uint8Array(out.buffer);
}

/** PBKDF2-HMAC-SHA256(password, salt, iterations), 32 bytes, in JavaScript. */
export function pbkdf2Sha256Js(password: Uint8Array, salt: Uint8Array, iterations: number): Uint8Array {
  const key = password.length > 64 ? sha256(password) : password;
  // HMAC's inner and outer hashes start from the state after the padded key: computed once.
  const [inner, outer] = [0x36, 0x5c].map((pad) => {
    const s = new Int32Array(H0);
    compress(s, new DataView(new Uint8Array(64).map((_, i) => (key[i] ?? 0) ^ pad).buffer), 0);
    return s;
  }) as [Int32Array, Int32Array];
  const hmac = (message: Uint8Array) => sha256(sha256(message, inner, 64), outer, 64);
  const first = new Uint8Array(salt.length + 4);
  first.set(salt);
  first[salt.length + 3] = 1;
  let u = hmac(first);
  const t = u.slice();
  for (let n = 1; n < iterations; n++) {
    u = hmac(u);
    for (let i = 0; i < 32; i++) t[i] = (t[i] as number) ^ (u[i] as number);
  }
  return t;
}

/** The 32-byte seed of docs/auth-protocol.md §3, natively where the browser allows it. */
export async function pbkdf2Sha256(
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return pbkdf2Sha256Js(password, salt, iterations);
  const key = await subtle.importKey('raw', new Uint8Array(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(salt), iterations },
    key,
    256,
  );
  return new Uint8Array(bits);
}
