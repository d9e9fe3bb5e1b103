/**
 * The bench's floor: a bare hono app on @hono/node-server serving a fixed JSON body over HTTP and
 * HTTPS (the device's own certificate), with no gate, no security headers and no store. Prints
 * `bare ready {"http":…,"https":…}` and runs until killed.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';

const [certPath, keyPath, bodyPath] = process.argv.slice(2) as [string, string, string];
const body = JSON.parse(readFileSync(bodyPath, 'utf8')) as unknown;
const app = new Hono();
app.get('/api/v1/measurements', (c) => c.json(body));
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
