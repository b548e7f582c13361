import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { explainRows } from '../src/cli/explain.js';
import { readTsv } from '../src/cdr/tsv.js';
import type { Verdict } from '../src/detect/verdict.js';
import { fixtureText, freshDatabases, labFixturePath, repoRoot } from './harness/db.js';
import { checkCalls, checkEntries, labLabels } from './helpers/lab-labels.js';
import { ledgerOf, syncLabSet } from './helpers/lab-replay.js';
import { labConfigTables } from './helpers/pbx-config.js';
import { routesFromTables } from '../src/cdr/pbx-routes.js';

// Issue 22, item 3: the failover shapes of SPEC §7 on a real FreePBX 17.0.28 (Asterisk 22):
// DND and busy with and without voicemail, queues that send the caller on (joinempty,
// leavewhenempty, maxwait to a ring group, to itself, to a hang-up), a ring group and a follow-me
// failing over to voicemail, a blind transfer to voicemail, call waiting on and off, and callers
// coming back into a queue. Placed by tools/e2e-freepbx/calls.mjs --set failovers, labelled from
// what each scenario made happen and checked against CEL (test/fixtures/freepbx17-failovers/README.md).

const SET = 'freepbx17-failovers';

/**
 * The two refusals FreePBX decides without a Dial (DND with no voicemail, call waiting off)
 * write no CDR row (cdr.conf unanswered=no): with CEL they are misses, with CDR alone unseen.
 */
const CDR_INVISIBLE = new Set(['S29.call', 'S29', 'S40.second', 'S40']);
const cdrRows = () => readTsv(fixtureText('cdr.tsv', SET));
const celRows = () => readTsv(fixtureText('cel.tsv', SET));
const smc = (...args: string[]) =>
  execFileSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), 'explain', '--cdr-file', labFixturePath('cdr.tsv', SET), ...args], { encoding: 'utf8' })
    .trim().split('\n').map((line) => JSON.parse(line));
const linkedidOf = (scenario: string) => labLabels(SET).calls.find((c) => c.scenario === scenario)!.linkedid;

test('the failover set is whole: labels agree with CEL, every CDR row has its insert time', () => {
  const labels = JSON.parse(fixtureText('labels.json', SET)) as { consistency_problems: string[] };
  assert.deepEqual(labels.consistency_problems, []);
  const inserted = new Set(readTsv(fixtureText('cdr_insert_log.tsv', SET)).map((r) => `${r.uniqueid}|${r.sequence}`));
  const rows = cdrRows();
  assert.equal(inserted.size, rows.length);
  for (const row of rows) assert.ok(inserted.has(`${row.uniqueid}|${row.sequence}`), `row ${row.uniqueid}/${row.sequence} has an insert time`);
  // The two refusals without a Dial really left nothing in CDR: that is what the gaps are about.
  const linkedids = new Set(rows.map((r) => r.linkedid));
  for (const scenario of ['S29.call', 'S40.second']) assert.ok(!linkedids.has(linkedidOf(scenario)), `${scenario} has no CDR row`);
});

test('every labelled call of the failover set gets the right verdict from CDR and CEL, the refusals without a row included', () => {
  const result = explainRows(cdrRows(), { cel: celRows() });
  assert.equal(result.badRows, 0);
  checkCalls(new Map(result.calls.map((v) => [v.linkedid, v])), { set: SET });
  for (const scenario of ['S29.call', 'S40.second']) {
    assert.deepEqual(result.calls.find((v) => v.linkedid === linkedidOf(scenario))?.reasons, ['cel_only', 'refused_busy'], scenario);
  }
});

test('with CEL off, every call CDR shows comes out right and the refusals without a row are, as expected, not seen', () => {
  const result = explainRows(cdrRows());
  checkCalls(new Map(result.calls.map((v) => [v.linkedid, v])), { set: SET, knownGaps: CDR_INVISIBLE });
  checkEntries(result.entries, undefined, { set: SET, knownGaps: CDR_INVISIBLE });
  for (const scenario of ['S29.call', 'S40.second']) assert.equal(result.calls.find((v) => v.linkedid === linkedidOf(scenario)), undefined);
});

