import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';

/** Small named values in smart_missed_calls_state, each PBX's own: cursors, counters, the audit chain heads. */
/**
 * Calls over before this moment (naive DB time; set at install) are history: recorded,
 * but no mail, webhook or outbox event is made for them.
 */
export const QUIET_BEFORE_KEY = 'notify_calls_since';

/** Whether the service's first start asked for the PBX's history (history.ts); set once. */
export const INSTALL_HISTORY_KEY = 'history_install';

export async function readState(db: Pool | PoolConnection, key: string): Promise<string | null> {
  const [rows] = await db.query<RowDataPacket[]>('SELECT v FROM smart_missed_calls_state WHERE pbx = @smc_pbx AND k = ?', [key]);
  return rows[0] ? String(rows[0].v) : null;
}

/** Writes one or more named values in one statement. */
export async function writeState(db: Pool | PoolConnection, values: Record<string, string>): Promise<void> {
  const entries = Object.entries(values);
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO smart_missed_calls_state (pbx, k, v, updated_at) VALUES ${entries.map(() => '(@smc_pbx, ?, ?, NOW())').join(', ')}
     ON DUPLICATE KEY UPDATE v = VALUES(v), updated_at = NOW()`,
    entries.flat(),
  );
}
