import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';

/** Small named values in smart_missed_calls_state: cursors, counters, the audit chain head. */
export async function readState(db: Pool | PoolConnection, key: string): Promise<string | null> {
  const [rows] = await db.query<RowDataPacket[]>('SELECT v FROM smart_missed_calls_state WHERE k = ?', [key]);
  return rows[0] ? String(rows[0].v) : null;
}

export async function writeState(db: Pool | PoolConnection, key: string, value: string): Promise<void> {
  await db.query(
    'INSERT INTO smart_missed_calls_state (k, v, updated_at) VALUES (?, ?, NOW()) ON DUPLICATE KEY UPDATE v = VALUES(v), updated_at = NOW()',
    [key, value],
  );
}