test('replaying the failover set (CDR and CEL) through the ledger gives exactly the expected missed-call list', () => {
  checkEntries(explainRows(cdrRows(), { cel: celRows() }).entries, undefined, { set: SET });
});

test('`smc explain --json` / `--entries --json` on the failover files say the same (the service\'s code path)', () => {
  checkCalls(new Map(smc('--json').map((v: Verdict) => [v.linkedid, v])), { set: SET, knownGaps: CDR_INVISIBLE });
  const celFile = labFixturePath('cel.tsv', SET);
  checkCalls(new Map(smc('--cel-file', celFile, '--json').map((v: Verdict) => [v.linkedid, v])), { set: SET });
  checkEntries(smc('--cel-file', celFile, '--entries', '--json'), undefined, { set: SET });
});

test('failover shapes explain themselves: voicemail after DND, busy, a ring group, a follow-me; a transfer to voicemail stays answered', () => {
  const result = explainRows(cdrRows());
  const verdicts = new Map(result.calls.map((v) => [v.linkedid, v]));
  const of = (scenario: string) => verdicts.get(linkedidOf(scenario))!;
  const rowsOf = (scenario: string) => cdrRows().filter((r) => r.linkedid === linkedidOf(scenario));
  // DND with voicemail: one VoiceMail row, dst=104 (no vmb prefix), the busy greeting; no phone rang.
  assert.deepEqual(rowsOf('S28.call').map((r) => [r.dst, r.lastapp, r.lastdata]), [['104', 'VoiceMail', '104@default,b']]);
  const dnd = of('S28.call');
  assert.deepEqual([dnd.verdict, dnd.rang, dnd.voicemail?.box], ['missed', [], '104']);
  // Busy with voicemail: the BUSY Dial row, then the VoiceMail row, again dst=104.
  const busy = of('S30.call');
  assert.deepEqual([busy.verdict, busy.rang.map((r) => [r.ext, r.outcome]), busy.voicemail?.box], ['missed', [['104', 'busy']], '104']);
  // Follow-me to another extension's voicemail: the VoiceMail row says dst=107 (followme-check), the box only in lastdata.
  assert.deepEqual(rowsOf('S36.call').filter((r) => r.lastapp === 'VoiceMail').map((r) => [r.dst, r.dcontext, r.lastdata]), [['107', 'followme-check', '104@default,u']]);
  assert.deepEqual([of('S36.call').verdict, of('S36.call').voicemail?.box], ['missed', '104']);
  // Ring group 601 to voicemail: its NO ANSWER rows (billsec 0), then vmu104 ANSWERED.
  assert.deepEqual([of('S37.call').verdict, of('S37.call').route.kind, of('S37.call').route.id, of('S37.call').voicemail?.box], ['missed', 'ringgroup', '601', '104']);
  // 101 talked to the caller, then blind-transferred them to *104: answered, whatever came after.
  const transfer = of('S38.call');
  assert.deepEqual([transfer.verdict, transfer.answeredBy], ['answered', '101']);
});

