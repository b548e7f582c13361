/**
 * GDPR: after `smc forget N`, no column of any of our tables holds N in any format
 * (+40…, 0040…, 0…, the national digits, a dialled 9-prefixed form), found by scanning
 * every text column that information_schema lists — not only the columns we think of.
 * The journal still verifies, and its erasure proof confirms nothing to whoever reads only the database.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { demoPbx } from '../../src/cdr/generator/pbx.js';
import { writePbxTables } from '../../src/cdr/generator/pbx-tables.js';
import type { Config } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { ident } from '../../src/db/pool.js';
import { forgetProof } from '../../src/ledger/actions.js';
import { Notifier } from '../../src/notify/worker.js';
import { Syncer } from '../../src/sync/cycle.js';
import { freshDatabases, repoRoot, type FreshDatabases } from '../harness/db.js';
import { PastCalls } from '../helpers/past-calls.js';
import { writeServeConfig } from '../helpers/serve-process.js';
import { TestSmtp } from '../helpers/smtp.js';

const model = demoPbx();
let dir: string;
let db: FreshDatabases;
let configFile: string;
const smtp = new TestSmtp();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smc-forget-'));
  db = await freshDatabases('forget');
  await writePbxTables(db.pool, db.names.pbx, model);
  await smtp.start();
  configFile = writeServeConfig({ dir, name: 'forget', db, smtpPort: smtp.port });
});

after(async () => {
  await smtp.stop();
  await db?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const smc = (...args: string[]) =>
  execFileSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), '--config', configFile, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Every (table, column, rows) where the digits of a text column contain `digits`. */
