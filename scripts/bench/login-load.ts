/**
 * The bench's login load, in its own process: `connections` keep-alive connections each logging in
 * as `username` over and over (POST /api/v1/auth/challenge, then /api/v1/auth/login with the
 * signature), for `seconds` after a 200 ms warm-up. The key is derived once (the first challenge's
 * salt and iterations): what is measured is the server's side, two round trips, one Ed25519 verify
 * and one session each. Prints one JSON line: logins per second, p50/p99 of a whole login in ms, errors.
 * Usage: node --import tsx login-load.ts BASE_URL USERNAME PASSWORD CONNECTIONS SECONDS (BENCH_CA: a PEM)
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { proofMessage } from '../../firmware/auth/auth-messages.ts';
import { fromBase64Url, toBase64Url } from '../../firmware/auth/encoding.ts';
import { deriveSeed, signWithSeed } from '../../firmware/auth/password-verifier.ts';

const [base, username, password, connections, seconds] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const secure = base.startsWith('https:');
const ca = process.env.BENCH_CA ? readFileSync(process.env.BENCH_CA, 'utf8') : undefined;
const agent = secure
  ? new HttpsAgent({ keepAlive: true, maxSockets: Number(connections), ca })
  : new HttpAgent({ keepAlive: true, maxSockets: Number(connections) });
const send = secure ? httpsRequest : httpRequest;

function post(path: string, payload: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const text = JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = send(
      new URL(path, base),
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        let answer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          answer += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(answer || '{}') }));
      },
    );
    req.once('error', reject);
    req.end(text);
  });
}

let seed: Uint8Array | null = null;
async function login(): Promise<boolean> {
  const challenge = await post('/api/v1/auth/challenge', { username });
  const nonce = fromBase64Url(challenge.body.nonce, 32);
  if (challenge.status !== 200 || !nonce) return false;
  seed ??= await deriveSeed(
    password,
    fromBase64Url(challenge.body.salt) as Uint8Array,
    challenge.body.iterations as number,
  );
  const signature = signWithSeed(seed, proofMessage('login', username, nonce));
  const answer = await post('/api/v1/auth/login', {
    username,
    nonce: toBase64Url(nonce),
    signature: toBase64Url(signature),
  });
  return answer.status === 200;
}

await login(); // the key derivation, outside the measured time
const measureFrom = performance.now() + 200;
const deadline = measureFrom + Number(seconds) * 1000;
const latencies: number[] = [];
let errors = 0;
await Promise.all(
  Array.from({ length: Number(connections) }, async () => {
    while (performance.now() < deadline) {
      const started = performance.now();
      const ok = await login().catch(() => false);
      if (started < measureFrom) continue;
      if (ok) latencies.push(performance.now() - started);
      else errors++;
    }
  }),
);
agent.destroy();
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? Number.NaN;
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, errors, perSecond: latencies.length / Number(seconds), p50Ms: at(0.5), p99Ms: at(0.99) })}\n`,
);
