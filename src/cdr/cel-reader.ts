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

  /** linkedids whose LINKEDID_END arrived since the last call; empty when there is no CEL. */
  async ended(): Promise<string[]> {
    if (this.available === false) return [];
    const table = `${ident(this.db.cdrDatabase)}.${ident(this.db.celTable)}`;
    try {
      if (this.cursor === null) {
        const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT COALESCE(MAX(id), 0) AS top FROM ${table}`);
        // Start a little back so calls ending while we started are not missed.
        this.cursor = Math.max(0, Number(rows[0]!.top) - this.batch);
      }
      const [rows] = await this.pool.query<RowDataPacket[]>(
        `SELECT id, linkedid FROM ${table} WHERE id > ? AND eventtype = 'LINKEDID_END' ORDER BY id LIMIT ?`,
        [this.cursor, this.batch],
      );
      this.available = true;
      if (rows.length) this.cursor = Number(rows[rows.length - 1]!.id);
      return rows.map((r) => String(r.linkedid));
    } catch (err) {
      if (this.available === null && /doesn't exist|Unknown table/i.test((err as Error).message)) this.available = false;
      else throw err;
      return [];
    }
  }
}
