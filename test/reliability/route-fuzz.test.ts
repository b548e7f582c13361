/**
 * No request may hold `smc serve` unbounded: extreme values in every query parameter (and
 * every :id) of every GET route, as a viewer and as an admin, against the real bundle in
 * its own process. Each must be answered 2xx/3xx/4xx within BUDGET_MS and the process must
 * live on. `to=9999-12-31` once sent the dashboard into an endless loop that ate memory
 * until the kernel killed the service (or Asterisk).
 *
 * Nothing here is a list to keep up to date: the routes come from the express router, and
 * the query parameters from what each route reads (req.query watched on a first, plain
 * request), so a route or a parameter added later is fuzzed without anyone remembering to.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { demoPbx } from '../../src/cdr/generator/pbx.js';
import { writePbxTables } from '../../src/cdr/generator/pbx-tables.js';
import type { Config } from '../../src/config/schema.js';
import { Syncer } from '../../src/sync/cycle.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { signIdentity, type Identity } from '../../src/web/identity.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { routesOf, type Route } from '../helpers/app-routes.js';
import { PastCalls } from '../helpers/past-calls.js';
import { ServeProcess, writeServeConfig } from '../helpers/serve-process.js';

/** Generous: a page answers in tens of milliseconds; only a request that never ends takes this long. */
const BUDGET_MS = 5_000;
const CONCURRENCY = 4;
/** writeServeConfig's secret: the identity the PBX glue would sign. */
const SECRET = 'reliability-secret-0123456789';

const EXTREME_VALUES = [
  '9999-12-31', '0000-00-00', '0000-01-01', '1969-12-31', '2024-02-30', '2024-13-01', '+275760-09-13', '-271821-04-20',
  '-1', '0', '-99999999999999999999', '99999999999999999999999', '1e308', '-1e308', 'NaN', 'Infinity', '0x10', '0b11', '1_000',
  '', ' ', 'x'.repeat(8_000), '9'.repeat(400), '𝕏ș中\u202e\u0000\uFEFF', "' OR 1=1 --", '../../../../etc/passwd', 'queue:' + '9'.repeat(64),
];

/** How each value goes into the query: plain, as an array, repeated (an array too), as an object, and undecodable. */
function queries(name: string): string[] {
  const n = encodeURIComponent(name);
  return [
    ...EXTREME_VALUES.map((v) => `${n}=${encodeURIComponent(v)}`),
    `${n}[]=1`, `${n}[]=2024-01-01&${n}[]=9999-12-31`, `${n}=2024-01-01&${n}=9999-12-31`, `${n}[a]=1`, `${n}=%`, `${n}=%ff%fe%00`,
  ];
}

const model = demoPbx();
let dir: string;
let db: FreshDatabases;
let serve: ServeProcess;
let socketPath: string;
let entryId: number;
/** GET route → the query parameters it read on a plain request. */
const readByRoute = new Map<string, Set<string>>();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-fuzz-'));
  db = await freshDatabases('routefuzz');
  await writePbxTables(db.pool, db.names.pbx, model);
  const config: Config = { ...db.config, sync: { ...db.config.sync, settleSeconds: 0 }, server: { ...db.config.server, secret: SECRET } };
  await new PastCalls(db.pool, db.names.cdr, model).insert('queue_missed', { caller: { number: '0722000901', name: 'Fuzz' }, did: '0215550100', attempt: 1 }, 600);
  await new Syncer(db.pool, config).cycle();
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT id FROM smart_missed_calls');
  entryId = Number(rows[0]!.id);
  await discoverParameters(config);

  socketPath = join(dir, 'fuzz.sock');
  serve = new ServeProcess(writeServeConfig({ dir, name: 'fuzz', db }));
  serve.start();
  await serve.waitFor(/web listening/, 30_000);
});

