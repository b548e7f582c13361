import type { Pool, RowDataPacket } from 'mysql2/promise';

/** A journal row, as much of it as tells an open page what changed. */
export interface JournalChange {
  id: number;
  /** Whose list the row is on: this PBX's, or (watching a group) another's. */
  pbx: string;
  tenant: string;
  entryId: number;
  event: string;
  actor: string;
}

/**
 * Ids are taken at INSERT and become visible at COMMIT, so a lower id can appear after a
 * higher one (two writers at once; under Galera, ids interleaved by node): the ids of the
 * last REREAD_MS are looked at again.
 */
const REREAD_MS = 30_000;
/** A look reads at most this many rows; past it (a history chunk) the watch jumps ahead. */
const PAGE = 2_000;

/**
 * The journal's new rows since the last look, whoever wrote them: this service's sync, a
 * user on another page, the CLI, another instance. Every change of the list is a journal
 * row, so this is the one place that sees them all. It starts at the journal's end: it
 * tells what changes from now on, never replays the past.
 */
export class JournalWatch {
  /** Rows above this id are read; null until the first look found the journal's end. */
  private floor: number | null = null;
  /** The highest id read at each look of the last REREAD_MS: the floor follows the oldest. */
  private marks: { at: number; top: number }[] = [];
  private readonly seen = new Set<number>();

  /** @param everyPbx read every PBX's rows (a group's pages show them), not only this PBX's */
  constructor(private readonly pool: Pool, private readonly everyPbx = false) {}

  async changes(now = Date.now()): Promise<JournalChange[]> {
    if (this.floor === null) {
      const [[end]] = (await this.pool.query<RowDataPacket[]>('SELECT COALESCE(MAX(id), 0) AS top FROM smart_missed_calls_audit')) as unknown as [[{ top: number }]];
      this.floor = Number(end.top);
      this.marks = [{ at: now, top: this.floor }];
      return [];
    }
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT id, pbx, tenant, entry_id, event, actor FROM smart_missed_calls_audit
        WHERE id > ?${this.everyPbx ? '' : ' AND pbx = @smc_pbx'} ORDER BY id LIMIT ${PAGE}`,
      [this.floor],
    );
    const fresh: JournalChange[] = [];
    for (const r of rows) {
      const id = Number(r.id);
      if (this.seen.has(id)) continue;
      this.seen.add(id);
      if (r.entry_id !== null) fresh.push({ id, pbx: String(r.pbx), tenant: String(r.tenant), entryId: Number(r.entry_id), event: String(r.event), actor: String(r.actor) });
    }
    const top = rows.length ? Number(rows[rows.length - 1]!.id) : this.floor;
    if (rows.length === PAGE) {
      // A flood: go on from here, or the same page would be read for ever.
      this.moveFloor(top, [{ at: now, top }]);
    } else {
      this.marks.push({ at: now, top: Math.max(top, this.marks[this.marks.length - 1]!.top) });
      while (this.marks.length > 1 && this.marks[1]!.at <= now - REREAD_MS) this.marks.shift();
      this.moveFloor(this.marks[0]!.top, this.marks);
    }
    return fresh;
  }

  private moveFloor(floor: number, marks: { at: number; top: number }[]): void {
    this.floor = floor;
    this.marks = marks;
    for (const id of this.seen) if (id <= floor) this.seen.delete(id);
  }
}
