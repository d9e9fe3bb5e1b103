/**
 * The device factory (firmware/boot/device-factory.ts) builds the whole device from parts held in
 * memory: a flash, a key provider, a counter and a TLS file store that are arrays and maps, a clock
 * the test sets. While it builds and serves, every way node has to open a file or a socket is watched
 * (node:fs, node:net, node:tls, node:dgram, node:http, node:https, node:child_process): none may be
 * used. The device then answers REST through the app's `fetch`, Modbus through its gate, and draws
 * its display, which is what the boot's listeners and the fixtures rely on.
 */
import assert from 'node:assert/strict';
import childProcess from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import net, { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { MIN_KDF_ITERATIONS } from '../../../firmware/auth/password-verifier.ts';
import { buildDevice, type DeviceFiles, type DeviceGraph } from '../../../firmware/boot/device-factory.ts';
import { DEFAULT_SCREEN_SIZE } from '../../../firmware/display/screen-renderer.ts';
import { loadWebSite } from '../../../firmware/http/web-site.ts';
import { ROOT_KEY_BYTES } from '../../../firmware/keys/key-provider.ts';
import type { Flash } from '../../../firmware/store/flash.ts';
import { MIN_BLOCK_COUNT, REQUIRED_BLOCK_SIZE } from '../../../firmware/store/flash-layout.ts';
import { SimMeter } from '../../../sim/sim-meter.ts';

const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);

/** A NOR flash in an array: erase sets 0xFF, program ANDs. */
function memoryFlash(): Flash {
  const bytes = new Uint8Array(REQUIRED_BLOCK_SIZE * MIN_BLOCK_COUNT).fill(0xff);
  const at = (block: number, offset: number) => block * REQUIRED_BLOCK_SIZE + offset;
  return {
    blockSize: REQUIRED_BLOCK_SIZE,
    blockCount: MIN_BLOCK_COUNT,
    read: (block, offset, length) => bytes.slice(at(block, offset), at(block, offset) + length),
    erase: (block) => void bytes.fill(0xff, at(block, 0), at(block + 1, 0)),
    program: (block, offset, data) => {
      const start = at(block, offset);
      for (const [i, byte] of data.entries()) bytes[start + i] = (bytes[start + i] as number) & byte;
    },
    sync: () => {},
    syncSoon: () => {},
    close: () => {},
  };
}

function memoryFiles(): DeviceFiles & { readonly names: () => string[] } {
  const files = new Map<string, Buffer>();
  return {
    read: (name) => files.get(name) ?? null,
    write: (changes) => {
      for (const [name, data] of Object.entries(changes)) {
        if (data === null) files.delete(name);
        else files.set(name, Buffer.from(data));
      }
    },
    refused: () => [],
    refusals: () => new Map(),
    names: () => [...files.keys()],
  };
}

/** Replaces every function of `module` named in `names` by one that records the call and throws. */
function forbid(calls: string[], label: string, module: object, names: readonly string[]): () => void {
  const target = module as Record<string, unknown>;
  const saved = names.map((name) => [name, target[name]] as const);
  for (const name of names) {
    target[name] = (...args: unknown[]) => {
      calls.push(`${label}.${name}(${String(args[0]).slice(0, 60)})`);
      throw new Error(`the device factory called ${label}.${name}(${String(args[0]).slice(0, 60)})`);
    };
  }
  return () => {
    for (const [name, original] of saved) target[name] = original;
  };
}

const FS_CALLS = [
  'open',
  'openSync',
  'readFile',
  'readFileSync',
  'writeFile',
  'writeFileSync',
  'appendFileSync',
  'mkdirSync',
  'readdirSync',
  'renameSync',
  'rmSync',
  'unlinkSync',
  'statSync',
  'existsSync',
  'createReadStream',
  'createWriteStream',
] as const;

/** An HTTP request as @hono/node-server hands it to `app.fetch`: the node socket and response. */
function fetchEnv() {
  const headers = new Map<string, string>();
  return {
    incoming: { socket: { remoteAddress: '127.0.0.1', localAddress: '127.0.0.1', encrypted: false } },
    outgoing: { setHeader: (name: string, value: string) => void headers.set(name.toLowerCase(), value) },
    headers,
  };
}

interface InfoBody {
  serialNumber: string;
  https: { enabled: boolean; port: number | null };
  modbus: { tcpPort: number | null };
}

