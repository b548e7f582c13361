/**
 * The dashboard's call counts come from rollups the ledger keeps beside the calls rows
 * (src/ledger/rollup.ts). Whatever the ledger did — new calls, replays, reclassified calls
 * that changed verdict, hour, day, route or DID, a forgotten number — the figures must
 * equal those counted straight from smart_missed_calls_calls, as the dashboard did before;
 * so must each caller's count of missed calls (test/dashboard-frequent.test.ts uses it).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { DEFAULT_SETTINGS } from '../src/config/schema.js';
import { inTransaction } from '../src/db/pool.js';
import { migrate, MIGRATIONS } from '../src/db/migrations.js';
import type { Verdict } from '../src/detect/verdict.js';
import { forgetNumber } from '../src/ledger/actions.js';
import { rollupDeltas } from '../src/ledger/rollup.js';
import { recordCalls } from '../src/ledger/store.js';
import { dashboardData } from '../src/web/dashboard-queries.js';
import type { RangeFilter } from '../src/web/filters.js';
import { TenantScope } from '../src/web/tenant-scope.js';
import { freshDatabases, type FreshDatabases } from './harness/db.js';
import { callVerdict } from './helpers/ledger-calls.js';

let db: FreshDatabases;

before(async () => {
  db = await freshDatabases('rollup');
});

after(async () => {
  await db.cleanup();
});

/** Through the real ledger, with a digest per version of the call's rows. */
async function record(verdicts: Verdict[], rows = 'v1'): Promise<void> {
  await inTransaction(db.pool, (conn) =>
    recordCalls(conn, db.auditKey, 'default', verdicts.map((verdict) => ({ verdict, rowsDigest: `${verdict.linkedid}:${rows}`.padEnd(40, '0').slice(0, 40) })), DEFAULT_SETTINGS),
  );
}

/** The four call-count figures as the dashboard computed them from the calls rows before the rollups. */
async function fromCalls(f: RangeFilter) {
  const scope = new TenantScope(db.pool, 'default');
  const conditions = [f.did ? ' AND did = ?' : '', f.route ? ' AND route_kind = ? AND route_id = ?' : ''].join('');
  const p = [`${f.from} 00:00:00`, `${f.to} 23:59:59`, ...(f.did ? [f.did] : []), ...(f.route ? f.route.split(':') : [])];
  const inRange = `tenant = @tenant AND started_at >= ? AND started_at <= ?${conditions}`;
  const [totals] = await scope.rows<{ inbound: number; missed: number }>(
    `SELECT COUNT(*) AS inbound, COALESCE(SUM(verdict = 'missed'), 0) AS missed FROM smart_missed_calls_calls
      WHERE ${inRange} AND direction = 'inbound' AND verdict IN ('missed', 'answered', 'abandoned')`, p);
  const daily = await scope.rows<{ d: string; missed: number; answered: number }>(
    `SELECT DATE(started_at) AS d, SUM(verdict = 'missed') AS missed, SUM(verdict = 'answered') AS answered
       FROM smart_missed_calls_calls WHERE ${inRange} AND direction = 'inbound' GROUP BY d ORDER BY d`, p);
  const cells = await scope.rows<{ wd: number; h: number; n: number }>(
    `SELECT WEEKDAY(started_at) AS wd, HOUR(started_at) AS h, COUNT(*) AS n FROM smart_missed_calls_calls
      WHERE ${inRange} AND verdict = 'missed' GROUP BY wd, h`, p);
  const routes = await scope.rows<{ kind: string; id: string; inbound: number; missed: number }>(
    `SELECT route_kind AS kind, route_id AS id, COUNT(*) AS inbound, SUM(verdict = 'missed') AS missed
       FROM smart_missed_calls_calls WHERE ${inRange} AND direction = 'inbound' AND verdict IN ('missed', 'answered', 'abandoned')
      GROUP BY route_kind, route_id ORDER BY inbound DESC, kind, id`, p);
  const heatmap = Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
  for (const c of cells) heatmap[Number(c.wd)]![Number(c.h)] = Number(c.n);
  return {
    inbound: Number(totals?.inbound ?? 0),
    missed: Number(totals?.missed ?? 0),
    daily: daily.map((r) => ({ day: String(r.d), missed: Number(r.missed), answered: Number(r.answered) })).filter((x) => x.missed || x.answered),
    heatmap,
    routes: routes.map((r) => ({ kind: r.kind, id: r.id, inbound: Number(r.inbound), missed: Number(r.missed) })),
  };
}

