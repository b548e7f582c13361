import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { explainRows } from '../src/cli/explain.js';
import { naiveDatetime, naiveSeconds, toCdrRow, type CdrRow } from '../src/cdr/row.js';
import { readTsv } from '../src/cdr/tsv.js';
import { extensionTest } from '../src/detect/channels.js';
import { classifyCall } from '../src/detect/classify.js';
import type { Verdict } from '../src/detect/verdict.js';
import { Syncer } from '../src/sync/cycle.js';
import { dashboardData } from '../src/web/dashboard-queries.js';
import { addDays } from '../src/web/filters.js';
import { TenantScope } from '../src/web/tenant-scope.js';
import { fixtureText, freshDatabases, insertCdrRows, labFixturePath, repoRoot, type FreshDatabases } from './harness/db.js';
import { checkCalls, checkEntries, labLabels } from './helpers/lab-labels.js';
import { ledgerOf, syncLabSet } from './helpers/lab-replay.js';

// Issue 24: calls FreePBX's own applications make are not inbound calls. Real CDR rows a
// FreePBX 17.0.28 (paging, conferences and parking modules added) wrote for a page to a page
// group, an intercom call, a conference, a parked call retrieved and a *97 call, with every
// call those applications started by themselves (the companions), next to four real inbound
// calls, one of them an outside caller paging the office (test/fixtures/freepbx17-internal/README.md).

const SET = 'freepbx17-internal';

// Hand count of the calls that came in from outside (the carrier trunk), from the scenario
// table in the set's README: S23 (answered by 101, then parked and retrieved by 102), S25 (queue
// 400, nobody answered: missed), S26 (hung up in the IVR: abandoned), S27 (DID 5551009 pages
// the office; the paged phones auto-answered: answered). Everything else — the page from 103,
// the intercom call, both conference legs, the retrieval, *97 and the 8 companion calls of the
// two pages — started inside the PBX. So: 4 inbound calls, 1 missed, 1 abandoned, miss rate 1/4.
const HAND_COUNT = { inbound: 4, missed: 1, abandoned: 1 };

const cdrRows = () => readTsv(fixtureText('cdr.tsv', SET));
const celRows = () => readTsv(fixtureText('cel.tsv', SET));
const smc = (...args: string[]) =>
  execFileSync(process.execPath, [join(repoRoot(), 'build', 'smc.js'), 'explain', '--cdr-file', labFixturePath('cdr.tsv', SET), ...args], { encoding: 'utf8' })
    .trim().split('\n').map((line) => JSON.parse(line) as Verdict);

/** The labelled calls that have CDR rows (a parking retrieval may leave none of its own). */
const classifiable = () => labLabels(SET).calls.filter((c) => (c as { cdr_rows?: number }).cdr_rows !== 0);

/** What each non-inbound call must look like, whichever path classified it. */
function assertNeverInbound(verdicts: Map<string, Pick<Verdict, 'direction' | 'verdict' | 'answeredBy' | 'explanation'>>, path: string): void {
  const internal = classifiable().filter((c) => c.kind === 'internal');
  assert.ok(internal.length >= 6, `${path}: ${internal.length} internal calls`);
  for (const call of internal) {
    const v = verdicts.get(call.linkedid);
    assert.ok(v, `${path}: ${call.scenario} (${call.linkedid}) was not classified`);
    assert.equal(v.direction, 'internal', `${path}: ${call.scenario} direction`);
    assert.equal(v.answeredBy, null, `${path}: ${call.scenario} answered by`);
    if (v.explanation.length) assert.match(v.explanation.join(' '), /not an inbound call|internal calls are never missed/i, `${path}: ${call.scenario} says why`);
  }
}

test('the internal set is whole: labels agree with CEL, every CDR row has its insert time, companions were recorded', () => {
  const labels = JSON.parse(fixtureText('labels.json', SET)) as { consistency_problems: string[] };
  assert.deepEqual(labels.consistency_problems, []);
  const inserted = new Set(readTsv(fixtureText('cdr_insert_log.tsv', SET)).map((r) => `${r.uniqueid}|${r.sequence}`));
  const rows = cdrRows();
  assert.equal(inserted.size, rows.length);
  for (const row of rows) assert.ok(inserted.has(`${row.uniqueid}|${row.sequence}`), `row ${row.uniqueid}/${row.sequence} has an insert time`);
  const { calls } = labLabels(SET);
  assert.ok(calls.some((c) => c.scenario.startsWith('S20.companion')), 'the page started calls of its own');
  assert.equal(calls.filter((c) => c.kind === 'inbound').length, HAND_COUNT.inbound);
});