test('queue failovers: joinempty leaves no queue row, maxwait and leavewhenempty add the failover\'s rows, a loop is one call', () => {
  const result = explainRows(cdrRows());
  const verdicts = new Map(result.calls.map((v) => [v.linkedid, v]));
  const of = (scenario: string) => verdicts.get(linkedidOf(scenario))!;
  const rowsOf = (scenario: string) => cdrRows().filter((r) => r.linkedid === linkedidOf(scenario));
  // joinempty=no: the caller never joined queue 401, so no row names it; only CEL (APP_START
  // Queue 401) or the inbound route (5551010 -> queue 401) shows it. Read as the ring group.
  for (const scenario of ['S32.call', 'S33.call', 'S42.miss', 'S42.again']) {
    assert.ok(rowsOf(scenario).every((r) => r.dcontext !== 'ext-queues'), `${scenario}: no ext-queues row`);
  }
  assert.deepEqual([of('S32.call').verdict, of('S32.call').route.kind, of('S32.call').route.id, of('S32.call').voicemail?.box], ['missed', 'ringgroup', '601', '104']);
  assert.deepEqual([of('S33.call').verdict, of('S33.call').answeredBy], ['answered', '103']);
  // maxwait -> ring group 601 -> voicemail: the queue's NO ANSWER rows stay, so the route is the queue.
  assert.deepEqual([of('S34.call').verdict, of('S34.call').route.kind, of('S34.call').route.id, of('S34.call').rang.map((r) => r.ext).sort()], ['missed', 'queue', '402', ['101', '102', '103']]);
  // leavewhenempty (the only member paused) -> ring group 601, 102 answers.
  assert.deepEqual([of('S35.call').verdict, of('S35.call').answeredBy], ['answered', '102']);
  // A queue that fails over to itself: one caller, one linkedid, seven queue rows, one missed call.
  assert.equal(rowsOf('S43.call').filter((r) => r.dcontext === 'ext-queues').length, 7);
  assert.equal(of('S43.call').verdict, 'missed');
  // maxwait -> hang up with agents rung: the queue rows stay next to the ANSWERED app-blackhole row.
  assert.deepEqual(rowsOf('S44.call').map((r) => r.dcontext).filter((c) => c !== 'from-internal'), ['ext-queues', 'ext-queues', 'app-blackhole']);
  assert.deepEqual([of('S44.call').verdict, of('S44.call').route.kind, of('S44.call').route.id], ['missed', 'queue', '404']);
});

for (const withCel of [true, false]) {
  test(`live sync path with CEL ${withCel ? 'on: every call and exactly the expected entries' : 'off: every call CDR shows, the refusals without a row unseen'}`, async () => {
    const db = await freshDatabases(withCel ? 'fpbx17fo_cel' : 'fpbx17fo_nocel');
    try {
      await syncLabSet(db, SET, withCel);
      const { calls, entries, history } = await ledgerOf(db);
      const knownGaps = withCel ? undefined : CDR_INVISIBLE;
      checkCalls(calls, { set: SET, knownGaps });
      checkEntries(entries, history, { set: SET, knownGaps });
      if (!withCel) for (const scenario of ['S29.call', 'S40.second']) assert.equal(calls.has(linkedidOf(scenario)), false);
    } finally {
      await db.cleanup();
    }
  });
}

test('from CEL alone (no CDR row at all), every labelled call of the failover set gets the same verdict', () => {
  checkCalls(new Map(explainRows([], { cel: celRows() }).calls.map((v) => [v.linkedid, v])), { set: SET });
});

test("with the PBX's configuration, a queue the caller never joined (joinempty) is the route, and every verdict stays right", () => {
  const routes = routesFromTables(labConfigTables(SET));
  const withCel = explainRows(cdrRows(), { cel: celRows(), routes });
  checkCalls(new Map(withCel.calls.map((v) => [v.linkedid, v])), { set: SET });
  checkEntries(withCel.entries, undefined, { set: SET });
  // CDR and the configuration alone: the route comes from the configuration, not from CEL.
  const result = explainRows(cdrRows(), { routes });
  checkCalls(new Map(result.calls.map((v) => [v.linkedid, v])), { set: SET, knownGaps: CDR_INVISIBLE });
  const of = (scenario: string) => result.calls.find((v) => v.linkedid === linkedidOf(scenario))!;
  // 5551010 -> queue 401 (no member, joinempty=no) -> ring group 601: no row names the queue.
  for (const scenario of ['S32.call', 'S33.call', 'S42.miss']) {
    const call = of(scenario);
    assert.deepEqual([call.route.kind, call.route.id, call.reasons.includes('route_from_config')], ['queue', '401', true], scenario);
  }
});
