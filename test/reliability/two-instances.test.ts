/**
 * Two `smc serve` against one database: exactly one syncs (the MariaDB named lock), the
 * other stands by, and takes over when the first is killed — nothing counted twice,
 * nothing lost across the handover.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { demoPbx } from '../../src/cdr/generator/pbx.js';
import { writePbxTables } from '../../src/cdr/generator/pbx-tables.js';
import { verifyAudit } from '../../src/ledger/audit.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { PastCalls } from '../helpers/past-calls.js';
import { ServeProcess, eventually, writeServeConfig } from '../helpers/serve-process.js';

const model = demoPbx();
let dir: string;
let db: FreshDatabases;
const processes: ServeProcess[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-two-'));
  db = await freshDatabases('two');
  await writePbxTables(db.pool, db.names.pbx, model);
});

after(async () => {
  await Promise.all(processes.map((p) => p.kill()));
  await db?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const SYNCS = /took the sync lock: this instance syncs/g;
const STANDS_BY = /another instance holds the sync lock: standing by/g;
const count = (p: ServeProcess, re: RegExp) => (p.stderr.match(re) ?? []).length;

let ago = 600;
function missedCall(caller: string): Promise<string> {
  ago -= 60;
  return new PastCalls(db.pool, db.names.cdr, model, 2_000_000 + ago * 100).insert('queue_missed', { caller: { number: caller, name: '' }, did: '0215550100', attempt: 1 }, ago);
}

async function entry(callerKey: string): Promise<{ missed_count: number; total_missed: number } | undefined> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT missed_count, total_missed FROM smart_missed_calls WHERE caller_key = ?', [callerKey]);
  return rows[0] as { missed_count: number; total_missed: number } | undefined;
}

test('two instances on one database: one syncs, the other takes over when it is killed, nothing counted twice', { timeout: 180_000 }, async () => {
  const [first, second] = ['one', 'two'].map((name) => new ServeProcess(writeServeConfig({ dir, name, db })));
  processes.push(first!, second!);
  first!.start();
  second!.start();
  await eventually('one instance to take the sync lock', async () => count(first!, SYNCS) + count(second!, SYNCS) === 1, 60_000);
  const active = count(first!, SYNCS) === 1 ? first! : second!;
  const standby = active === first ? second! : first!;
  await standby.waitFor(STANDS_BY, 30_000);

  const one = await missedCall('0722000501');
  await eventually('the missed call to be listed', async () => (await entry('722000501'))?.missed_count === 1, 60_000);
  assert.equal(count(standby, SYNCS), 0, 'the standby never synced');

  await active.kill('SIGKILL');
  const killedAt = Date.now();
  await eventually('the standby to take over', async () => count(standby, SYNCS) === 1, 60_000);
  const takeover = (Date.now() - killedAt) / 1000;

  // The same caller again, and a new one: counted once each by the instance that took over.
  const two = await missedCall('0722000501');
  const three = await missedCall('0722000502');
  await eventually('the calls after the handover to be listed', async () => (await entry('722000501'))?.missed_count === 2 && (await entry('722000502'))?.missed_count === 1, 60_000);

  // The killed one comes back: it stands by, the list does not move.
  active.start();
  await eventually('the restarted instance to stand by', async () => count(active, STANDS_BY) >= 2 || (count(active, STANDS_BY) === 1 && count(active, SYNCS) === 1), 60_000);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal((await entry('722000501'))?.missed_count, 2);
  assert.equal((await entry('722000501'))?.total_missed, 2);
  const [calls] = await db.pool.query<RowDataPacket[]>('SELECT linkedid FROM smart_missed_calls_calls WHERE linkedid IN (?)', [[one, two, three]]);
  assert.equal(calls.length, 3);
  const [created] = await db.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM smart_missed_calls_audit WHERE event IN ('created', 'incremented')");
  assert.equal(Number(created[0]!.n), 3, 'three misses journalled, once each');
  assert.equal((await verifyAudit(db.pool, db.auditKey)).ok, true);
  console.log(`two instances: the standby took over ${takeover.toFixed(1)} s after the syncing one was killed`);
});