after(async () => {
  await serve?.kill();
  await db?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The same app the bundle serves, in this process: its routes, and which query parameters each reads. */
async function discoverParameters(config: Config): Promise<void> {
  const app = createApp({ pool: db.pool, config, sync: new SyncService(db.pool, config), moduleDir: repoRoot() });
  // express 5 defines req.query as a getter on the request prototype; app.request inherits it.
  const proto = Object.getPrototypeOf(app.request) as object;
  const parse = Object.getOwnPropertyDescriptor(proto, 'query')!.get!;
  let reading = new Set<string>();
  Object.defineProperty(app.request, 'query', {
    configurable: true,
    get(this: unknown) {
      return new Proxy(parse.call(this) as object, {
        get: (target, key, receiver) => {
          if (typeof key === 'string') reading.add(key);
          return Reflect.get(target, key, receiver);
        },
      });
    },
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const route of getRoutes(routesOf((app as unknown as { router: unknown }).router))) {
      reading = new Set();
      const res = await fetch(base + route.path.replace(/:id\b/g, String(entryId)), { headers: identityHeaders('admin'), redirect: 'manual' });
      await res.body?.cancel();
      assert.ok(res.status < 500, `GET ${route.path} answers a plain request (${res.status})`);
      readByRoute.set(route.path, reading);
    }
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function getRoutes(routes: Route[]): Route[] {
  return routes.filter((r) => r.method === 'GET');
}

function identityHeaders(role: Identity['role']): Record<string, string> {
  const signed = signIdentity(SECRET, { user: role === 'viewer' ? 'vera' : 'ana', tenant: 'default', role, lang: 'en', ts: Math.floor(Date.now() / 1000) });
  return { 'x-smc-identity': signed.header, 'x-smc-signature': signed.signature, accept: 'text/html,application/json' };
}

/** One GET over the service's socket: its status, or 'timeout' when no answer came within BUDGET_MS. */
function get(path: string, role: Identity['role']): Promise<number | 'timeout'> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, headers: identityHeaders(role) }, (res) => {
      clearTimeout(timer);
      // The event stream never ends by itself: its status is the answer.
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        req.destroy();
        resolve(res.statusCode ?? 0);
        return;
      }
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve('timeout');
    }, BUDGET_MS);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}

test('extreme values in every query parameter and id of every GET route: each answered in time, the service lives on', { timeout: 900_000 }, async () => {
  const paths = [...readByRoute.keys()];
  assert.ok(paths.includes('/api/dashboard') && paths.includes('/entries/:id'), `routes found: ${paths.join(', ')}`);
  assert.ok(readByRoute.get('/api/dashboard')!.has('to'), 'the dashboard is seen reading ?to=');

  const requests: string[] = [];
  for (const [path, read] of readByRoute) {
    const concrete = path.replace(/:id\b/g, String(entryId));
    for (const name of read) for (const q of queries(name)) requests.push(`${concrete}?${q}`);
    if (path.includes(':id')) for (const v of EXTREME_VALUES) requests.push(path.replace(/:id\b/g, encodeURIComponent(v) || '%20'));
  }

  const failures: string[] = [];
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < requests.length && failures.length === 0) {
      const path = requests[next++]!;
      for (const role of ['viewer', 'admin'] as const) {
        const status = await get(path, role);
        sent += 1;
        if (status === 'timeout' || status >= 500) failures.push(`${role} GET ${path.slice(0, 200)}: ${status === 'timeout' ? `no answer within ${BUDGET_MS} ms` : status}`);
        if (failures.length) return;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.deepEqual(failures, [], `after ${sent} requests`);
  assert.ok(serve.running, `the service is still running; stderr:\n${serve.stderr.slice(-2000)}`);
  assert.equal(await get('/api/health', 'viewer'), 200, 'and still answers');
  console.log(`route fuzz: ${sent} requests over ${paths.length} GET routes (${[...readByRoute.values()].reduce((n, s) => n + s.size, 0)} route parameters), every one answered within ${BUDGET_MS} ms`);
});
