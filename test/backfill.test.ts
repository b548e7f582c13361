import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { stringify } from 'yaml';
import { ident } from '../src/db/pool.js';
import { freshDatabases, insertCdrRows, loadFixtureCdr, repoRoot, type FreshDatabases } from './harness/db.js';
import { checkEntries } from './helpers/lab-labels.js';
import { entryFromRow } from '../src/ledger/store.js';

let db: FreshDatabases;
let configFile: string;
before(async () => {
  db = await freshDatabases('backfill');
  configFile = join(mkdtempSync(join(tmpdir(), 'smc-cfg-')), 'config.yaml');
  writeFileSync(
    configFile,
    stringify({
      db: {
        socket: db.config.db.socket, user: db.config.db.user, password: '', database: db.names.own,
        cdr_database: db.names.cdr, pbx_database: db.names.pbx,
      },
    }),
  );
});
after(async () => {
  await db.cleanup();
});

const smc = (...args: string[]) =>
  execFileSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), '--config', configFile, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('`smc backfill` classifies history, resumes, and `smc status` shows it with the bad rows it skipped', async () => {
  // The lab as it happened (2026-11-26 06:14), plus rows a broken backend could write.
  await insertCdrRows(db.pool, db.names.cdr, loadFixtureCdr());
  const cdr = `${ident(db.names.cdr)}.cdr`;
  await db.pool.query(`INSERT INTO ${cdr} (calldate, src, linkedid, uniqueid) VALUES ('2026-11-26 06:15:00', '0722', '', '')`);
  await db.pool.query(`INSERT INTO ${cdr} (calldate, src, linkedid, uniqueid) VALUES ('0000-00-00 00:00:00', '0722', '9.9', '9.9')`);
  const out = smc('backfill', '--since', '2026-11-26', '--until', '2026-11-26 07:00:00');
  assert.match(out, /backfill done: 223 rows, 34 calls classified/);
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls ORDER BY id');
  checkEntries(rows.map(entryFromRow));

  const [[outbox]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_outbox')) as unknown as [[{ n: number }]];
  assert.equal(Number(outbox.n), 0, 'history is journalled but nobody is mailed about misses days old');
  const [[journal]] = (await db.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM smart_missed_calls_audit WHERE event = 'created'")) as unknown as [[{ n: number }]];
  assert.equal(Number(journal.n), rows.length, 'every entry created by the backfill is in the journal');

  const again = smc('backfill', '--since', '2026-11-26', '--until', '2026-11-26 07:00:00');
  assert.match(again, /backfill done: 0 rows, 0 calls/, 'a finished backfill resumes at its end');

  const status = JSON.parse(smc('status', '--json'));
  assert.equal(status.calls, 34);
  assert.equal(status.openEntries, rows.filter((r) => r.status === 'open').length);
  assert.deepEqual(status.badRowsBackfill, [{ reason: 'empty linkedid and uniqueid', count: 1 }]);
  assert.match(smc('status'), /skipped bad rows 1 — 1 empty linkedid and uniqueid/);
});

test('`smc entries`, `smc audit verify` and `smc forget` work on the backfilled list', async () => {
  const list = smc('entries', 'list', '--status', 'all', '--json').trim().split('\n').map((l) => JSON.parse(l));
  const i = list.find((e) => e.missedCount === 6);
  assert.ok(i);
  const shown = smc('entries', 'show', String(i.id));
  assert.match(shown, /journal:\n.*created/);
  assert.match(smc('entries', 'resolve', String(i.id), '--user', 'ana', '--note', 'called him from my mobile 0722000111'), /cleared \(manual\) by ana/);
  const [audit] = await db.pool.query<RowDataPacket[]>("SELECT note FROM smart_missed_calls_audit WHERE event = 'cleared' AND reason = 'manual'");
  assert.equal(audit[0]!.note, 'called him from my mobile [number]', 'no phone numbers in the journal');
  assert.match(smc('audit', 'verify'), /audit ok: \d+ rows, chain intact/);

  assert.match(smc('forget', '+40722000111'), /forgotten: 1 entries, 6 calls/);
  const [left] = await db.pool.query<RowDataPacket[]>(
    "SELECT (SELECT COUNT(*) FROM smart_missed_calls WHERE caller_key = '722000111') + (SELECT COUNT(*) FROM smart_missed_calls_calls WHERE caller_key = '722000111') AS n",
  );
  assert.equal(Number(left[0]!.n), 0);
  assert.match(smc('audit', 'verify'), /chain intact/);
  assert.throws(() => smc('entries', 'resolve', '999999', '--user', 'x', '--note', 'y'), /entry 999999 not found/);
});

test('`smc status` says when notifications are failing, and where to look', async () => {
  assert.match(smc('status'), /notifications +0 events to fan out; 0 mails\/webhooks\/CRM tasks pending \(0 retrying\), 0 given up\n/);
  await db.pool.query(
    `INSERT INTO smart_missed_calls_deliveries (tenant, event, channel, target, idempotency_key, payload, status, attempts, next_attempt_at, last_error, created_at)
     VALUES ('default', 'created', 'webhook', 'http://127.0.0.1:9/hook', 'x:webhook:1', '{}', 'dead', 10, NOW(3), 'HTTP 500 from the receiver', NOW(3))`,
  );
  const status = JSON.parse(smc('status', '--json'));
  assert.equal(status.deliveriesDead, 1);
  assert.match(smc('status'), /1 given up — last error: HTTP 500 from the receiver \(smc deliveries --failures\)/);
});

test('one sync cycle reads the CDR through the calldate index, never a full scan', async () => {
  const [plan] = await db.pool.query<RowDataPacket[]>(`EXPLAIN SELECT * FROM ${ident(db.names.cdr)}.cdr WHERE calldate >= ?`, ['2026-11-26 06:16:00']);
  assert.equal(plan[0]!.key, 'calldate');
  // The sync's own statement, as it runs on a ledger connection (which names this PBX).
  const [own] = await db.pool.query<RowDataPacket[]>('EXPLAIN SELECT linkedid, rows_digest FROM smart_missed_calls_calls WHERE pbx = @smc_pbx AND started_at >= ?', ['2026-11-26 06:16:00']);
  assert.equal(own[0]!.key, 'idx_pbx_started');
});