async function fromDashboard(f: RangeFilter) {
  const d = await dashboardData(new TenantScope(db.pool, 'default'), f, f.to);
  return {
    inbound: d.kpis.inbound,
    missed: d.kpis.missed,
    daily: d.daily.filter((x) => x.missed || x.answered),
    heatmap: d.heatmap,
    routes: [...d.routes].sort((a, b) => b.inbound - a.inbound || a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id)),
  };
}

/** Every bucket of both rollups against a GROUP BY over the calls rows (zero buckets aside). */
async function assertRollupsMatchCalls(): Promise<void> {
  const pairs = [
    [
      'SELECT tenant, day, direction, verdict, route_kind, route_id, did, calls FROM smart_missed_calls_daily WHERE calls <> 0',
      `SELECT tenant, DATE(started_at) AS day, direction, verdict, route_kind, route_id, did, COUNT(*) AS calls FROM smart_missed_calls_calls
        GROUP BY tenant, day, direction, verdict, route_kind, route_id, did`,
    ],
    [
      'SELECT tenant, day, hour, route_kind, route_id, did, calls FROM smart_missed_calls_missed_hours WHERE calls <> 0',
      `SELECT tenant, DATE(started_at) AS day, HOUR(started_at) AS hour, route_kind, route_id, did, COUNT(*) AS calls FROM smart_missed_calls_calls
        WHERE verdict = 'missed' GROUP BY tenant, day, hour, route_kind, route_id, did`,
    ],
    [
      'SELECT tenant, caller_key, calls FROM smart_missed_calls_caller_misses WHERE calls <> 0',
      `SELECT tenant, caller_key, COUNT(*) AS calls FROM smart_missed_calls_calls
        WHERE verdict = 'missed' AND caller_key <> 'anonymous' GROUP BY tenant, caller_key`,
    ],
  ];
  for (const [rollup, calls] of pairs) {
    const rows = async (sql: string) => {
      const [r] = await db.pool.query<RowDataPacket[]>(sql);
      return r.map((x) => JSON.stringify({ ...x, calls: Number(x.calls) })).sort();
    };
    assert.deepEqual(await rows(rollup!), await rows(calls!), rollup);
  }
}

const WEEK: RangeFilter = { from: '2026-11-16', to: '2026-11-26', route: '', did: '' };

