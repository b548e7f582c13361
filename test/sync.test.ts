import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { naiveDatetime, naiveSeconds, type CdrRow } from '../src/cdr/row.js';
import type { Config } from '../src/config/schema.js';
import { verifyAudit } from '../src/ledger/audit.js';
import { entryFromRow } from '../src/ledger/store.js';
import { CelFeed } from '../src/cdr/cel-reader.js';
import { Syncer } from '../src/sync/cycle.js';
import { readTsv } from '../src/cdr/tsv.js';
import { freshDatabases, fixtureText, insertCdrRows, loadFixtureCdr, type FreshDatabases } from './harness/db.js';
import { checkCalls, checkEntries } from './helpers/lab-labels.js';
import { callVerdict, record } from './helpers/ledger-calls.js';

let db: FreshDatabases;
before(async () => {
  db = await freshDatabases('sync');
});
after(async () => {
  await db.cleanup();
});

async function dbNow(): Promise<number> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT NOW() AS now');
  return naiveSeconds(String(rows[0]!.now));
}

/** The lab's rows moved in time so the call starts `ago` seconds before the database's now. */
function shifted(rows: CdrRow[], startAt: number, suffix = ''): CdrRow[] {
  const first = Math.min(...rows.map((r) => naiveSeconds(r.calldate)));
  return rows.map((r) => ({
    ...r,
    calldate: naiveDatetime(naiveSeconds(r.calldate) - first + startAt),
    uniqueid: r.uniqueid + suffix,
    linkedid: r.linkedid + suffix,
  }));
}

async function entries(tenant = 'default') {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls WHERE tenant = ? ORDER BY id', [tenant]);
  return rows.map(entryFromRow);
}

async function journal(entryId: number) {
  const [rows] = await db.pool.query<RowDataPacket[]>(
    'SELECT event, reason, actor, ext, linkedid FROM smart_missed_calls_audit WHERE entry_id = ? ORDER BY id',
    [entryId],
  );
  return rows as { event: string; reason: string | null; actor: string; ext: string | null; linkedid: string | null }[];
}

function config(settleSeconds: number): Config {
  return { ...db.config, sync: { ...db.config.sync, settleSeconds } };
}

