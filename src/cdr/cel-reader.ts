import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';
import { ident } from '../db/pool.js';
import { CEL_COLUMNS, toCelEvent, type CelEvent } from './cel-row.js';
import { naiveSeconds } from './row.js';

/**
 * The PBX's CEL as the sync reads it, when it is on (FreePBX: CEL_ENABLED). It tells what CDR
 * cannot: the calls FreePBX writes no CDR row for (an extension on DND with no voicemail),
 * the queue a maxwait failover leaves out of the caller's row, and, with LINKEDID_END, that a
 * whole call is over, so it need not wait the full settle time.
 *
 * Read by the table's auto-increment id (its primary key: FreePBX's cel table has no index on
 * eventtime), which costs only the new rows whatever the table's size; never by linkedid.
 * The events of recent calls are kept here, by linkedid, until their calls leave the window.
 */
export class CelFeed {
  private cursor: number | null = null;
  private available: boolean | null = null;
  private calls = new Map<string, { events: CelEvent[]; lastAt: number; ended: boolean }>();

  constructor(private readonly pool: Pool, private readonly db: DbConfig, private readonly batch = 10_000) {}

  /**
   * Reads the events logged since the last call and returns the linkedids whose LINKEDID_END
   * came among them; empty when there is no CEL. The first call starts at the first event
   * logged at or after `since` (the sync's window start, naive DB time), so after a stop the
   * calls of the CDR window that is read again get their events again, and the ones known
   * only from CEL are not lost; then it reads on, `batch` rows at a time, until it is caught up.
   */
  async read(since: string): Promise<string[]> {
    if (this.available === false) return [];
    const table = `${ident(this.db.cdrDatabase)}.${ident(this.db.celTable)}`;
    try {
      if (this.cursor === null) this.cursor = await this.lastIdBefore(table, since);
      this.available = true;
      const ended: string[] = [];
      for (;;) {
        // Every new row, not only the ones we keep: a cursor that moved on kept rows alone would
        // read again, each cycle, all rows since the last one.
        const [rows]: [RowDataPacket[], unknown] = await this.pool.query<RowDataPacket[]>(
          `SELECT ${CEL_COLUMNS.map(ident).join(', ')} FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`,
          [this.cursor, this.batch],
        );
        if (rows.length) this.cursor = Number(rows[rows.length - 1]!.id);
        for (const row of rows) {
          const event = toCelEvent(row);
          if (!event) continue;
          const at = naiveSeconds(event.eventtime);
          const call = this.calls.get(event.linkedid) ?? { events: [], lastAt: at, ended: false };
          call.events.push(event);
          call.lastAt = Math.max(call.lastAt, at);
          // Over once the caller's own channel is gone, even where cel.conf leaves LINKEDID_END out.
          if (event.eventtype === 'LINKEDID_END' || (event.eventtype === 'CHAN_END' && event.uniqueid === event.linkedid)) call.ended = true;
          if (event.eventtype === 'LINKEDID_END') ended.push(event.linkedid);
          this.calls.set(event.linkedid, call);
        }
        if (rows.length < this.batch) return ended;
      }
    } catch (err) {
      if (this.available === null && /doesn't exist|Unknown table/i.test((err as Error).message)) this.available = false;
      else throw err;
      return [];
    }
  }

  /**
   * The id just before the first event logged at or after `since`. The table has no index on
   * eventtime, but ids grow with time: a binary search over the primary key costs some
   * twenty-odd single-row lookups whatever the table's size.
   */
  private async lastIdBefore(table: string, since: string): Promise<number> {
    const [[range]] = (await this.pool.query<RowDataPacket[]>(`SELECT MIN(id) AS lo, MAX(id) AS hi FROM ${table}`)) as unknown as [[{ lo: number | null; hi: number | null }]];
    if (range.lo === null || range.hi === null) return 0;
    // The least v whose next existing id was logged at or after `since` (hi + 1 when none was).
    let low = Number(range.lo);
    let high = Number(range.hi) + 1;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const [[next]] = (await this.pool.query<RowDataPacket[]>(
        `SELECT id, eventtime < ? AS earlier FROM ${table} WHERE id >= ? ORDER BY id LIMIT 1`,
        [since, mid],
      )) as unknown as [[{ id: number; earlier: number }]];
      if (Number(next.earlier) === 1) low = Number(next.id) + 1;
      else high = mid;
    }
    return low - 1;
  }

  /** The events read so far of one call (empty when none). */
  eventsOf(linkedid: string): CelEvent[] {
    return this.calls.get(linkedid)?.events ?? [];
  }

  /** The calls whose events are kept. */
  linkedids(): IterableIterator<string> {
    return this.calls.keys();
  }

  /**
   * Drops the calls that are over and had no event since `before` (seconds, DB clock), and
   * any call whose last event is older than `stuckBefore` (its end was never logged).
   */
  forget(before: number, stuckBefore: number): void {
    for (const [linkedid, call] of this.calls) {
      if ((call.ended && call.lastAt < before) || call.lastAt < stuckBefore) this.calls.delete(linkedid);
    }
  }
}
