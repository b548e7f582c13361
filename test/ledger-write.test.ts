/**
 * The ledger writes a batch's calls rows in several INSERTs of fixed sizes (prepared
 * statements, src/ledger/store.ts): a backfill's transaction holds up to 2000 calls. Every
 * call must still be stored once with its own values, a replay must write nothing, and the
 * dashboard's rollups must equal a GROUP BY over the calls rows.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { DEFAULT_SETTINGS } from '../src/config/schema.js';
import { naiveDatetime, naiveSeconds } from '../src/cdr/row.js';
import { inTransaction } from '../src/db/pool.js';
import type { Verdict } from '../src/detect/verdict.js';
import { recordCalls, type RecordResult } from '../src/ledger/store.js';
import { freshDatabases, type FreshDatabases } from './harness/db.js';
import { callVerdict } from './helpers/ledger-calls.js';

let db: FreshDatabases;

before(async () => {
  db = await freshDatabases('ledgerwrite');
});

after(async () => {
  await db.cleanup();
});

async function record(verdicts: Verdict[], version: string): Promise<RecordResult> {
  return inTransaction(db.pool, (conn) =>
    recordCalls(conn, db.auditKey, 'default', verdicts.map((verdict) => ({ verdict, rowsDigest: `${verdict.linkedid}:${version}`.padEnd(40, '0').slice(0, 40) })), DEFAULT_SETTINGS, { notify: false }),
  );
}

async function rows(sql: string): Promise<string[]> {
  const [r] = await db.pool.query<RowDataPacket[]>(sql);
  return r.map((x) => JSON.stringify({ ...x, calls: Number(x.calls) })).sort();
}

async function assertRollupsMatchCalls(): Promise<void> {
  assert.deepEqual(
    await rows('SELECT tenant, day, direction, verdict, route_kind, route_id, did, calls FROM smart_missed_calls_daily WHERE calls <> 0'),
    await rows(`SELECT tenant, DATE(started_at) AS day, direction, verdict, route_kind, route_id, did, COUNT(*) AS calls
                  FROM smart_missed_calls_calls GROUP BY tenant, day, direction, verdict, route_kind, route_id, did`),
  );
  assert.deepEqual(
    await rows('SELECT tenant, day, hour, route_kind, route_id, did, calls FROM smart_missed_calls_missed_hours WHERE calls <> 0'),
    await rows(`SELECT tenant, DATE(started_at) AS day, HOUR(started_at) AS hour, route_kind, route_id, did, COUNT(*) AS calls
                  FROM smart_missed_calls_calls WHERE verdict = 'missed' GROUP BY tenant, day, hour, route_kind, route_id, did`),
  );
}

test('a batch of more calls than one INSERT takes is stored whole, a replay writes nothing, and the rollups equal a GROUP BY', async () => {
  // 2000 + 301 calls: whole statements and every smaller size (256 + 32 + 8 + 4 + 1 for the 301).
  const start = naiveSeconds('2026-10-01 08:00:00');
  const kinds = ['missed', 'answered', 'callback'] as const;
  const calls = Array.from({ length: 2301 }, (_, i) =>
    callVerdict(kinds[i % 3]!, { caller: `07221${String(i % 700).padStart(5, '0')}`, did: i % 2 ? '0215550101' : '0215550100', at: naiveDatetime(start + i * 617), ext: String(101 + (i % 9)) }),
  );
  const first = await record(calls.slice(0, 2000), 'v1');
  const second = await record(calls.slice(2000), 'v1');
  assert.equal(first.calls + second.calls, 2301);

  const [stored] = await db.pool.query<RowDataPacket[]>('SELECT linkedid, verdict, caller, started_at, rang, explanation, entry_id FROM smart_missed_calls_calls');
  assert.equal(stored.length, 2301, 'one calls row a call');
  const byId = new Map(stored.map((r) => [String(r.linkedid), r]));
  for (const v of calls) {
    const r = byId.get(v.linkedid);
    assert.ok(r, v.linkedid);
    assert.deepEqual([r.verdict, r.caller, r.started_at, JSON.parse(r.rang), JSON.parse(r.explanation)], [v.verdict, v.caller, v.startedAt, v.rang, v.explanation], v.linkedid);
    if (v.verdict === 'missed') assert.notEqual(r.entry_id, null, `${v.linkedid} names its entry`);
  }
  await assertRollupsMatchCalls();

  const [[{ audit }]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS audit FROM smart_missed_calls_audit')) as unknown as [[{ audit: number }]];
  const replay = await record(calls.slice(0, 2000), 'v1');
  assert.deepEqual([replay.calls, replay.skipped], [0, 2000], 'the same rows again: nothing to do');
  const [[after]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS audit FROM smart_missed_calls_audit')) as unknown as [[{ audit: number }]];
  assert.equal(after.audit, audit, 'nothing journalled twice');

  // Late rows for 300 calls spread over the batch: a miss becomes answered, an answer a miss.
  const changed = calls.filter((_, i) => i % 7 === 0 && i < 2100).map((v): Verdict =>
    v.verdict === 'missed' ? { ...v, verdict: 'answered', answeredBy: '101' } : v.verdict === 'answered' ? { ...v, verdict: 'missed', answeredBy: null } : v,
  );
  const third = await record(changed, 'v2');
  assert.equal(third.calls, changed.length);
  const [again] = await db.pool.query<RowDataPacket[]>('SELECT linkedid, verdict FROM smart_missed_calls_calls');
  const verdicts = new Map(again.map((r) => [String(r.linkedid), String(r.verdict)]));
  assert.equal(verdicts.size, 2301);
  for (const v of changed) assert.equal(verdicts.get(v.linkedid), v.verdict, v.linkedid);
  await assertRollupsMatchCalls();
});
