import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';
import { readWindow, type WindowRead } from '../cdr/reader.js';
import { ident } from '../db/pool.js';

/**
 * A window of cdr as the sync's cycles read it (the hot window every second, the full scan's
 * every minute): its rows are fetched again only when a row may have come since the last
 * fetch. Asterisk only INSERTs cdr rows, so while as many rows lie from the last fetch's start
 * on as that fetch returned, none came; the rows are then those of the last fetch still in the
 * window. Between calls that is most cycles, and a count through the calldate index costs a
 * fraction of fetching and parsing the rows (the PBX's cost of us, bench part 6). A row
 * changed in place, or one deleted as another came, is read at the next fetch: `refetchMs`
 * bounds how long a reused fetch may serve.
 */
export class WindowCache {
  private last: { since: string; read: WindowRead; total: number; at: number } | null = null;

  constructor(private readonly pool: Pool, private readonly db: DbConfig, private readonly refetchMs = Infinity) {}

  /** The rows from `since` on, as readWindow gives them; `now` is the database clock of the cycle. */
  async read(since: string, now: string): Promise<WindowRead> {
    const last = this.last;
    if (last && since >= last.since && performance.now() - last.at < this.refetchMs && (await this.countSince(last.since)) === last.total) {
      return { now, rows: last.read.rows.filter((r) => r.calldate >= since), bad: last.read.bad.filter((b) => b.calldate >= since) };
    }
    const read = await readWindow(this.pool, this.db, since, undefined, now);
    this.last = { since, read, total: read.rows.length + read.bad.length, at: performance.now() };
    return read;
  }

  private async countSince(since: string): Promise<number> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM ${ident(this.db.cdrDatabase)}.${ident(this.db.cdrTable)} WHERE calldate >= ?`,
      [since],
    );
    return Number(rows[0]!.n);
  }
}