test('explain path: pages, intercom, conference, parking and *97 are internal; the outside calls keep their verdicts', () => {
  const result = explainRows(cdrRows());
  assert.equal(result.badRows, 0);
  const verdicts = new Map(result.calls.map((v) => [v.linkedid, v]));
  checkCalls(verdicts, { set: SET, knownGaps: new Set(labLabels(SET).calls.filter((c) => (c as { cdr_rows?: number }).cdr_rows === 0).map((c) => c.scenario)) });
  assertNeverInbound(verdicts, 'explain');
  assert.deepEqual(result.calls.filter((v) => v.direction === 'inbound').map((v) => v.verdict).sort(), ['abandoned', 'answered', 'answered', 'missed']);
  // An outside caller paging the office: the page's Local/PAGE101@app-paging legs are phones 101
  // and 102 auto-answering (their channels answered), not `external:PAGE101`, not an abandon.
  const page = verdicts.get(labLabels(SET).calls.find((c) => c.scenario === 'S27.call')!.linkedid)!;
  assert.deepEqual([page.verdict, page.rang.map((r) => r.ext)], ['answered', ['101', '102']]);
  assert.ok(['101', '102'].includes(page.answeredBy ?? ''), `the page was answered by ${page.answeredBy}`);
  checkEntries(result.entries, undefined, { set: SET });
});

test('with CEL on, every labelled call of the internal set is right, the ones with no CDR row included, and nothing is inbound that was not', () => {
  const result = explainRows(cdrRows(), { cel: celRows() });
  const verdicts = new Map(result.calls.map((v) => [v.linkedid, v]));
  checkCalls(verdicts, { set: SET });
  assertNeverInbound(verdicts, 'explain with CEL');
  checkEntries(result.entries, undefined, { set: SET });
});

test('live sync path with CEL on: the same verdicts and entries', async () => {
  const db = await freshDatabases('fpbx17int_cel');
  try {
    await syncLabSet(db, SET, true);
    const { calls, entries, history } = await ledgerOf(db);
    checkCalls(calls, { set: SET });
    checkEntries(entries, history, { set: SET });
  } finally {
    await db.cleanup();
  }
});

test('`smc explain --json` on the internal set says the same (the service\'s code path)', () => {
  const verdicts = new Map(smc('--json').map((v) => [v.linkedid, v]));
  assertNeverInbound(verdicts, 'smc explain');
  assert.equal([...verdicts.values()].filter((v) => v.direction === 'inbound').length, HAND_COUNT.inbound);
});

/**
 * CRAFTED, not recorded: the lab has no FreePBX application that dials out by itself. A call
 * some application (a reminder, a wake-up call) starts on a Local channel and sends out a trunk:
 * neither an extension's call nor one from outside — direction and verdict "other".
 */
function craftedOtherCall(calldate: string): CdrRow {
  return toCdrRow({
    calldate, clid: '', src: '', dst: 's', dcontext: 'custom-reminder', channel: 'Local/s@custom-reminder-000000a1;2',
    dstchannel: 'PJSIP/carrier-000000a2', lastapp: 'Dial', lastdata: 'PJSIP/0722000120@carrier,60', duration: 20, billsec: 12,
    disposition: 'ANSWERED', uniqueid: '1796249999.901', linkedid: '1796249999.901', sequence: 901, did: '', cnum: '', cnam: '', outbound_cnum: '',
  });
}

test('crafted: a call an application sends out a trunk is "other", and says why it is not inbound', () => {
  const v = classifyCall([craftedOtherCall('2026-12-02 22:00:00')], { isExtension: extensionTest(''), queueAbandonMinWait: 10, countIvrAbandon: false });
  assert.deepEqual([v.direction, v.verdict, v.answeredBy, v.reasons], ['other', 'other', null, ['not_from_outside']]);
  assert.deepEqual(v.explanation, ['Neither placed by an extension nor come in from outside (custom-reminder): counted as other, never as an inbound call.']);
});

