import type { TenantScope } from './tenant-scope.js';
import { BusinessClock, hasTargets, instantOfLocal, naiveMs, targetKey, targetOutcome, type TargetSettings } from '../ledger/callback-target.js';
import { addDays, daysBetween, routeConditions, type RangeFilter } from './filters.js';
import { frequentCallers, type FrequentCaller } from './frequent-callers.js';

/**
 * The dashboard's aggregates, one grouped query per figure, never one per row. Call counts
 * come from the rollups smart_missed_calls_daily and smart_missed_calls_missed_hours
 * (src/ledger/rollup.ts: a year is tens of thousands of buckets, not ~1 M calls). What
 * they cannot tell — today's count, callers (src/web/frequent-callers.ts), entries, the audit — comes from
 * smart_missed_calls_calls through (tenant, verdict, started_at, …), entries through
 * (tenant, last_attempt, …) / (tenant, status, …) / (tenant, cleared_by, …), the audit
 * through (tenant, event, …).
 */
export interface DashboardData {
  range: RangeFilter;
  kpis: {
    openNow: number;
    missedToday: number;
    inbound: number;
    missed: number;
    missRate: number | null;
    medianCallbackSeconds: number | null;
    clearedByReason: Record<string, number>;
    /** Entries of the range called back within their callback target, of those whose outcome is known; null: no target set. */
    withinTarget: { within: number; counted: number; share: number | null } | null;
    /** Seconds since the last attempt of the longest-waiting open entry (as the wallboard); null when none is open. */
    oldestOpenSeconds: number | null;
  };
  daily: { day: string; missed: number; answered: number }[];
  resolution: Record<string, number>;
  hours: number[];
  /** [weekday 0=Monday][hour] missed calls. */
  heatmap: number[][];
  frequent: FrequentCaller[];
  routes: { kind: string; id: string; inbound: number; missed: number }[];
  callbacks: { ext: string; returned: number; attempts: number }[];
}

/** Whether this tenant has any classified call at all: without one the pages explain themselves instead. */
export async function anyCalls(scope: TenantScope): Promise<boolean> {
  const row = await scope.one<{ found: number }>('SELECT EXISTS (SELECT 1 FROM smart_missed_calls_calls WHERE tenant = @tenant) AS found');
  return Number(row?.found) === 1;
}

export async function todayOf(scope: TenantScope): Promise<string> {
  const [row] = await scope.pool.query('SELECT CURDATE() AS today');
  return String((row as { today: string }[])[0]!.today);
}

/** What the within-target share needs: the tenant's targets and the zone of the ledger's naive times. */
export interface TargetInputs {
  settings: TargetSettings;
  zone: string;
}

/**
 * The range's entries against their callback targets (targetOutcome), only when the tenant
 * has a target. Entries whose due time is stored under the current settings
 * (src/ledger/target-due.ts) are counted by one aggregate over idx_tenant_last; the others
 * (new since the notifier's last pass, or all of them right after the targets changed) are
 * read and placed on one BusinessClock, a few arithmetic steps an entry. `entryRange` is SQL
 * over the entries (tenant = @tenant and a last_attempt range) with its parameters `p`.
 */
export async function withinTarget(scope: TenantScope, entryRange: string, p: unknown[], target: TargetInputs | undefined): Promise<DashboardData['kpis']['withinTarget']> {
  if (!target || !hasTargets(target.settings)) return null;
  const key = targetKey(target.settings, target.zone);
  const [[[{ now }]], [stored], rows] = await Promise.all([
    scope.pool.query('SELECT NOW() AS now') as unknown as Promise<[[{ now: string }]]>,
    // targetOutcome, case by case, on naive times of the ledger's clock.
    scope.rows<{ within: number | null; counted: number | null }>(
      `SELECT
          SUM(status <> 'open' AND cleared_at IS NOT NULL AND NOT (cleared_by <=> 'expired') AND NOT (cleared_by <=> 'answered_later')
              AND cleared_at <= target_due) AS within,
          SUM(CASE WHEN status = 'open' OR cleared_at IS NULL THEN target_due <= NOW()
                   WHEN cleared_by = 'expired' THEN 1
                   WHEN cleared_by = 'answered_later' THEN cleared_at > target_due
                   ELSE 1 END) AS counted
        FROM smart_missed_calls FORCE INDEX (idx_tenant_last)
        WHERE ${entryRange} AND anonymous = 0 AND target_key = ? AND target_due IS NOT NULL AND NOT (cleared_by <=> 'reclassified')`,
      [...p, key],
    ),
    scope.rows<{ route_kind: string; route_id: string; status: string; cleared_by: string | null; first_attempt: string; cleared_at: string | null }>(
      `SELECT route_kind, route_id, status, cleared_by, first_attempt, cleared_at FROM smart_missed_calls FORCE INDEX (idx_tenant_last)
        WHERE ${entryRange} AND anonymous = 0 AND target_key <> ?`,
      [...p, key],
    ),
  ]);
  const clock = new BusinessClock(target.settings);
  const at = (naive: string) => instantOfLocal(naiveMs(String(naive)), target.zone);
  const nowMs = at(now);
  let within = Number(stored?.within ?? 0);
  let counted = Number(stored?.counted ?? 0);
  for (const r of rows) {
    const missedAt = at(r.first_attempt);
    const outcome = targetOutcome(
      { status: r.status, clearedBy: r.cleared_by, clearedAtMs: r.cleared_at === null ? null : at(r.cleared_at) },
      clock.dueAt(missedAt, `${r.route_kind}:${r.route_id}`),
      nowMs,
    );
    if (outcome === null) continue;
    counted += 1;
    if (outcome === 'within') within += 1;
  }
  return { within, counted, share: counted ? within / counted : null };
}

