import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { explainRows } from '../src/cli/explain.js';
import { readTsv } from '../src/cdr/tsv.js';
import { Syncer } from '../src/sync/cycle.js';
import type { Verdict } from '../src/detect/verdict.js';
import { freshDatabases, fixtureText, labFixturePath, repoRoot } from './harness/db.js';
import { checkCalls, checkEntries, labLabels } from './helpers/lab-labels.js';
import { ledgerOf, syncLabSet } from './helpers/lab-replay.js';

// The judge, second set: CDR rows a real FreePBX 17.0.28 (Asterisk 22) wrote through its own
// dialplan for calls placed by tools/e2e-freepbx/calls.mjs, and what really happened on the
// phones (test/fixtures/freepbx17-lab/README.md).

const SET = 'freepbx17-lab';

/**
 * S19: a direct call to an extension on DND with no voicemail is refused by macro-exten-vm
 * without a Dial; with cdr.conf unanswered=no FreePBX writes no CDR row, only CEL (CHAN_START,
 * HANGUP cause 17 in s-BUSY, LINKEDID_END). With CEL it is a miss; with CDR alone it cannot be seen.
 */
const CDR_INVISIBLE = new Set(['S19.call', 'S19']);
const cdrRows = () => readTsv(fixtureText('cdr.tsv', SET));
const celRows = () => readTsv(fixtureText('cel.tsv', SET));
const smc = (...args: string[]) =>
  execFileSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), 'explain', '--cdr-file', labFixturePath('cdr.tsv', SET), ...args], { encoding: 'utf8' })
    .trim().split('\n').map((line) => JSON.parse(line));
const s19 = () => labLabels(SET).calls.find((c) => c.scenario === 'S19.call')!;

test('the FreePBX 17 set is whole: labels agree with CEL, every CDR row has its insert time', () => {
  const labels = JSON.parse(fixtureText('labels.json', SET)) as { consistency_problems: string[] };
  assert.deepEqual(labels.consistency_problems, []);
  const inserted = new Set(readTsv(fixtureText('cdr_insert_log.tsv', SET)).map((r) => `${r.uniqueid}|${r.sequence}`));
  const rows = cdrRows();
  assert.equal(inserted.size, rows.length);
  for (const row of rows) assert.ok(inserted.has(`${row.uniqueid}|${row.sequence}`), `row ${row.uniqueid}/${row.sequence} has an insert time`);
});

test('every labelled call of the FreePBX 17 lab gets the right verdict from CDR and CEL, S19 included', () => {
  const result = explainRows(cdrRows(), { cel: celRows() });
  assert.equal(result.badRows, 0);
  checkCalls(new Map(result.calls.map((v) => [v.linkedid, v])), { set: SET });
});

test('from CEL alone (no CDR row at all), every labelled call of the FreePBX 17 lab gets the same verdict', () => {
  checkCalls(new Map(explainRows([], { cel: celRows() }).calls.map((v) => [v.linkedid, v])), { set: SET });
});

test('with CEL off, the calls CDR shows come out right and S19 (no CDR row) is, as expected, not seen', () => {
  const result = explainRows(cdrRows());
  checkCalls(new Map(result.calls.map((v) => [v.linkedid, v])), { set: SET, knownGaps: CDR_INVISIBLE });
  assert.equal(result.calls.find((v) => v.linkedid === s19().linkedid), undefined);
  checkEntries(result.entries, undefined, { set: SET, knownGaps: CDR_INVISIBLE });
  assert.equal(result.entries.find((e) => e.caller === s19().caller), undefined);
});

test('replaying the FreePBX 17 lab (CDR and CEL) through the ledger gives exactly the expected missed-call list', () => {
  checkEntries(explainRows(cdrRows(), { cel: celRows() }).entries, undefined, { set: SET });
});