test('the whole lab through the real sync and MariaDB: calls, entries and journal agree with what happened', async () => {
  const rows = shifted(loadFixtureCdr(), (await dbNow()) - 600);
  // Insert in the order Asterisk did (cdr_insert_log.tsv): rows of a call arrive one by one.
  const order = readTsv(fixtureText('cdr_insert_log.tsv')).map((r) => `${r.uniqueid}|${r.sequence}`);
  rows.sort((a, b) => order.indexOf(`${a.uniqueid}|${a.sequence}`) - order.indexOf(`${b.uniqueid}|${b.sequence}`));
  await insertCdrRows(db.pool, db.names.cdr, rows);
  const syncer = new Syncer(db.pool, config(0));
  const report = await syncer.cycle();
  assert.equal(report.classified, 34);

  const [calls] = await db.pool.query<RowDataPacket[]>('SELECT linkedid, verdict, answered_by, rang FROM smart_missed_calls_calls');
  checkCalls(new Map(calls.map((c) => [String(c.linkedid), { verdict: c.verdict, answeredBy: c.answered_by, rang: JSON.parse(c.rang) }])));
  const list = await entries();
  const journals = new Map<number, Awaited<ReturnType<typeof journal>>>();
  for (const e of list) journals.set(e.id!, await journal(e.id!));
  checkEntries(list, (e) => journals.get(e.id!)!);

  const [[outbox]] = (await db.pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM smart_missed_calls_outbox WHERE event = 'created'")) as unknown as [[{ n: number }]];
  assert.equal(Number(outbox.n), list.length, 'the live sync queues a notification for every new entry');

  // Replaying the same rows changes nothing: no new calls, entries, or journal rows.
  const [[before]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_audit')) as unknown as [[{ n: number }]];
  const again = await new Syncer(db.pool, config(0)).cycle();
  assert.equal(again.classified, 0);
  const [[afterCount]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_audit')) as unknown as [[{ n: number }]];
  assert.equal(afterCount.n, before.n);
  assert.deepEqual(await entries(), list);
  const verified = await verifyAudit(db.pool, db.auditKey);
  assert.deepEqual({ ok: verified.ok, rows: verified.rows }, { ok: true, rows: Number(before.n) });

  const i = list.find((e) => e.missedCount === 6)!;
  assert.deepEqual(Object.keys(i.rang).sort(), ['101', '102', '103', '104', '105']);
  assert.equal(i.rang['101'], 6);
});

test('live: a miss appears once its rows settle, a callback clears it as returned, a new miss reopens it', async () => {
  await db.pool.query(`DELETE FROM ${db.names.cdr}.cdr`);
  const lab = loadFixtureCdr();
  const missRows = lab.filter((r) => r.linkedid === '1795673675.85');
  const callbackRows = lab.filter((r) => r.linkedid === '1795673721.245');
  const syncer = new Syncer(db.pool, config(1));
  const now = await dbNow();
  const caller = '0722000190';
  const asCaller = (rows: CdrRow[]) => rows.map((r) => ({ ...r, src: caller, cnum: caller, clid: `"${caller}" <${caller}>` }));

  // The agent legs arrive first; the caller's Queue rows only when the caller hangs up.
  const miss = shifted(asCaller(missRows), now - 40, 'x');
  await insertCdrRows(db.pool, db.names.cdr, miss.filter((r) => r.lastapp === 'Dial'));
  await syncer.cycle();
  assert.equal((await entries()).find((e) => e.callerKey === '722000190'), undefined, 'no verdict on a partial call');
  await insertCdrRows(db.pool, db.names.cdr, miss.filter((r) => r.lastapp !== 'Dial'));
  await syncer.cycle();
  await new Promise((r) => setTimeout(r, 1100));
  await syncer.cycle();
  let entry = (await entries()).find((e) => e.callerKey === '722000190');
  assert.ok(entry, 'the missed call is on the list');
  assert.equal(entry.status, 'open');
  assert.equal(entry.missedCount, 1);

  const callback = shifted(callbackRows.map((r) => ({ ...r, dst: '9' + caller, lastdata: r.lastdata.replace('0722000120', caller) })), now - 20, 'x');
  await insertCdrRows(db.pool, db.names.cdr, callback);
  await syncer.cycle();
  await new Promise((r) => setTimeout(r, 1100));
  await syncer.cycle();
  entry = (await entries()).find((e) => e.id === entry!.id)!;
  assert.equal(entry.status, 'cleared');
  assert.equal(entry.clearedBy, 'returned');
  assert.equal(entry.clearedExt, '102');
  assert.equal(entry.clearedLinkedid, '1795673721.245x');

  const secondMiss = shifted(asCaller(missRows), now - 14, 'y');
  await insertCdrRows(db.pool, db.names.cdr, secondMiss);
  await syncer.cycle();
  await new Promise((r) => setTimeout(r, 1100));
  await syncer.cycle();
  entry = (await entries()).find((e) => e.id === entry!.id)!;
  assert.equal(entry.status, 'open');
  assert.equal(entry.missedCount, 1);
  assert.equal(entry.totalMissed, 2);
  assert.deepEqual(
    (await journal(entry.id!)).map((j) => [j.event, j.reason, j.actor, j.ext]),
    [
      ['created', null, 'agent', null],
      ['cleared', 'returned', 'agent', '102'],
      ['reopened', null, 'agent', null],
    ],
  );
  assert.equal((await verifyAudit(db.pool, db.auditKey)).ok, true);
});

test('with CEL on, LINKEDID_END settles a call at once instead of after the settle time', async () => {
  const lab = loadFixtureCdr();
  const callRows = lab.filter((r) => r.linkedid === '1795673653.16');
  const syncer = new Syncer(db.pool, config(60));
  const now = await dbNow();
  await syncer.cycle();
  await insertCdrRows(db.pool, db.names.cdr, shifted(callRows, now - 30, 'cel'));
  await syncer.cycle();
  const linkedid = '1795673653.16cel';
  const classified = async () => {
    const [rows] = await db.pool.query<RowDataPacket[]>('SELECT verdict FROM smart_missed_calls_calls WHERE linkedid = ?', [linkedid]);
    return rows[0]?.verdict as string | undefined;
  };
  assert.equal(await classified(), undefined, 'without the call end, it waits for the settle time');
  const cel = readTsv(fixtureText('cel.tsv')).filter((r) => r.linkedid === '1795673653.16');
  assert.ok(cel.some((r) => r.eventtype === 'LINKEDID_END'));
  const columns = Object.keys(cel[0]!).filter((c) => c !== 'id');
  await db.pool.query(
    `INSERT INTO ${db.names.cdr}.cel (${columns.join(', ')}) VALUES ?`,
    [cel.map((r) => columns.map((c) => (c === 'linkedid' || c === 'uniqueid' ? `${r[c]}cel` : r[c])))],
  );
  await new Promise((r) => setTimeout(r, 1100));
  await syncer.cycle();
  assert.equal(await classified(), 'missed');
});

test('CEL is read from the first event logged at the window start, each row once, caught up in batches', async () => {
  // Ids grow with time on a PBX; the rows other tests left here do not keep that order.
  await db.pool.query(`TRUNCATE ${db.names.cdr}.cel`);
  const insertCel = (at: string, events: [eventtype: string, linkedid: string][]) =>
    db.pool.query(
      `INSERT INTO ${db.names.cdr}.cel (eventtype, eventtime, cid_name, cid_num, cid_ani, cid_rdnis, cid_dnid, exten,
        context, channame, appname, appdata, amaflags, accountcode, uniqueid, linkedid, peer, userdeftype, extra) VALUES ?`,
      [events.map(([eventtype, linkedid]) => [eventtype, at, '', '', '', '', '', '', '', '', '', '', 3, '', linkedid, linkedid, '', '', ''])],
    );
  const call = (linkedid: string): [string, string][] =>
    ['CHAN_START', 'ANSWER', 'HANGUP', 'CHAN_END', 'LINKEDID_END'].map((type) => [type, linkedid]);
  // Before the service stopped: calls it had read, older than the window it reads again.
  for (let i = 0; i < 12; i += 1) await insertCel(`2026-01-02 02:${String(10 + i).padStart(2, '0')}:00`, call(`old${i}`));
  // While it was stopped, inside that window.
  await insertCel('2026-01-02 03:04:05', call('w1'));
  await insertCel('2026-01-02 03:05:00', call('w2'));
  const feed = new CelFeed(db.pool, db.config.db, 3);
  assert.deepEqual(await feed.read('2026-01-02 03:00:00'), ['w1', 'w2'], 'from the window start on, every call end, in batches of 3 until caught up');
  assert.deepEqual(feed.eventsOf('old11'), [], 'nothing from before the window');
  assert.equal(feed.eventsOf('w1').length, 5);
  await insertCel('2026-01-02 03:06:00', call('w3'));
  assert.deepEqual(await feed.read('2026-01-02 03:00:00'), ['w3'], 'then only the new rows');
  assert.equal(feed.eventsOf('w1').length, 5, 'none read twice');
  assert.deepEqual(await new CelFeed(db.pool, db.config.db).read('2026-01-02 04:00:00'), [], 'a window after the last event: nothing');
});

test('a call older than the hot window (a long queue wait) still settles, through the full scans', async () => {
  const lab = loadFixtureCdr();
  const syncer = new Syncer(db.pool, { ...db.config, sync: { ...db.config.sync, settleSeconds: 1, hotWindowSeconds: 60, fullScanEverySeconds: 3 } });
  const now = await dbNow();
  await insertCdrRows(db.pool, db.names.cdr, shifted(lab.filter((r) => r.linkedid === '1795673653.16'), now - 600, 'long'));
  const verdict = async () => {
    const [rows] = await db.pool.query<RowDataPacket[]>("SELECT verdict FROM smart_missed_calls_calls WHERE linkedid = '1795673653.16long'");
    return rows[0]?.verdict as string | undefined;
  };
  await syncer.cycle();
  assert.equal(await verdict(), undefined);
  for (let i = 0; i < 8 && !(await verdict()); i++) {
    await new Promise((r) => setTimeout(r, 700));
    await syncer.cycle();
  }
  assert.equal(await verdict(), 'missed');
});

test('audit rows cannot be changed, and a row altered behind the triggers is found by verify', async () => {
  await assert.rejects(db.pool.query("UPDATE smart_missed_calls_audit SET actor = 'someone' WHERE id = 1"), /append-only/);
  await assert.rejects(db.pool.query('DELETE FROM smart_missed_calls_audit WHERE id = 1'), /append-only/);
  const [[{ n }]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_audit')) as unknown as [[{ n: number }]];
  assert.ok(n > 5);
  await db.pool.query('DROP TRIGGER smart_missed_calls_audit_no_update');
  await db.pool.query("UPDATE smart_missed_calls_audit SET reason = 'manual' WHERE id = 5");
  const result = await verifyAudit(db.pool, db.auditKey);
  assert.equal(result.ok, false);
  assert.deepEqual(result.bad.map((b) => b.id), [5]);
  assert.match(result.bad[0]!.problem, /altered/);
});

test('DIDs that differ only in case or a trailing space are different entries, and the sync goes on', async () => {
  await record(db.pool, 'default', [
    callVerdict('missed', { caller: '0722000777', did: 'sales', at: '2026-11-20 10:00:00' }),
    callVerdict('missed', { caller: '0722000777', did: 'Sales', at: '2026-11-20 10:01:00' }),
    callVerdict('missed', { caller: '0722000777', did: 'sales ', at: '2026-11-20 10:02:00' }),
  ]);
  const [rows] = await db.pool.query<RowDataPacket[]>("SELECT did FROM smart_missed_calls WHERE caller_key = '722000777' ORDER BY id");
  assert.deepEqual(rows.map((r) => r.did), ['sales', 'Sales', 'sales ']);
});

test('a call classified from CEL alone and later seen in CDR is one call and one entry, not two', async () => {
  const fresh = await freshDatabases('synccel');
  try {
    const now = await dbNow();
    const at = (offset: number) => naiveDatetime(now - 30 + offset);
    // S19 of the FreePBX 17 lab: a DND refusal, CEL only; then the caller's row, as cdr.conf unanswered=yes would write it.
    const cel = readTsv(fixtureText('cel.tsv', 'freepbx17-lab')).filter((r) => r.linkedid === '1796244086.153');
    const columns = Object.keys(cel[0]!).filter((c) => c !== 'id');
    await fresh.pool.query(
      `INSERT INTO ${fresh.names.cdr}.cel (${columns.join(', ')}) VALUES ?`,
      [cel.map((r) => columns.map((c) => (c === 'eventtime' ? at(0) : r[c] ?? '')))],
    );
    const syncer = new Syncer(fresh.pool, { ...fresh.config, sync: { ...fresh.config.sync, settleSeconds: 0 } });
    await syncer.cycle();
    const state = async () => {
      const [calls] = await fresh.pool.query<RowDataPacket[]>('SELECT linkedid, verdict, row_count, entry_id FROM smart_missed_calls_calls');
      const [list] = await fresh.pool.query<RowDataPacket[]>('SELECT id, missed_count FROM smart_missed_calls');
      return { calls: calls.map((c) => [c.linkedid, c.verdict, Number(c.row_count)]), entries: list.map((e) => [Number(e.id), Number(e.missed_count)]) };
    };
    const fromCel = await state();
    assert.deepEqual(fromCel.calls, [['1796244086.153', 'missed', 0]]);
    assert.equal(fromCel.entries.length, 1);
    await insertCdrRows(fresh.pool, fresh.names.cdr, [{
      calldate: at(0), clid: '"0612345019" <0612345019>', src: '0612345019', dst: 's-BUSY', dcontext: 'macro-exten-vm',
      channel: 'PJSIP/carrier-00000059', dstchannel: '', lastapp: 'Busy', lastdata: '20', duration: 0, billsec: 0, disposition: 'BUSY',
      uniqueid: '1796244086.153', linkedid: '1796244086.153', sequence: 1, did: '5551006', cnum: '0612345019', cnam: '', outbound_cnum: '',
    }]);
    assert.equal((await syncer.cycle()).classified, 1, 'the CDR row makes the call be classified again');
    const both = await state();
    assert.deepEqual(both.calls, [['1796244086.153', 'missed', 1]]);
    assert.deepEqual(both.entries, fromCel.entries, 'the same entry, still missed once');
  } finally {
    await fresh.cleanup();
  }
});

test('history recorded after the live calls: a miss that a later recorded call answered or returned comes in cleared, and an open later episode is left as it is', async () => {
  const entryOf = async (caller: string) => {
    const [rows] = await db.pool.query<RowDataPacket[]>("SELECT * FROM smart_missed_calls WHERE tenant = 'default' AND caller_raw = ?", [caller]);
    return rows.map(entryFromRow);
  };
  // Answered an hour ago (the live sync took it first); missed three days ago (the history, after).
  await record(db.pool, 'default', [callVerdict('answered', { caller: '0744100001', at: '2026-11-29 10:00:00', ext: '102' })]);
  await record(db.pool, 'default', [callVerdict('missed', { caller: '0744100001', at: '2026-11-26 09:00:00' })]);
  const [answered] = await entryOf('0744100001');
  assert.deepEqual([answered?.status, answered?.clearedBy, answered?.clearedExt, answered?.clearedAt], ['cleared', 'answered_later', '102', '2026-11-29 10:00:00']);

  // Called back (an answered outbound call) after the miss, recorded before it.
  await record(db.pool, 'default', [callVerdict('callback', { caller: '0744100002', at: '2026-11-29 11:00:00', ext: '104' })]);
  await record(db.pool, 'default', [callVerdict('missed', { caller: '0744100002', at: '2026-11-28 08:00:00' })]);
  const [returned] = await entryOf('0744100002');
  assert.deepEqual([returned?.status, returned?.clearedBy, returned?.clearedExt], ['cleared', 'returned', '104']);

  // Answered, then missed again (open, one miss); an older miss before the answer belongs to the episode that answer ended.
  await record(db.pool, 'default', [
    callVerdict('answered', { caller: '0744100003', at: '2026-11-29 10:00:00', ext: '101' }),
    callVerdict('missed', { caller: '0744100003', at: '2026-11-29 12:00:00' }),
  ]);
  await record(db.pool, 'default', [callVerdict('missed', { caller: '0744100003', at: '2026-11-27 09:00:00' })]);
  const [later] = await entryOf('0744100003');
  assert.deepEqual([later?.status, later?.missedCount, later?.firstAttempt], ['open', 1, '2026-11-29 12:00:00']);

  // In order, nothing changes: a miss after the last answer opens the entry.
  await record(db.pool, 'default', [callVerdict('missed', { caller: '0744100001', at: '2026-11-29 13:00:00' })]);
  const [reopened] = await entryOf('0744100001');
  assert.deepEqual([reopened?.status, reopened?.missedCount], ['open', 1]);
});
