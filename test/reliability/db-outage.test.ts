/**
 * The database goes away mid-traffic: a private MariaDB (not the shared test server) is
 * stopped for OUTAGE seconds under a running `smc serve` and started again on the same
 * data. The service must say so in its log and on its pages, keep running, reconnect by
 * itself and catch up with the calls written meanwhile — nothing lost, nothing twice.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { loadSchemas, startMariadb, type Mariadb } from '../../tools/mariadb.mjs';
import { demoPbx } from '../../src/cdr/generator/pbx.js';
import { writePbxTables } from '../../src/cdr/generator/pbx-tables.js';
import { DEFAULT_CONFIG } from '../../src/config/schema.js';
import { migrate } from '../../src/db/migrations.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { verifyAudit } from '../../src/ledger/audit.js';
import { readAuditKey } from '../../src/ledger/audit-key.js';
import { PastCalls } from '../helpers/past-calls.js';
import { ServeProcess, eventually, sleep, writeServeConfig } from '../helpers/serve-process.js';
import { testAuditKeyFile } from '../harness/db.js';
import { signedGet } from '../helpers/signed-get.js';

const SOAK = process.env.SMC_SOAK === '1';
const OUTAGE_SECONDS = SOAK ? 120 : 30;
const SECRET = 'reliability-secret-0123456789';
const names = { cdr: 'outage_cdr', pbx: 'outage_pbx', own: 'outage_pbx' };
const model = demoPbx();

let dir: string;
let mariadb: Mariadb;
let pool: Pool;
const processes: ServeProcess[] = [];

function openPool(socket: string): Pool {
  return createPool({ ...DEFAULT_CONFIG.db, socket, user: 'root', password: '', database: names.own, cdrDatabase: names.cdr, pbxDatabase: names.pbx });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-outage-'));
  mariadb = await startMariadb({ dir: join(dir, 'mariadb') });
  await loadSchemas(mariadb.socket, { cdrDb: names.cdr, pbxDb: names.pbx });
  pool = openPool(mariadb.socket);
  await migrate(pool);
  await writePbxTables(pool, names.pbx, model);
});

after(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await pool?.end().catch(() => {});
  await mariadb?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return signedGet({ socketPath }, path, SECRET);
}

async function listed(callerKey: string): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT missed_count FROM smart_missed_calls WHERE caller_key = ?', [callerKey]);
  return rows[0] ? Number(rows[0].missed_count) : 0;
}

test(`MariaDB stopped for ${OUTAGE_SECONDS} s under smc serve: it says so, keeps serving, reconnects and catches up`, { timeout: 300_000 }, async () => {
  const socketPath = join(dir, 'outage.sock');
  const serve = new ServeProcess(writeServeConfig({ dir, name: 'outage', db: { socket: mariadb.socket, names } }));
  processes.push(serve);
  serve.start();
  const calls = new PastCalls(pool, names.cdr, model);
  const did = '0215550100';
  await calls.insert('queue_missed', { caller: { number: '0722000601', name: '' }, did, attempt: 1 }, 300);
  await eventually('the first miss to be listed', async () => (await listed('722000601')) === 1);
  assert.equal((await get(socketPath, '/api/health')).status, 200);

  await pool.end();
  await mariadb.stop();
  const stoppedAt = Date.now();
  await serve.waitFor(/database unavailable/, 30_000);
  // While it is away: the service runs and says clearly what is wrong, on the API and the page.
  const health = await get(socketPath, '/api/health');
  assert.equal(health.status, 503);
  assert.match(health.body, /database is unavailable/i);
  const page = await get(socketPath, '/entries');
  assert.equal(page.status, 503);
  assert.match(page.body, /database is unavailable/i);
  await sleep(Math.max(0, OUTAGE_SECONDS * 1000 - (Date.now() - stoppedAt)));
  assert.ok(serve.running, 'the service is still up after the outage');

  mariadb = await startMariadb({ dir: join(dir, 'mariadb') });
  const outage = (Date.now() - stoppedAt) / 1000;
  pool = openPool(mariadb.socket);
  // Calls the PBX wrote once the database was back, some of them from during the outage.
  const later = new PastCalls(pool, names.cdr, model, 3_000_000);
  await later.insert('queue_missed', { caller: { number: '0722000601', name: '' }, did, attempt: 1 }, Math.round(outage) - 5);
  await later.insert('queue_missed', { caller: { number: '0722000602', name: '' }, did, attempt: 1 }, 20);
  await serve.waitFor(/database reachable/, 60_000);
  await eventually('the calls of the outage to be listed', async () => (await listed('722000601')) === 2 && (await listed('722000602')) === 1, 60_000);
  await eventually('the page to be healthy again', async () => (await get(socketPath, '/api/health')).status === 200, 30_000);
  assert.equal((await get(socketPath, '/entries')).status, 200);

  await sleep(3000);
  assert.equal(await listed('722000601'), 2, 'nothing counted twice after reconnecting');
  const [[{ n }]] = (await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_calls')) as unknown as [[{ n: number }]];
  assert.equal(Number(n), 3);
  assert.equal((await verifyAudit(pool, readAuditKey(testAuditKeyFile()))).ok, true, 'the journal serve wrote verifies with the key it made');
  console.log(`db outage: ${outage.toFixed(0)} s without MariaDB survived; unavailable state shown on /api/health and the pages; caught up after reconnecting`);
});