test('`smc explain --json` / `--entries --json` on the FreePBX 17 files say the same (the service\'s code path)', () => {
  checkCalls(new Map(smc('--json').map((v: Verdict) => [v.linkedid, v])), { set: SET, knownGaps: CDR_INVISIBLE });
  const celFile = labFixturePath('cel.tsv', SET);
  checkCalls(new Map(smc('--cel-file', celFile, '--json').map((v: Verdict) => [v.linkedid, v])), { set: SET });
  checkEntries(smc('--cel-file', celFile, '--entries', '--json'), undefined, { set: SET });
});

test('S19 (DND, no voicemail, no CDR row) explains itself: refused as busy, and the verdict comes from CEL', () => {
  const verdict = explainRows(cdrRows(), { cel: celRows() }).calls.find((v) => v.linkedid === s19().linkedid)!;
  assert.deepEqual(
    [verdict.verdict, verdict.reasons, verdict.caller, verdict.did, verdict.rang, verdict.rowCount],
    ['missed', ['cel_only', 'refused_busy'], '0612345019', '5551006', [], 0],
  );
  assert.ok(verdict.explanation.includes('FreePBX wrote no CDR row for this call: this verdict comes from its CEL events.'));
  assert.ok(verdict.explanation.some((line) => line.startsWith('The PBX turned the caller away as busy')));
});

test('FreePBX 17 shapes explain themselves: pickup, follow-me, maxwait failover to voicemail, IVR hang-up', () => {
  const { calls } = labLabels(SET);
  const verdicts = new Map(explainRows(cdrRows()).calls.map((v) => [v.linkedid, v]));
  const of = (scenario: string) => verdicts.get(calls.find((c) => c.scenario === scenario)!.linkedid)!;
  // **103 on 102: the rung phone's ANSWERED/billsec 0 row is a ring, the picker answered.
  const pickup = of('S12.call');
  assert.deepEqual([pickup.answeredBy, pickup.reasons, pickup.rang.map((r) => [r.ext, r.outcome])], ['102', ['answered_by_pickup'], [['103', 'no_answer']]]);
  // Follow-me: Local/FMPR-105 is extension 105 ringing, Local/FMGL-0740999888# the outside number.
  const followMe = of('S11.call');
  assert.deepEqual([followMe.answeredBy, followMe.rang.map((r) => r.ext)], ['external:0740999888', ['105']]);
  const failover = of('S03.call');
  assert.deepEqual([failover.verdict, failover.route.kind, failover.route.id, failover.voicemail?.box], ['missed', 'queue', '400', '104']);
  assert.deepEqual(of('S06.call').reasons, ['ivr_abandon']);
});

test('live sync with CEL on: the ledger holds exactly labels.json\'s entries, S19 included, and a second cycle changes nothing', async () => {
  const db = await freshDatabases('fpbx17cel');
  try {
    await syncLabSet(db, SET, true);
    const { calls, entries, history } = await ledgerOf(db);
    checkCalls(calls, { set: SET });
    checkEntries(entries, history, { set: SET });
    assert.deepEqual(calls.get(s19().linkedid)?.reasons, ['cel_only', 'refused_busy']);
    const [[before]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_audit')) as unknown as [[{ n: number }]];
    const again = await new Syncer(db.pool, { ...db.config, sync: { ...db.config.sync, settleSeconds: 0 } }).cycle();
    assert.equal(again.classified, 0, 'CEL-only calls are not classified again');
    const [[afterwards]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_audit')) as unknown as [[{ n: number }]];
    assert.equal(afterwards.n, before.n);
  } finally {
    await db.cleanup();
  }
});

test('live sync with CEL off: the calls CDR shows come out right, and S19 is (expectedly) not seen', async () => {
  const db = await freshDatabases('fpbx17nocel');
  try {
    await syncLabSet(db, SET, false);
    const { calls, entries, history } = await ledgerOf(db);
    checkCalls(calls, { set: SET, knownGaps: CDR_INVISIBLE });
    checkEntries(entries, history, { set: SET, knownGaps: CDR_INVISIBLE });
    assert.equal(calls.has(s19().linkedid), false);
    assert.equal(entries.find((e) => e.caller === s19().caller), undefined);
  } finally {
    await db.cleanup();
  }
});