let db: FreshDatabases;
before(async () => {
  db = await freshDatabases('fpbx17internal');
});
after(async () => {
  await db.cleanup();
});

test('live sync path: the calls land as internal, and the dashboard counts exactly the hand-counted inbound calls', async () => {
  const [[now]] = (await db.pool.query<RowDataPacket[]>('SELECT NOW() AS now, CURDATE() AS today')) as unknown as [[{ now: string; today: string }]];
  // The set's rows moved to end ten minutes ago, in the order FreePBX INSERTed them.
  const rows: CdrRow[] = cdrRows().map((r) => toCdrRow(r));
  const first = Math.min(...rows.map((r) => naiveSeconds(r.calldate)));
  const startAt = naiveSeconds(String(now.now)) - 900;
  const moved = rows.map((r) => ({ ...r, calldate: naiveDatetime(naiveSeconds(r.calldate) - first + startAt) }));
  await insertCdrRows(db.pool, db.names.cdr, moved);
  const report = await new Syncer(db.pool, { ...db.config, sync: { ...db.config.sync, settleSeconds: 0 } }).cycle();
  assert.equal(report.classified, new Set(rows.map((r) => r.linkedid)).size);

  const [stored] = await db.pool.query<RowDataPacket[]>('SELECT linkedid, verdict, direction, answered_by, rang, explanation FROM smart_missed_calls_calls');
  const verdicts = new Map(stored.map((c) => [String(c.linkedid), {
    verdict: c.verdict, direction: c.direction, answeredBy: c.answered_by, rang: JSON.parse(c.rang), explanation: JSON.parse(c.explanation ?? '[]'),
  }]));
  checkCalls(verdicts, { set: SET, knownGaps: new Set(labLabels(SET).calls.filter((c) => (c as { cdr_rows?: number }).cdr_rows === 0).map((c) => c.scenario)) });
  assertNeverInbound(verdicts, 'sync');

  const today = String(now.today);
  const d = await dashboardData(new TenantScope(db.pool, 'default'), { from: addDays(today, -1), to: today, route: '', did: '' }, today);
  assert.deepEqual(
    { inbound: d.kpis.inbound, missed: d.kpis.missed, missRate: d.kpis.missRate },
    { inbound: HAND_COUNT.inbound, missed: HAND_COUNT.missed, missRate: HAND_COUNT.missed / HAND_COUNT.inbound },
  );
  const [[abandoned]] = (await db.pool.query<RowDataPacket[]>(
    "SELECT COALESCE(SUM(calls), 0) AS n FROM smart_missed_calls_daily WHERE tenant = 'default' AND direction = 'inbound' AND verdict = 'abandoned'",
  )) as unknown as [[{ n: number }]];
  assert.equal(Number(abandoned.n), HAND_COUNT.abandoned);
  assert.deepEqual(d.routes.map((r) => r.inbound).reduce((a, b) => a + b, 0), HAND_COUNT.inbound, 'per-route inbound figures add up to the same calls');

  // The crafted "other" call joins the table and none of the inbound figures.
  await insertCdrRows(db.pool, db.names.cdr, [craftedOtherCall(naiveDatetime(startAt + 60))]);
  await new Syncer(db.pool, { ...db.config, sync: { ...db.config.sync, settleSeconds: 0 } }).cycle();
  const [[other]] = (await db.pool.query<RowDataPacket[]>("SELECT direction, verdict FROM smart_missed_calls_calls WHERE linkedid = '1796249999.901'")) as unknown as [[{ direction: string; verdict: string }]];
  assert.deepEqual({ ...other }, { direction: 'other', verdict: 'other' });
  const again = await dashboardData(new TenantScope(db.pool, 'default'), { from: addDays(today, -1), to: today, route: '', did: '' }, today);
  assert.deepEqual([again.kpis.inbound, again.kpis.missed], [HAND_COUNT.inbound, HAND_COUNT.missed]);
});
