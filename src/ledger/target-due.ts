import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { BusinessClock, entryTargetMinutes, hasTargets, instantOfLocal, naiveMs, naiveOf, targetKey, type TargetSettings } from './callback-target.js';

/**
 * Each entry's callback due time, stored (smart_missed_calls.target_due, naive on the
 * ledger's clock like first_attempt; NULL: no target) with the key of the settings it was
 * computed under (target_key). The dashboard then counts "called back within target" with
 * one aggregate over the index, and places on the business clock only the entries whose key
 * is not the current one. A write that changes an entry's first miss, route or withheld flag
 * sets its key to 0 (src/ledger/store.ts); a change of the settings changes the key itself:
 * either way the entry is computed again here, on the notifier's next pass.
 */

/** Entries computed per statement, and statements per pass: a new target over a year of entries takes a few passes, none long. */
const BATCH = 1000;
const BATCHES_PER_PASS = 10;

/** Stores the due time of the tenant's entries (this PBX's) not computed under the current settings; returns how many. */
export async function refreshTargetDue(pool: Pool, zone: string, tenant: string, settings: TargetSettings): Promise<number> {
  if (!hasTargets(settings)) return 0;
  const key = targetKey(settings, zone);
  const clock = new BusinessClock(settings);
  let stored = 0;
  for (let batch = 0; batch < BATCHES_PER_PASS; batch++) {
    const [rows] = await pool.query<RowDataPacket[]>(
      `SELECT id, first_attempt, route_kind, route_id, anonymous FROM smart_missed_calls FORCE INDEX (idx_target)
        WHERE tenant = ? AND pbx = @smc_pbx AND target_key <> ? LIMIT ${BATCH}`,
      [tenant, key],
    );
    if (rows.length === 0) break;
    const cases: unknown[] = [];
    const firsts: unknown[] = [];
    for (const r of rows) {
      const firstAttempt = String(r.first_attempt).slice(0, 19);
      const minutes = entryTargetMinutes(settings, { anonymous: Number(r.anonymous) === 1, routeKind: String(r.route_kind), routeId: String(r.route_id) });
      const due = minutes > 0 ? naiveOf(clock.addBusinessMinutes(instantOfLocal(naiveMs(firstAttempt), zone), minutes), zone) : null;
      cases.push(r.id, due);
      firsts.push(r.id, firstAttempt);
    }
    const whens = (n: number) => Array(n).fill('WHEN ? THEN ?').join(' ');
    // The key only where the first miss is still the one read: a reopen in between keeps it stale.
    const [result] = await pool.query<ResultSetHeader>(
      `UPDATE smart_missed_calls
          SET target_due = CASE id ${whens(rows.length)} END,
              target_key = IF(first_attempt = CASE id ${whens(rows.length)} END, ?, target_key)
        WHERE tenant = ? AND pbx = @smc_pbx AND id IN (?)`,
      [...cases, ...firsts, key, tenant, rows.map((r) => r.id)],
    );
    stored += result.affectedRows;
    if (rows.length < BATCH) break;
  }
  return stored;
}
