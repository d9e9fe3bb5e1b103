/**
 * The bench's floor: a bare hono app on @hono/node-server over HTTP and HTTPS, with no gate, no
 * security headers and no store. It serves a fixed JSON body at GET /api/v1/measurements, and the
 * device's login protocol reduced to its crypto and its session: POST /api/v1/auth/challenge (a
 * 32-byte nonce kept for its name, the salt and iterations of the one user `bench`), POST
 * /api/v1/auth/login (the nonce consumed, one Ed25519 verify of the same protocol message with the
 * device's own functions, a session token and CSRF token from 32 random bytes each, the token's
 * SHA-256 kept in a map, a cookie). Prints `bare ready {"http":…,"https":…}` and runs until killed.
 * Usage: bare-hono-server.ts CERT KEY BODY PASSWORD
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { proofMessage } from '../../firmware/auth/auth-messages.ts';
import { fromBase64Url, toBase64Url } from '../../firmware/auth/encoding.ts';
import {
  deriveSeed,
  MIN_KDF_ITERATIONS,
  publicKeyFromSeed,
  verifySignature,
} from '../../firmware/auth/password-verifier.ts';

const [certPath, keyPath, bodyPath, password] = process.argv.slice(2) as [string, string, string, string];
const body = JSON.parse(readFileSync(bodyPath, 'utf8')) as unknown;
const USER = 'bench';
const salt = new Uint8Array(randomBytes(16));
const publicKey = publicKeyFromSeed(await deriveSeed(password, salt, MIN_KDF_ITERATIONS));
const nonces = new Map<string, string>();
const sessions = new Map<string, { csrfToken: string; createdAt: number }>();

const app = new Hono();
app.get('/api/v1/measurements', (c) => c.json(body));
app.post('/api/v1/auth/challenge', async (c) => {
  const { username } = (await c.req.json()) as { username: string };
  const nonce = toBase64Url(new Uint8Array(randomBytes(32)));
  nonces.set(nonce, username);
  return c.json({ nonce, salt: toBase64Url(salt), kdf: 'pbkdf2-sha256', iterations: MIN_KDF_ITERATIONS });
});
app.post('/api/v1/auth/login', async (c) => {
  const request = (await c.req.json()) as { username: string; nonce: string; signature: string };
  const nonce = fromBase64Url(request.nonce, 32);
  const signature = fromBase64Url(request.signature, 64);
  const issuedTo = nonces.get(request.nonce);
  nonces.delete(request.nonce);
  if (
    !nonce ||
    !signature ||
    issuedTo !== request.username ||
    request.username !== USER ||
    !verifySignature(publicKey, proofMessage('login', request.username, nonce), signature)
  )
    return c.json({ code: 'invalid-credentials' }, 401);
  const token = toBase64Url(new Uint8Array(randomBytes(32)));
  const csrfToken = toBase64Url(new Uint8Array(randomBytes(32)));
  sessions.set(createHash('sha256').update(token).digest('base64url'), { csrfToken, createdAt: Date.now() });
  setCookie(c, 'session', token, { path: '/', httpOnly: true, sameSite: 'Strict' });
  return c.json({ kind: 'session', name: USER, csrfToken });
});
const listener = getRequestListener(app.fetch);
const http = createHttpServer(listener);
const https = createHttpsServer(
  { cert: readFileSync(certPath), key: readFileSync(keyPath), minVersion: 'TLSv1.2' },
  listener,
);
const port = (server: typeof http) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
const ports = { http: await port(http), https: await port(https) };
process.stdout.write(`bare ready ${JSON.stringify(ports)}\n`);
