/**
 * The dashboard's "called back within target" from stored due times (one SQL aggregate,
 * src/ledger/target-due.ts) equals the same share placed entry by entry on the business clock:
 * business hours in the tenant's zone, a route with a target of its own, every way an entry
 * ends, over three weeks. The same entries are counted before the notifier stored their due
 * times and after.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { loadSettings, saveSettings } from '../../src/config/settings-store.js';
import type { Route } from '../../src/detect/verdict.js';
import { BusinessClock, entryTargetMinutes, instantOfLocal, naiveMs } from '../../src/ledger/callback-target.js';
import { refreshTargetDue } from '../../src/ledger/target-due.js';
import { withinTarget } from '../../src/web/dashboard-queries.js';
import { TenantScope } from '../../src/web/tenant-scope.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { callVerdict, plusMinutes, record } from '../helpers/ledger-calls.js';

const ZONE = 'UTC';
let db: FreshDatabases;
let now = '';

/** A small deterministic generator: the same entries on every run. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

before(async () => {
  db = await freshDatabases('targetstored');
  const settings = await saveSettings(db.pool, 'default', {
    callbackTargetMinutes: 30, callbackTargetRoutes: [{ route: 'ringgroup:600', minutes: 120 }], businessHours: 'mon-fri 09:00-17:00; sat 10:00-13:00', timezone: 'Europe/Bucharest',
  }, 'test');
  const [[row]] = (await db.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  now = String(row.now).slice(0, 19);
  const clock = new BusinessClock(settings);
  const nowMs = instantOfLocal(naiveMs(now), ZONE);
  const next = random(20261203);
  const ways = ['open', 'returned', 'manual', 'answered_later', 'expired', 'reclassified'] as const;
  let made = 0;
  for (let n = 0; made < 80 && n < 1000; n++) {
    const firstMiss = plusMinutes(now, -Math.floor(next() * 21 * 24 * 60));
    const route: Route = next() < 0.3 ? { kind: 'ringgroup', id: '600', label: 'Support' } : { kind: 'queue', id: '400', label: 'Sales queue' };
    const due = clock.addBusinessMinutes(instantOfLocal(naiveMs(firstMiss), ZONE), entryTargetMinutes(settings, { anonymous: false, routeKind: route.kind, routeId: route.id }));
    // Both counts read NOW() a moment apart: no entry falls due in between.
    if (Math.abs(due - nowMs) < 10 * 60_000) continue;
    const caller = `07220${String(10_000 + made).slice(1)}`;
    const { events } = await record(db.pool, 'default', [{ ...callVerdict('missed', { caller, at: firstMiss }), route }]);
    const id = events[0]!.entry.id!;
    const way = ways[Math.floor(next() * ways.length)]!;
    if (way !== 'open') {
      // Cleared some time after the first miss, before now; whether in time is the point.
      const longest = next() < 0.6 ? 18 * 60 : 3 * 24 * 60;
      const clearedAt = plusMinutes(firstMiss, Math.floor(next() * Math.min(longest, (nowMs - instantOfLocal(naiveMs(firstMiss), ZONE)) / 60_000)));
      await db.pool.query("UPDATE smart_missed_calls SET status = 'cleared', cleared_by = ?, cleared_at = ? WHERE id = ?", [way, clearedAt, id]);
    }
    made += 1;
  }
  assert.equal(made, 80);
});

after(async () => {
  await db?.cleanup();
});

test('the within-target share from stored due times equals the one placed on the business clock entry by entry', async () => {
  const scope = new TenantScope(db.pool, 'default');
  const range = ['tenant = @tenant AND last_attempt >= ? AND last_attempt < ?', [plusMinutes(now, -22 * 24 * 60), plusMinutes(now, 60)]] as const;
  const target = { settings: await loadSettings(db.pool, 'default'), zone: ZONE };
  const placed = await withinTarget(scope, range[0], [...range[1]], target);
  assert.ok(placed && placed.counted > 20 && placed.within > 5, JSON.stringify(placed));

  assert.equal(await refreshTargetDue(db.pool, ZONE, 'default', target.settings), 80);
  const stored = await withinTarget(scope, range[0], [...range[1]], target);
  assert.deepEqual(stored, placed);
});
