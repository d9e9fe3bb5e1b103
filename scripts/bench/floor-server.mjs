// The start-up floor of the bench: the same runtime with the device's two server libraries and
// nothing else — a bare hono app on @hono/node-server (HTTP) and a node:net listener (as Modbus TCP
// would be), both on port 0 of loopback. Prints `floor ready {"http":…,"tcp":…}` once both listen.
// Plain JavaScript run by plain node, like dist/device.mjs, so start-up times compare.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
app.get('/api/v1/info', (c) => c.json({ model: 'floor' }));
const http = createHttpServer(getRequestListener(app.fetch));
const tcp = createNetServer((socket) => socket.on('data', () => {}));
const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const ports = { http: await listen(http), tcp: await listen(tcp) };
process.stdout.write(`floor ready ${JSON.stringify(ports)}\n`);
process.on('SIGTERM', () => process.exit(0));