async function traces(digits: string): Promise<string[]> {
  const [columns] = await db.pool.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'smart\\_missed\\_calls%'
        AND DATA_TYPE IN ('char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'json', 'blob', 'mediumblob', 'longblob')`,
    [db.names.own],
  );
  assert.ok(columns.length > 40, `${columns.length} text columns`);
  const found: string[] = [];
  for (const { t, c } of columns) {
    const [[{ n }]] = (await db.pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM ${ident(t)} WHERE REGEXP_REPLACE(CAST(${ident(c)} AS CHAR), '[^0-9]', '') LIKE ?`,
      [`%${digits}%`],
    )) as unknown as [[{ n: number }]];
    if (Number(n) > 0) found.push(`${t}.${c}: ${n}`);
  }
  return found;
}

test('`smc forget` leaves no trace of the number in any column of any of our tables, in any format; the journal still verifies', { timeout: 180_000 }, async () => {
  const config: Config = { ...db.config, sync: { ...db.config.sync, settleSeconds: 0 }, mail: { ...db.config.mail, transport: 'smtp', host: '127.0.0.1', port: smtp.port } };
  await saveSettings(db.pool, 'default', { cadence: 'realtime', recipients: ['team@example.com'], defaultCountry: 'RO', outboundPrefixes: ['9'] }, 'test');
  const calls = new PastCalls(db.pool, db.names.cdr, model);
  const did = '0215550100';
  // The same person in every format a PBX shows, and someone else who must stay.
  await calls.insert('queue_missed', { caller: { number: '+40722000333', name: 'Ion Popescu' }, did, attempt: 1 }, 3000);
  await calls.insert('queue_missed', { caller: { number: '0040722000333', name: 'Ion Popescu' }, did, attempt: 1 }, 2700);
  await calls.insert('callback', { extension: '101', target: '90722000333', answered: false }, 2400);
  await calls.insert('queue_missed', { caller: { number: '0722000444', name: 'Maria Ionescu' }, did, attempt: 1 }, 2100);
  await calls.insert('queue_answered', { caller: { number: '0722000333', name: 'Ion Popescu' }, did, attempt: 1 }, 1800);
  await calls.insert('direct_missed', { caller: { number: '722000333', name: 'Ion Popescu' } }, 1200);
  const report = await new Syncer(db.pool, config).cycle();
  assert.equal(report.classified, 6);

  // Mail (realtime, then a digest), caller names from an import and a lookup.
  const notifier = new Notifier({ pool: db.pool, config });
  try {
    await notifier.pass();
    await saveSettings(db.pool, 'default', { cadence: 'hourly' }, 'test');
    await notifier.queueDueDigests(new Date());
    await notifier.pass();
  } finally {
    await notifier.close();
  }
  await db.pool.query(
    `INSERT INTO smart_missed_calls_contacts (tenant, caller_key, number, name, source, imported_at) VALUES
       ('default', '722000333', '+40 722 000 333', 'Ion Popescu', 'csv', NOW()), ('default', '722000444', '0722 000 444', 'Maria Ionescu', 'csv', NOW())`,
  );
  await db.pool.query(
    `INSERT INTO smart_missed_calls_lookups (tenant, caller_key, name, source, fetched_at) VALUES
       ('default', '722000333', 'Ion Popescu', 'http', NOW()), ('default', '722000444', 'Maria Ionescu', 'http', NOW())`,
  );
  assert.ok(smtp.mails.length >= 2, `${smtp.mails.length} mails`);
  const before = await traces('722000333');
  for (const where of ['smart_missed_calls.caller', 'smart_missed_calls_calls.caller', 'smart_missed_calls_calls.dialled', 'smart_missed_calls_outbox.payload', 'smart_missed_calls_deliveries.payload', 'smart_missed_calls_contacts.number',
    'smart_missed_calls_caller_misses.caller_key']) {
    assert.ok(before.some((t) => t.startsWith(where + ':')), `before forgetting, the number is in ${where} (the scan can see it): ${before.join(', ')}`);
  }

  assert.match(smc('forget', '0722 000 333'), /forgotten: \d+ entries, \d+ calls/);

  assert.deepEqual(await traces('722000333'), [], 'no trace of the number anywhere');
  const other = await traces('722000444');
  assert.ok(other.some((t) => t.startsWith('smart_missed_calls.caller:')) && other.some((t) => t.startsWith('smart_missed_calls_contacts.number:')), 'the other caller is untouched');
  // The names went with the number; the other caller's stay.
  const [names] = await db.pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM smart_missed_calls WHERE caller_name = 'Ion Popescu'
     UNION ALL SELECT COUNT(*) FROM smart_missed_calls_contacts WHERE name = 'Ion Popescu'
     UNION ALL SELECT COUNT(*) FROM smart_missed_calls_lookups WHERE name = 'Ion Popescu'`,
  );
  assert.deepEqual(names.map((r) => Number(r.n)), [0, 0, 0]);
  assert.match(smc('audit', 'verify'), /chain intact/);
  const [forgotten] = await db.pool.query<RowDataPacket[]>("SELECT note FROM smart_missed_calls_audit WHERE event = 'forgotten'");
  assert.equal(forgotten.length, 1);
  const proof = /^hmac-sha256:([0-9a-f]{64})$/.exec(String(forgotten[0]!.note))?.[1];
  assert.ok(proof, `the erasure is journalled as a keyed proof: ${forgotten[0]!.note}`);
  // Whoever holds the key file confirms the erasure of this number ...
  assert.equal(proof, forgetProof(db.auditKey, '722000333'));
  // ... the database alone does not: no value stored in it (the old salt lived in the state
  // table) turns a guessed number into the proof, salted either way, as a key, or unsalted.
  const [state] = await db.pool.query<RowDataPacket[]>('SELECT k, v FROM smart_missed_calls_state');
  assert.ok(!state.some((r) => r.k === 'forget_salt'), 'no salt kept');
  const guess = '722000333';
  const fromDb = [
    createHash('sha256').update(guess).digest('hex'),
    ...state.flatMap((r) => [
      createHash('sha256').update(String(r.v)).update(guess).digest('hex'),
      createHash('sha256').update(guess).update(String(r.v)).digest('hex'),
      createHmac('sha256', String(r.v)).update(guess).digest('hex'),
      createHmac('sha256', String(r.v)).update('smc forget\n').update(guess).digest('hex'),
    ]),
  ];
  assert.ok(!fromDb.includes(proof), 'nothing in the database confirms the guessed number');
  assert.notEqual(proof, forgetProof({ ...db.auditKey, secret: Buffer.alloc(32, 7) }, guess), 'the proof depends on the key file');
});