describe('buildDevice: the whole device from parts in memory', () => {
  const calls: string[] = [];
  const restores: (() => void)[] = [];
  const logs: string[] = [];
  const files = memoryFiles();
  const keys = { root: null as Uint8Array | null, counter: null as number | null };
  let graph: DeviceGraph;
  /** A GET as the HTTP listener would hand it to the app, with `host` as the Host header. */
  const get = (host: string, path: string, env = fetchEnv()) =>
    graph.app.fetch(new Request(`http://127.0.0.1${path}`, { headers: { host } }), env);

  before(async () => {
    // Loading code reads files: the certificate library the factory loads on first use is loaded first.
    await import('reflect-metadata');
    await import('@peculiar/x509');
    restores.push(
      forbid(calls, 'fs', fs, FS_CALLS),
      forbid(calls, 'net', net, ['createServer', 'connect', 'createConnection']),
      forbid(calls, 'tls', tls, ['createServer', 'connect']),
      forbid(calls, 'dgram', dgram, ['createSocket']),
      forbid(calls, 'http', http, ['createServer', 'request', 'get']),
      forbid(calls, 'https', https, ['createServer', 'request', 'get']),
      forbid(calls, 'child_process', childProcess, ['spawn', 'exec', 'execFile', 'fork', 'spawnSync']),
    );
    syncBuiltinESMExports();
    const built = await buildDevice({
      flash: memoryFlash(),
      keys: {
        description: 'memory',
        loadRootKey: () => keys.root,
        createRootKey: () => {
          keys.root = new Uint8Array(ROOT_KEY_BYTES).fill(7);
          return keys.root;
        },
        destroyRootKey: () => {
          keys.root = null;
        },
      },
      counter: {
        read: () => keys.counter,
        advance: (value) => {
          keys.counter = Math.max(keys.counter ?? 0, value);
        },
        reset: () => {
          keys.counter = null;
        },
      },
      now: () => NOW,
      log: (message) => logs.push(message),
      meter: () => new SimMeter(NOW),
      tlsFiles: () => files,
      serialNumber: 'MG12345678',
      host: '127.0.0.1',
      display: { size: DEFAULT_SCREEN_SIZE },
      kdfIterations: MIN_KDF_ITERATIONS,
    });
    assert.equal(built.mode, 'normal', 'a blank flash boots as a new device');
    graph = built as DeviceGraph;
  });

  after(async () => {
    for (const restore of restores) restore();
    syncBuiltinESMExports();
    await graph?.close();
  });

  it('opened no file and no socket, and started no process, while building', () => {
    assert.deepEqual(calls, []);
    assert.ok(
      logs.some((line) => line.startsWith('first boot')),
      `the store was formatted: ${logs.join('; ')}`,
    );
    assert.deepEqual(files.names().sort(), ['cert.pem', 'key.sealed'], 'the certificate went to the part');
  });

  it('the watch sees what firmware code opens through its named imports (the test is not vacuous)', () => {
    assert.throws(() => loadWebSite('/nonexistent-web'), /the device factory called fs\.existsSync/);
    assert.throws(() => createServer(), /the device factory called net\.createServer/);
    assert.deepEqual(calls.splice(0), [
      'fs.existsSync(/nonexistent-web/index.html)',
      'net.createServer(undefined)',
    ]);
  });

  it('answers REST through the app: public info, and measurements for the anonymous user', async () => {
    const env = fetchEnv();
    const info = await get('127.0.0.1', '/api/v1/info', env);
    assert.equal(info.status, 200);
    assert.equal(((await info.json()) as InfoBody).serialNumber, 'MG12345678');
    assert.equal(env.headers.get('cache-control'), 'no-store', 'the security headers ran');
    const measured = await get('127.0.0.1', '/api/v1/measurements');
    assert.equal(measured.status, 200, await measured.clone().text());
    const foreign = await get('rebound.example', '/api/v1/info');
    assert.equal(foreign.status, 421, 'a foreign Host is refused (DNS rebinding)');
    assert.deepEqual(calls, []);
  });

  it('serves Modbus through its gate as the configured slot, and draws its display', () => {
    const access = graph.modbus.slotAccess('modbusPrincipal', 'modbus-tcp', '127.0.0.1');
    const answer = graph.modbus.handle(Uint8Array.of(0x04, 0, 0, 0, 2), access);
    assert.equal(answer[0], 0x04, `a normal FC4 answer: ${Buffer.from(answer).toString('hex')}`);
    assert.equal(answer[1], 4);
    const screen = graph.display.render().join('\n');
    assert.ok(screen.trim().length > 0, 'the display draws a screen');
    assert.deepEqual(calls, []);
  });

  it('REST info shows the ports the listeners announce, none before', async () => {
    const info = async () => (await (await get('127.0.0.1', '/api/v1/info')).json()) as InfoBody;
    assert.deepEqual((await info()).https, { enabled: false, port: null });
    graph.ports.announce({ https: 8443 });
    graph.ports.announce({ modbusTcp: 5020, modbusTls: null });
    const announced = await info();
    assert.deepEqual(announced.https, { enabled: true, port: 8443 });
    assert.equal(announced.modbus.tcpPort, 5020);
  });
});
