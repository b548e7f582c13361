/**
 * Frequent callers over a long range count only the callers whose all-time missed calls can
 * reach the tenth place (src/web/frequent-callers.ts). Whatever path it takes, the ten must
 * be those of grouping every missed call of the range, as the dashboard always did: the same
 * callers, counts, order and ties, with the route/DID filters, after reclassified calls and
 * a forgotten number.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEFAULT_SETTINGS } from '../src/config/schema.js';
import { inTransaction } from '../src/db/pool.js';
import type { Verdict } from '../src/detect/verdict.js';
import { forgetNumber } from '../src/ledger/actions.js';
import { recordCalls } from '../src/ledger/store.js';
import { callersWhoCanRankTop, frequentCallers, topCallers } from '../src/web/frequent-callers.js';
import { addDays, type RangeFilter } from '../src/web/filters.js';
import { TenantScope } from '../src/web/tenant-scope.js';
import { freshDatabases, type FreshDatabases } from './harness/db.js';
import { callVerdict } from './helpers/ledger-calls.js';

let db: FreshDatabases;

before(async () => {
  db = await freshDatabases('frequent');
});

after(async () => {
  await db.cleanup();
});

/** Through the real ledger, with a digest per version of the call's rows (a new version re-evaluates the call). */
async function record(verdicts: Verdict[], rows = 'v1'): Promise<void> {
  await inTransaction(db.pool, (conn) =>
    recordCalls(conn, db.auditKey, 'default', verdicts.map((verdict) => ({ verdict, rowsDigest: `${verdict.linkedid}:${rows}`.padEnd(40, '0').slice(0, 40) })), DEFAULT_SETTINGS),
  );
}

const YEAR: RangeFilter = { from: '2025-12-04', to: '2026-12-03', route: '', did: '' };

function bounds(f: RangeFilter): [string, string] {
  return [`${f.from} 00:00:00`, `${addDays(f.to, 1)} 00:00:00`];
}

/** The dashboard's figure and the plain grouping of the range's missed calls, side by side. */
async function both(f: RangeFilter) {
  const scope = new TenantScope(db.pool, 'default');
  return { shown: await frequentCallers(scope, f, ...bounds(f)), grouped: await topCallers(scope, f, ...bounds(f), null) };
}

/** `n` missed calls from `number`, one a day from `firstDay` at `hour`. */
function misses(number: string, n: number, firstDay: string, o: { hour?: number; did?: string; queue?: string } = {}): Verdict[] {
  return Array.from({ length: n }, (_, i) => {
    const v = callVerdict('missed', { caller: number, did: o.did, at: `${addDays(firstDay, i)} ${String(o.hour ?? 10).padStart(2, '0')}:00:00` });
    return o.queue ? { ...v, route: { kind: 'queue', id: o.queue, label: `Queue ${o.queue}` } } : v;
  });
}

test('frequent callers counted among the callers who can rank equal the plain grouping: ranges, filters, ties, changes', { timeout: 120_000 }, async () => {
  const calls: Verdict[] = [];
  // 45 callers with most of their misses long before the year: the all-time leaders, 2 each in it.
  for (let i = 0; i < 45; i++) {
    const number = `07225${String(i).padStart(5, '0')}`;
    calls.push(...misses(number, 5, '2024-12-01', { hour: 9 }), ...misses(number, 2, '2026-03-01', { hour: 9 }));
  }
  // Callers of the year alone, fewer misses of all time than the leaders: 9, 8, 7, 6, 6, 6 and
  // five with 5 for the last four places (ties broken by the number shown, the greatest of a
  // caller's spellings); one of the five in two spellings, one on another DID and queue for
  // part of its misses.
  const recent = [9, 8, 7, 6, 6, 6, 5, 5, 5, 5, 5];
  recent.forEach((n, i) => {
    const number = `07226000${String(i).padStart(2, '0')}`;
    if (i === 7) calls.push(...misses(number, 3, '2026-06-01'), ...misses(`0040${number.slice(1)}`, n - 3, '2026-07-01'));
    else if (i === 8) calls.push(...misses(number, 2, '2026-06-01'), ...misses(number, n - 2, '2026-08-01', { did: '0215550199', queue: '401' }));
    else calls.push(...misses(number, n, '2026-06-01', { hour: 11 + (i % 5) }));
  });
  // One miss each from callers who can never rank, and hidden numbers, which never do.
  for (let i = 0; i < 12; i++) calls.push(...misses(`07227000${String(i).padStart(2, '0')}`, 1, '2026-10-01'));
  calls.push(...misses('anonymous', 12, '2026-10-01'));
  await record(calls);

  const scope = new TenantScope(db.pool, 'default');
  const candidates = await callersWhoCanRankTop(scope, YEAR, ...bounds(YEAR));
  assert.ok(candidates, 'the year is counted among the callers who can rank');
  assert.ok(candidates.length < 45 + recent.length + 12, `fewer callers counted than have missed calls: ${candidates.length}`);
  assert.ok(candidates.includes('722600010'), 'a caller outside the all-time leaders who reaches the bar is counted');

  const { shown, grouped } = await both(YEAR);
  assert.deepEqual(shown, grouped);
  assert.deepEqual(
    shown.map((c) => `${c.caller}:${c.missed}`),
    ['0722600000:9', '0722600001:8', '0722600002:7', '0722600003:6', '0722600004:6', '0722600005:6',
      '0722600006:5', '0722600007:5', '0722600008:5', '0722600009:5'],
    'ties at 5 by the number: 0722600010 is the fifth of five',
  );

  const ranges: RangeFilter[] = [
    { ...YEAR, did: '0215550199' },
    { ...YEAR, route: 'queue:400' },
    { ...YEAR, route: 'queue:401' },
    { ...YEAR, from: '2024-12-04' },
    { ...YEAR, from: '2026-06-01', to: '2026-06-05' },
    { ...YEAR, from: '2026-06-03', to: '2026-06-03' },
    { ...YEAR, from: '2025-01-01', to: '2025-12-31' },
  ];
  for (const f of [YEAR, ...ranges]) {
    const r = await both(f);
    assert.deepEqual(r.shown, r.grouped, JSON.stringify(f));
  }

  // Late rows turn three of the leader's misses into answered calls; a number is forgotten.
  await record(calls.filter((c) => c.caller === '0722600000').slice(0, 3).map((c) => ({ ...c, verdict: 'answered', answeredBy: '101' })), 'v2');
  await forgetNumber(db.pool, db.auditKey, '0722600001', 'test');
  const changed = await both(YEAR);
  assert.deepEqual(changed.shown, changed.grouped);
  assert.deepEqual(changed.shown.slice(0, 2).map((c) => `${c.caller}:${c.missed}`), ['0722600002:7', '0722600000:6']);
  for (const f of ranges) {
    const r = await both(f);
    assert.deepEqual(r.shown, r.grouped, JSON.stringify(f));
  }
});