export async function dashboardData(scope: TenantScope, f: RangeFilter, today: string, target?: TargetInputs): Promise<DashboardData> {
  const start = `${f.from} 00:00:00`;
  const end = `${addDays(f.to, 1)} 00:00:00`;
  const rc = routeConditions(f);
  const p = [start, end, ...rc.params];
  const entryRange = `tenant = @tenant AND last_attempt >= ? AND last_attempt < ?${rc.sql}`;
  // DATE(started_at) within [from, to] is started_at within [from 00:00, to + 1 day 00:00).
  const inDays = `tenant = @tenant AND day >= ? AND day <= ?${rc.sql}`;
  const days = [f.from, f.to, ...rc.params];

  // The figures are independent: asked for at once, the page waits for the slowest, not the sum.
  const todayRowQuery = scope.rows<{ n: number }>(
    `SELECT COUNT(*) AS n FROM smart_missed_calls_calls WHERE tenant = @tenant AND started_at >= ? AND verdict = 'missed'${rc.sql}`,
    [`${today} 00:00:00`, ...rc.params],
  );
  const openQuery = scope.rows<{ n: number; oldest_s: number | null }>(
    `SELECT COUNT(*) AS n, TIMESTAMPDIFF(SECOND, MIN(last_attempt), NOW()) AS oldest_s FROM smart_missed_calls WHERE tenant = @tenant AND status = 'open'${rc.sql}`,
    rc.params,
  );
  const withinQuery = withinTarget(scope, entryRange, p, target);
  // Every entry of the range, through the index led by last_attempt: offered
  // idx_tenant_cleared, the optimizer reads the tenant's whole history from it (a year at
  // 100 k entries: 42 → 55 ms).
  const resolutionRowsQuery = scope.rows<{ reason: string; n: number }>(
    `SELECT IF(status = 'open', 'open', cleared_by) AS reason, COUNT(*) AS n FROM smart_missed_calls FORCE INDEX (idx_tenant_last)
      WHERE ${entryRange} GROUP BY reason`,
    p,
  );
  // The entries cleared by a call back alone, through idx_tenant_cleared (a year: 10 k of
  // 53 k entries, 24 → 6 ms); median() sorts them.
  const waitsQuery = scope.rows<{ s: number }>(
    `SELECT TIMESTAMPDIFF(SECOND, last_attempt, cleared_at) AS s FROM smart_missed_calls
      WHERE ${entryRange} AND status = 'cleared' AND cleared_by = 'returned'`,
    p,
  );
  // The range's totals are the sum of its days: one read of the day buckets serves both.
  const dailyRowsQuery = scope.rows<{ d: string; inbound: number; missed: number; answered: number }>(
    `SELECT day AS d, SUM(IF(verdict IN ('missed', 'answered', 'abandoned'), calls, 0)) AS inbound,
            SUM(IF(verdict = 'missed', calls, 0)) AS missed, SUM(IF(verdict = 'answered', calls, 0)) AS answered
       FROM smart_missed_calls_daily WHERE ${inDays} AND direction = 'inbound' GROUP BY d`,
    days,
  );
  const cellsQuery = scope.rows<{ wd: number; h: number; n: number }>(
    `SELECT WEEKDAY(day) AS wd, hour AS h, SUM(calls) AS n FROM smart_missed_calls_missed_hours
      WHERE ${inDays} GROUP BY wd, h`,
    days,
  );
  const frequentQuery = frequentCallers(scope, f, start, end);
  // A bucket emptied by reclassified or forgotten calls stays, at 0: not a route with traffic.
  const routesQuery = scope.rows<{ kind: string; id: string; inbound: number; missed: number }>(
    `SELECT route_kind AS kind, route_id AS id, SUM(calls) AS inbound, SUM(IF(verdict = 'missed', calls, 0)) AS missed
       FROM smart_missed_calls_daily WHERE ${inDays} AND direction = 'inbound' AND verdict IN ('missed', 'answered', 'abandoned')
      GROUP BY route_kind, route_id HAVING inbound > 0 ORDER BY inbound DESC LIMIT 20`,
    days,
  );
  const callbackRowsQuery = scope.rows<{ ext: string; returned: number; attempts: number }>(
    `SELECT ext, SUM(event = 'cleared') AS returned, SUM(event = 'callback_attempted') AS attempts
       FROM smart_missed_calls_audit
      WHERE tenant = @tenant AND created_at >= ? AND created_at < ? AND ext IS NOT NULL
        AND (event = 'callback_attempted' OR (event = 'cleared' AND reason = 'returned'))
      GROUP BY ext ORDER BY returned DESC, ext LIMIT 20`,
    [start, end],
  );
  const [[todayRow], [open], resolutionRows, waits, dailyRows, cells, frequent, routes, callbackRows, within] = await Promise.all([
    todayRowQuery, openQuery, resolutionRowsQuery, waitsQuery, dailyRowsQuery, cellsQuery, frequentQuery, routesQuery, callbackRowsQuery, withinQuery,
  ]);

  const resolution = Object.fromEntries(resolutionRows.map((r) => [r.reason ?? 'open', Number(r.n)]));
  const clearedByReason = Object.fromEntries(Object.entries(resolution).filter(([k]) => k !== 'open'));

  const byDay = new Map(dailyRows.map((r) => [String(r.d), r]));
  const daily: DashboardData['daily'] = [];
  // Counted, not compared: rangeFilter bounds the range, and the loop ends whatever the days say.
  const dayCount = daysBetween(f.from, f.to) + 1;
  for (let i = 0; i < dayCount; i++) {
    const d = addDays(f.from, i);
    const r = byDay.get(d);
    daily.push({ day: d, missed: Number(r?.missed ?? 0), answered: Number(r?.answered ?? 0) });
  }

  const heatmap = Array.from({ length: 7 }, () => new Array<number>(24).fill(0));
  const hours = new Array<number>(24).fill(0);
  for (const c of cells) {
    heatmap[Number(c.wd)]![Number(c.h)] = Number(c.n);
    hours[Number(c.h)]! += Number(c.n);
  }

  const inbound = dailyRows.reduce((sum, r) => sum + Number(r.inbound), 0);
  const missed = dailyRows.reduce((sum, r) => sum + Number(r.missed), 0);
  return {
    range: f,
    kpis: {
      openNow: Number(open?.n ?? 0),
      missedToday: Number(todayRow?.n ?? 0),
      inbound,
      missed,
      missRate: inbound ? missed / inbound : null,
      medianCallbackSeconds: median(waits.map((w) => Number(w.s))),
      clearedByReason,
      withinTarget: within,
      oldestOpenSeconds: open?.oldest_s === null || open?.oldest_s === undefined ? null : Math.max(0, Number(open.oldest_s)),
    },
    daily,
    resolution,
    hours,
    heatmap,
    frequent,
    routes: routes.map((r) => ({ kind: String(r.kind), id: String(r.id), inbound: Number(r.inbound), missed: Number(r.missed) })),
    callbacks: callbackRows.map((r) => ({ ext: String(r.ext), returned: Number(r.returned), attempts: Number(r.attempts) })),
  };
}

export function median(values: number[]): number | null {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** Routes and DIDs seen by this tenant, for the filter dropdowns. */
export async function filterChoices(scope: TenantScope): Promise<{ routes: { kind: string; id: string }[]; dids: string[] }> {
  const routes = await scope.rows<{ kind: string; id: string }>(
    `SELECT DISTINCT route_kind AS kind, route_id AS id FROM smart_missed_calls WHERE tenant = @tenant ORDER BY route_kind, route_id LIMIT 200`,
  );
  const dids = await scope.rows<{ did: string }>(
    `SELECT DISTINCT did FROM smart_missed_calls WHERE tenant = @tenant AND did <> '' ORDER BY did LIMIT 200`,
  );
  return { routes: routes.map((r) => ({ kind: String(r.kind), id: String(r.id) })), dids: dids.map((d) => String(d.did)) };
}
