import { median } from './dashboard-queries.js';
import { addDays, routeConditions, type RangeFilter } from './filters.js';
import type { TenantScope } from './tenant-scope.js';

/** The dashboard's headline figures for each PBX of a group view, side by side. */
export interface PbxFigures {
  pbx: string;
  openNow: number;
  inbound: number;
  missed: number;
  missRate: number | null;
  calledBack: number;
  medianCallbackSeconds: number | null;
}

/**
 * Per PBX, as the dashboard's own figures are computed for the whole view: open entries now,
 * inbound and missed calls of the range from the day rollup, entries of the range cleared by
 * a call-back and the median time to it. Three grouped statements, whatever the PBXs' number.
 */
export async function pbxFigures(scope: TenantScope, f: RangeFilter): Promise<PbxFigures[]> {
  const rc = routeConditions(f);
  const [open, days, waits] = await Promise.all([
    scope.rows<{ pbx: string; n: number }>(
      `SELECT pbx, COUNT(*) AS n FROM smart_missed_calls WHERE tenant = @tenant AND status = 'open'${rc.sql} GROUP BY pbx`,
      rc.params,
    ),
    scope.rows<{ pbx: string; inbound: number; missed: number }>(
      `SELECT pbx, SUM(IF(verdict IN ('missed', 'answered', 'abandoned'), calls, 0)) AS inbound, SUM(IF(verdict = 'missed', calls, 0)) AS missed
         FROM smart_missed_calls_daily WHERE tenant = @tenant AND day >= ? AND day <= ?${rc.sql} AND direction = 'inbound' GROUP BY pbx`,
      [f.from, f.to, ...rc.params],
    ),
    scope.rows<{ pbx: string; s: number }>(
      `SELECT pbx, TIMESTAMPDIFF(SECOND, last_attempt, cleared_at) AS s FROM smart_missed_calls
        WHERE tenant = @tenant AND last_attempt >= ? AND last_attempt < ?${rc.sql} AND status = 'cleared' AND cleared_by = 'returned'`,
      [`${f.from} 00:00:00`, `${addDays(f.to, 1)} 00:00:00`, ...rc.params],
    ),
  ]);
  const pbxs = [...new Set([...open, ...days, ...waits].map((r) => String(r.pbx)))].sort();
  return pbxs.map((pbx) => {
    const day = days.find((r) => String(r.pbx) === pbx);
    const inbound = Number(day?.inbound ?? 0);
    const missed = Number(day?.missed ?? 0);
    const own = waits.filter((w) => String(w.pbx) === pbx).map((w) => Number(w.s));
    return {
      pbx,
      openNow: Number(open.find((r) => String(r.pbx) === pbx)?.n ?? 0),
      inbound,
      missed,
      missRate: inbound ? missed / inbound : null,
      calledBack: own.length,
      medianCallbackSeconds: median(own),
    };
  });
}
