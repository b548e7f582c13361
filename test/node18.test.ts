import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { stringify } from 'yaml';
import { fixturesDir, freshDatabases, insertCdrRows, loadFixtureCdr, repoRoot, type FreshDatabases } from './harness/db.js';
import { checkEntries } from './helpers/lab-labels.js';
import { entryFromRow } from '../src/ledger/store.js';

// FreePBX 17 runs Debian 12's Node 18.20.4: build/smc.js must work there, not only on the
// Node that builds it. CI fetches that Node (tools/node18.mjs); a developer machine without
// it skips, CI never does.
const node18 = process.env.SMC_NODE18;
const skip = !node18 && !process.env.CI ? 'Debian Node 18 not fetched (node tools/node18.mjs)' : false;

let db: FreshDatabases;
let configFile: string;
before(async () => {
  if (skip) return;
  assert.ok(node18, 'CI must provide Debian Node 18 (SMC_NODE18, from tools/node18.mjs)');
  db = await freshDatabases('node18');
  configFile = join(mkdtempSync(join(tmpdir(), 'smc-n18-')), 'config.yaml');
  writeFileSync(configFile, stringify({ db: { socket: db.config.db.socket, user: 'root', database: db.names.own, cdr_database: db.names.cdr, pbx_database: db.names.pbx } }));
});
after(async () => {
  await db?.cleanup();
});

const run = (...args: string[]) => execFileSync(node18!, [join(repoRoot(), 'build', 'smc.js'), ...args], { encoding: 'utf8' });

test('the bundle runs on Debian 12 Node 18: explain, migrate, backfill', { skip }, async () => {
  assert.match(run('--version').trim() || run('--help'), /./);
  const entries = run('explain', '--cdr-file', join(fixturesDir(), 'public', 'cdr.tsv'), '--entries', '--json').trim().split('\n').map((l) => JSON.parse(l));
  checkEntries(entries);
  assert.match(run('--config', configFile, 'migrate'), /./);
  await insertCdrRows(db.pool, db.names.cdr, loadFixtureCdr());
  assert.match(run('--config', configFile, 'backfill', '--since', '2026-11-26', '--until', '2026-11-27'), /34 calls classified/);
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls');
  checkEntries(rows.map(entryFromRow));
});
