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
   * Reads the events logged since the last call (up to `batch` rows a call) and returns the
   * linkedids whose LINKEDID_END came among them; empty when there is no CEL.
   */
  async read(): Promise<string[]> {
    if (this.available === false) return [];
    const table = `${ident(this.db.cdrDatabase)}.${ident(this.db.celTable)}`;
    try {
      if (this.cursor === null) {
        const [rows] = await this.pool.query<RowDataPacket[]>(`SELECT COALESCE(MAX(id), 0) AS top FROM ${table}`);
        // Start a little back so calls ending while we started are not missed.
        this.cursor = Math.max(0, Number(rows[0]!.top) - this.batch);
      }
      // Every new row, not only the ones we keep: a cursor that moved on kept rows alone would
      // read again, each cycle, all rows since the last one.
      const [rows] = await this.pool.query<RowDataPacket[]>(
        `SELECT ${CEL_COLUMNS.map(ident).join(', ')} FROM ${table} WHERE id > ? ORDER BY id LIMIT ?`,
        [this.cursor, this.batch],
      );
      this.available = true;
      if (rows.length) this.cursor = Number(rows[rows.length - 1]!.id);
      const ended: string[] = [];
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
      return ended;
    } catch (err) {
      if (this.available === null && /doesn't exist|Unknown table/i.test((err as Error).message)) this.available = false;
      else throw err;
      return [];
    }
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