test('new, replayed and reclassified calls keep the dashboard figures equal to the calls rows', async () => {
  const at = (day: number, hour: number, minute = 0) => `2026-11-${String(day).padStart(2, '0')} ${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}:00`;
  const first: Verdict[] = [
    callVerdict('missed', { caller: '0722100001', at: at(20, 9) }),
    callVerdict('missed', { caller: '0722100001', at: at(20, 9, 30) }),
    callVerdict('missed', { caller: '0722100002', did: '0215550101', at: at(21, 14) }),
    callVerdict('answered', { caller: '0722100003', at: at(21, 14, 5) }),
    { ...callVerdict('answered', { caller: '0722100004', at: at(22, 23, 59) }), route: { kind: 'ringgroup', id: '600', label: 'Support' } },
    callVerdict('callback', { caller: '0722100001', at: at(22, 10) }),
    { ...callVerdict('missed', { caller: '0722100005', at: at(23, 8) }), verdict: 'abandoned' },
  ];
  await record(first);
  await assertRollupsMatchCalls();

  // The same rows again, in another batch and mixed with a new call: nothing moves twice.
  const fresh = callVerdict('missed', { caller: '0722100006', did: '0215550101', at: at(24, 11) });
  await record([...first.slice(0, 3), fresh]);
  await assertRollupsMatchCalls();

  // Late rows change calls: a miss becomes answered on another DID; an answer becomes a miss
  // that started the day before in another hour on another route; a miss stays a miss but
  // moves hour; the callback changes nothing countable.
  const reclassified: Verdict[] = [
    { ...first[0]!, verdict: 'answered', did: '0215550102', answeredBy: '101' },
    { ...first[3]!, verdict: 'missed', startedAt: at(20, 22), route: { kind: 'ivr', id: '1', label: 'Menu' } },
    { ...first[2]!, startedAt: at(21, 13, 58) },
    first[5]!,
  ];
  await record(reclassified, 'v2');
  await assertRollupsMatchCalls();

  for (const f of [WEEK, { ...WEEK, did: '0215550101' }, { ...WEEK, route: 'queue:400' }, { ...WEEK, from: '2026-11-21', to: '2026-11-21' }]) {
    assert.deepEqual(await fromDashboard(f), await fromCalls(f), JSON.stringify(f));
  }
  const all = await fromDashboard(WEEK);
  assert.equal(all.inbound, 7);
  assert.equal(all.missed, 4, "0722100001's second miss, 0722100002, 0722100006 and the answer reclassified as a miss");

  // Forgetting a number deletes its calls rows; the rollups leave them too, and its own
  // per-caller row goes, not left at 0 with the number in it.
  const callerRows = async (key: string) =>
    ((await db.pool.query<RowDataPacket[]>('SELECT calls FROM smart_missed_calls_caller_misses WHERE caller_key = ?', [key]))[0]).map((r) => Number(r.calls));
  assert.deepEqual(await callerRows('722100002'), [1]);
  await forgetNumber(db.pool, db.auditKey, '0722100002', 'test');
  assert.deepEqual(await callerRows('722100002'), []);
  await assertRollupsMatchCalls();
  assert.deepEqual(await fromDashboard(WEEK), await fromCalls(WEEK));
});

test('a replay into the same bucket writes nothing; a moved call leaves one bucket and enters another', () => {
  const call = { tenant: 'default', startedAt: '2026-11-20 09:15:00', direction: 'inbound', verdict: 'missed', routeKind: 'queue', routeId: '400', did: '021', callerKey: '722100001' };
  assert.deepEqual(rollupDeltas([call], [{ ...call, startedAt: '2026-11-20 09:45:00' }]), { days: [], missedHours: [], callerMisses: [] });
  const moved = rollupDeltas([call], [{ ...call, verdict: 'answered', startedAt: '2026-11-20 10:00:00' }]);
  assert.deepEqual(moved.days.map((d) => `${d.verdict}:${d.calls}`).sort(), ['answered:1', 'missed:-1']);
  assert.deepEqual(moved.missedHours.map((d) => `${d.hour}:${d.calls}`), ['9:-1']);
  assert.deepEqual(moved.callerMisses.map((d) => `${d.callerKey}:${d.calls}`), ['722100001:-1']);
  // A miss that now names another number moves between callers; an anonymous one is nobody's.
  const renamed = rollupDeltas([call], [{ ...call, callerKey: '722100002' }, { ...call, callerKey: 'anonymous' }]);
  assert.deepEqual(renamed.callerMisses.map((d) => `${d.callerKey}:${d.calls}`).sort(), ['722100001:-1', '722100002:1']);
  assert.throws(() => rollupDeltas([], [{ ...call, startedAt: 'yesterday' }]), /no day and hour/);
});

