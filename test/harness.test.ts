import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RowDataPacket } from 'mysql2/promise';
import { freshDatabases, insertCdrRows, loadFixtureCdr, fixtureText, type FreshDatabases } from './harness/db.js';
import { migrate, OWN_TABLES } from '../src/db/migrations.js';
import { ident } from '../src/db/pool.js';
import { CDR_COLUMNS, toCdrRow } from '../src/cdr/row.js';
import { readTsv } from '../src/cdr/tsv.js';

describe('test databases', () => {
  let db: FreshDatabases;
  before(async () => {
    db = await freshDatabases('harness');
  });
  after(async () => {
    await db?.cleanup();
  });

  test('migrations create every table we own, in our database', async () => {
    const [rows] = await db.pool.query<RowDataPacket[]>(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?',
      [db.names.own],
    );
    const present = new Set(rows.map((r) => String(r.name)));
    for (const table of OWN_TABLES) assert.ok(present.has(table), `${table} missing from ${db.names.own}`);
  });

  test('the PBX databases have the FreePBX tables we read', async () => {
    const [rows] = await db.pool.query<RowDataPacket[]>(
      'SELECT CONCAT(table_schema, ".", table_name) AS name FROM information_schema.tables WHERE table_schema IN (?, ?)',
      [db.names.cdr, db.names.pbx],
    );
    const present = new Set(rows.map((r) => String(r.name)));
    const expected = [
      `${db.names.cdr}.cdr`, `${db.names.cdr}.cel`,
      ...['users', 'devices', 'incoming', 'queues_config', 'queues_details', 'ringgroups', 'ivr_details',
        'contactmanager_groups', 'contactmanager_group_entries', 'contactmanager_entry_numbers', 'freepbx_settings',
      ].map((t) => `${db.names.pbx}.${t}`),
    ];
    for (const name of expected) assert.ok(present.has(name), `${name} missing`);
  });

  test('running the migrations again changes nothing', async () => {
    const [before] = await db.pool.query<RowDataPacket[]>('SELECT version, applied_at FROM smart_missed_calls_migrations ORDER BY version');
    const applied = await migrate(db.pool);
    assert.deepEqual(applied, []);
    const [after] = await db.pool.query<RowDataPacket[]>('SELECT version, applied_at FROM smart_missed_calls_migrations ORDER BY version');
    assert.deepEqual(after, before);
  });

  test('the audit table refuses UPDATE and DELETE', async () => {
    const [inserted] = await db.pool.query<import('mysql2').ResultSetHeader>(
      `INSERT INTO smart_missed_calls_audit (tenant, event, actor, created_at, prev_hash, hash)
       VALUES ('default', 'created', 'system', NOW(3), ?, ?)`,
      ['0'.repeat(64), '1'.repeat(64)],
    );
    const id = inserted.insertId;
    await assert.rejects(
      db.pool.query('UPDATE smart_missed_calls_audit SET actor = ? WHERE id = ?', ['someone else', id]),
      /append-only: UPDATE refused/,
    );
    await assert.rejects(db.pool.query('DELETE FROM smart_missed_calls_audit WHERE id = ?', [id]), /append-only: DELETE refused/);
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT actor FROM smart_missed_calls_audit WHERE id = ?', [id]);
    assert.deepEqual(rows.map((r) => r.actor), ['system']);
  });

  test("the lab's 223 CDR rows load and read back unchanged", async () => {
    const rows = loadFixtureCdr();
    assert.equal(rows.length, 223);
    await insertCdrRows(db.pool, db.names.cdr, rows);
    const [stored] = await db.pool.query<RowDataPacket[]>(
      `SELECT ${CDR_COLUMNS.map(ident).join(', ')} FROM ${ident(db.names.cdr)}.cdr`,
    );
    const key = (r: { linkedid: string; sequence: number; uniqueid: string }) => `${r.linkedid}/${r.uniqueid}/${r.sequence}`;
    const readBack = stored.map((r) => toCdrRow(r)).sort((a, b) => key(a).localeCompare(key(b)));
    assert.deepEqual(readBack, [...rows].sort((a, b) => key(a).localeCompare(key(b))));
  });
});

describe('readTsv', () => {
  test('reads mysql --batch output: header, NULL, escapes', () => {
    const text = 'calldate\tclid\tlastdata\tuserfield\n2026-01-02 03:04:05\t"A\\tB" <1>\tline\\nbreak \\\\ end\\0\tNULL\n';
    assert.deepEqual(readTsv(text), [
      { calldate: '2026-01-02 03:04:05', clid: '"A\tB" <1>', lastdata: 'line\nbreak \\ end\0', userfield: null },
    ]);
  });

  test('refuses a row whose field count does not match the header, naming the line', () => {
    assert.throws(() => readTsv('a\tb\n1\t2\n3\n'), /line 3: 1 fields where the header names 2 columns/);
  });

  test("reads every column of the lab's cdr.tsv", () => {
    const records = readTsv(fixtureText('cdr.tsv'));
    assert.equal(records.length, 223);
    const first = records[0]!;
    assert.equal(first.calldate, '2026-11-26 06:14:11');
    assert.equal(first.clid, '"0722000101" <0722000101>');
    assert.equal(first.lastdata, 'PJSIP/102/sip:102@127.0.0.1:5070,15,Ttrb(func-apply-sipheaders^s^1)');
    assert.equal(first.linkedid, '1795673651.0');
  });
});
