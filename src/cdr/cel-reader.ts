import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';
import { ident } from '../db/pool.js';

/**
 * CEL is a bonus, off on FreePBX unless CEL_ENABLED: when it is on, LINKEDID_END says the
 * whole call is over, so a call need not wait the full settle time. Read by the table's
 * auto-increment id, which costs only the new rows whatever the table's size.
 */
export class CallEndWatcher {
  private cursor: number | null = null;
  private available: boolean | null = null;

  constructor(private readonly pool: Pool, private readonly db: DbConfig, private readonly batch = 10_000) {}

  /** linkedids whose LINKEDID_END arrived since the last call (up to `batch` new rows a call); empty when there is no CEL. */
  async ended(): Promise<string[]> {
    if (this.available === false) return [];
    const table = `${ident(this.db.cdrDatabase)}.${ident(this.db.celTable)}`;
    try {
      if (this.cursor === null) {
        const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT COALESCE(MAX(id), 0) AS top FROM ${table}`);
        // Start a little back so calls ending while we started are not missed.
        this.cursor = Math.max(0, Number(rows[0]!.top) - this.batch);
      }
      // Every new row, not only the call ends: a cursor that moved on call ends alone would read
      // again, each cycle, all rows since the last one — since start, where cel.conf leaves
      // LINKEDID_END out of its events.
      const [rows] = await this.pool.query<RowDataPacket[]>(
        `SELECT id, IF(eventtype = 'LINKEDID_END', linkedid, NULL) AS ended FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`,
        [this.cursor, this.batch],
      );
      this.available = true;
      if (rows.length) this.cursor = Number(rows[rows.length - 1]!.id);
      return rows.filter((r) => r.ended !== null).map((r) => String(r.ended));
    } catch (err) {
      if (this.available === null && /doesn't exist|Unknown table/i.test((err as Error).message)) this.available = false;
      else throw err;
      return [];
    }
  }
}
