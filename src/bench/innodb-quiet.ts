import type { Pool, RowDataPacket } from 'mysql2/promise';
import { round } from './stats.js';

/** How long InnoDB took to finish the background work a bulk load left, and what was left. */
export interface InnodbQuiet {
  seconds: number;
  /** false: the wait ran out first, and the figures that follow share the server with that work. */
  quiet: boolean;
  dirtyPages: { before: number; after: number };
  historyLength: { before: number; after: number };
}

/** What counts as done: a handful of pages and transactions that background statistics keep touching. */
const QUIET_DIRTY_PAGES = 64;
const QUIET_HISTORY_LENGTH = 16;
const POLL_MS = 500;

/**
 * Waits, up to `timeoutSeconds`, until InnoDB has written back the pages a bulk load
 * dirtied and purge has caught up with its transactions (since MariaDB 10.3 purge also
 * visits every inserted row, to reset its DB_TRX_ID). Left to itself the page cleaner
 * writes about innodb_io_capacity (200) pages a second: the ~5 000 pages a 10 M-row copy
 * leaves dirty keep it busy for half a minute, and queries timed meanwhile pay for it.
 * For the wait it aims at no dirty pages at its top rate (innodb_io_capacity_max); both
 * settings are restored after it. Needs SUPER (the bench connects as root).
 */
export async function waitForQuietInnodb(pool: Pool, timeoutSeconds: number): Promise<InnodbQuiet> {
  const started = performance.now();
  const [[saved]] = (await pool.query<RowDataPacket[]>(
    'SELECT @@GLOBAL.innodb_max_dirty_pages_pct AS pct, @@GLOBAL.innodb_io_capacity AS io',
  )) as unknown as [[{ pct: number; io: number }]];
  const before = await backlog(pool);
  let now = before;
  await pool.query('SET GLOBAL innodb_max_dirty_pages_pct = 0, innodb_io_capacity = @@GLOBAL.innodb_io_capacity_max');
  try {
    while (now.dirtyPages > QUIET_DIRTY_PAGES || now.historyLength > QUIET_HISTORY_LENGTH) {
      if (performance.now() - started > timeoutSeconds * 1000) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
      now = await backlog(pool);
    }
  } finally {
    await pool.query('SET GLOBAL innodb_max_dirty_pages_pct = ?, innodb_io_capacity = ?', [Number(saved.pct), Number(saved.io)]);
  }
  return {
    seconds: round((performance.now() - started) / 1000),
    quiet: now.dirtyPages <= QUIET_DIRTY_PAGES && now.historyLength <= QUIET_HISTORY_LENGTH,
    dirtyPages: { before: before.dirtyPages, after: now.dirtyPages },
    historyLength: { before: before.historyLength, after: now.historyLength },
  };
}

async function backlog(pool: Pool): Promise<{ dirtyPages: number; historyLength: number }> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_pages_dirty', 'Innodb_history_list_length')",
  );
  const value = (name: string) => {
    const row = rows.find((r) => String(r.Variable_name).toLowerCase() === name.toLowerCase());
    if (!row) throw new Error(`SHOW GLOBAL STATUS has no ${name}`);
    return Number(row.Value);
  };
  return { dirtyPages: value('Innodb_buffer_pool_pages_dirty'), historyLength: value('Innodb_history_list_length') };
}
