import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { naiveDatetime, naiveSeconds } from '../../src/cdr/row.js';
import type { Config } from '../../src/config/schema.js';
import { SyncService } from '../../src/sync/service.js';
import { createApp } from '../../src/web/app.js';
import { signIdentity } from '../../src/web/identity.js';
import { freshDatabases, insertCdrRows, repoRoot, type FreshDatabases } from '../harness/db.js';
import { failoverOnlyRow, labConfigTables, writeConfigTables } from '../helpers/pbx-config.js';
import { eventually } from '../helpers/serve-process.js';
import { listenOnLoopback } from '../helpers/listen.js';

// The live path of the route from the PBX's configuration: the lab's provisioned routes in the
// PBX's `asterisk` tables, an S03-shaped call (its caller row names only voicemail 104) in its
// cdr table, the running sync service, and the entry page and list a viewer sees.

const SECRET = 'route-test-secret-0123456789abcdef';
let db: FreshDatabases;
let sync: SyncService;
let server: Server;
let base: string;

before(async () => {
  db = await freshDatabases('routes');
  await writeConfigTables(db.pool, db.names.pbx, labConfigTables());
  const config: Config = {
    ...db.config,
    sync: { ...db.config.sync, intervalSeconds: 1, settleSeconds: 1 },
    server: { ...db.config.server, secret: SECRET },
  };
  const [[{ now }]] = (await db.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  const row = failoverOnlyRow('voicemail');
  await insertCdrRows(db.pool, db.names.cdr, [{ ...row, calldate: naiveDatetime(naiveSeconds(String(now)) - 120) }]);
  sync = new SyncService(db.pool, config);
  sync.start();
  ({ server, base } = await listenOnLoopback(createApp({ pool: db.pool, config, sync, moduleDir: repoRoot() })));
});

after(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await sync?.stop();
  await db?.cleanup();
});

async function page(path: string): Promise<string> {
  const id = signIdentity(SECRET, { user: 'ana', tenant: 'default', role: 'admin', lang: 'en', ts: Math.floor(Date.now() / 1000) });
  const res = await fetch(`${base}${path}`, { headers: { 'x-smc-identity': id.header, 'x-smc-signature': id.signature } });
  assert.equal(res.status, 200, path);
  return res.text();
}

test('the live sync attributes the failover-only call to queue 400 with its 20 s wait, and the pages show that route', async () => {
  await eventually('the call is classified', async () => {
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls WHERE did = ?', ['5551000']);
    return Number(rows[0]!.n) > 0;
  });
  const [[call]] = (await db.pool.query<RowDataPacket[]>(
    'SELECT verdict, route_kind, route_id, wait_s, reasons FROM smart_missed_calls_calls WHERE linkedid = ?', ['1796243743.57'],
  )) as unknown as [[{ verdict: string; route_kind: string; route_id: string; wait_s: number; reasons: string }]];
  assert.deepEqual([call.verdict, call.route_kind, call.route_id, Number(call.wait_s)], ['missed', 'queue', '400', 20]);
  assert.deepEqual(JSON.parse(call.reasons), ['route_from_config', 'voicemail', 'queue_failover']);
  const [[entry]] = (await db.pool.query<RowDataPacket[]>('SELECT id, route_kind, route_id FROM smart_missed_calls WHERE did = ?', ['5551000'])) as unknown as [[{ id: number; route_kind: string; route_id: string }]];
  assert.deepEqual([entry.route_kind, entry.route_id], ['queue', '400']);

  const list = await page('/entries?status=all');
  assert.match(list, /<td>Queue 400 \(Sales\)<\/td>/, 'the list\'s route column');
  const detail = await page(`/entries/${entry.id}`);
  assert.match(detail, /<th>Route<\/th><td>Queue 400 \(Sales\)<\/td>/);
  assert.ok(detail.includes('Route from the PBX&#39;s configuration: DID 5551000 → queue 400 Sales → failover voicemail 104 Dave.'), 'the attempt explains the route');
  assert.ok(detail.includes('Waited 20 s in the queue until the PBX sent the caller on; no phone rang.'));
});