test('the migration fills the rollups from the calls already stored', async () => {
  await record([
    callVerdict('missed', { caller: '0722200001', at: '2026-10-02 08:00:00' }),
    callVerdict('answered', { caller: '0722200002', at: '2026-10-03 17:30:00' }),
  ]);
  // As before the upgrade: calls stored, no rollups, step 7 not applied.
  await db.pool.query('DROP TABLE smart_missed_calls_daily, smart_missed_calls_missed_hours');
  await db.pool.query('DELETE FROM smart_missed_calls_migrations WHERE version = 7');
  assert.deepEqual(await migrate(db.pool), [7]);
  // Step 7 made the tables as they were then; the later step that keys them by pbx too, again.
  for (const sql of MIGRATIONS.find((m) => m.version === 10)!.statements.filter((s) => /TABLE smart_missed_calls_(daily|missed_hours) /.test(s))) await db.pool.query(sql);
  const [[{ n }]] = (await db.pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM smart_missed_calls_daily')) as unknown as [[{ n: number }]];
  assert.ok(Number(n) > 0);
  await assertRollupsMatchCalls();
  const f = { from: '2026-10-01', to: '2026-11-26', route: '', did: '' };
  assert.deepEqual(await fromDashboard(f), await fromCalls(f));
});

test("migration 13 counts each caller's missed calls from the calls already stored", async () => {
  await record([
    callVerdict('missed', { caller: '0722400001', at: '2026-09-02 08:00:00' }),
    callVerdict('missed', { caller: '0722400001', at: '2026-09-03 08:00:00' }),
    callVerdict('answered', { caller: '0722400002', at: '2026-09-03 17:30:00' }),
  ]);
  // As before the upgrade: calls stored, no per-caller counts, step 13 not applied.
  await db.pool.query('DROP TABLE smart_missed_calls_caller_misses');
  await db.pool.query('DELETE FROM smart_missed_calls_migrations WHERE version = 13');
  assert.deepEqual(await migrate(db.pool), [13]);
  const [rows] = await db.pool.query<RowDataPacket[]>("SELECT calls FROM smart_missed_calls_caller_misses WHERE caller_key = '722400001'");
  assert.deepEqual(rows.map((r) => Number(r.calls)), [2]);
  await assertRollupsMatchCalls();
});

test("a whole year's figures, the totals summed from its days, equal the calls rows'", async () => {
  const calls: Verdict[] = [];
  for (let m = 0; m < 12; m++) {
    const month = `${m === 0 ? '2025-12' : `2026-${String(m).padStart(2, '0')}`}`;
    for (const day of [1, 15, 28]) {
      const at = (hour: number) => `${month}-${String(day).padStart(2, '0')} ${String(hour).padStart(2, '0')}:10:00`;
      calls.push(
        callVerdict('missed', { caller: `07223${String(m).padStart(2, '0')}${day}0`, at: at(9) }),
        callVerdict('answered', { caller: '0722300001', did: '0215550101', at: at(11) }),
        { ...callVerdict('missed', { caller: '0722300002', at: at(16) }), verdict: 'abandoned' },
        { ...callVerdict('missed', { caller: '0722300003', at: at(23) }), route: { kind: 'ringgroup', id: '600', label: 'Support' } },
      );
    }
  }
  await record(calls);
  await assertRollupsMatchCalls();
  const year: RangeFilter = { from: '2025-11-27', to: '2026-11-26', route: '', did: '' };
  for (const f of [year, { ...year, did: '0215550101' }, { ...year, route: 'ringgroup:600' }, { ...year, from: '2026-02-15', to: '2026-08-15' }]) {
    assert.deepEqual(await fromDashboard(f), await fromCalls(f), JSON.stringify(f));
  }
  const figures = await fromDashboard(year);
  // 35 of the days above fall in the range, 4 inbound calls and 2 misses each (besides the earlier tests' calls).
  assert.ok(figures.inbound >= 140 && figures.missed >= 70, `a year of the calls above is counted: ${figures.inbound} inbound, ${figures.missed} missed`);
});
