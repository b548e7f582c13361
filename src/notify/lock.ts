import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';


/**
 * Exactly one instance delivers notifications: the one holding a MariaDB named lock on its
 * own connection. The lock dies with the connection, so a killed instance frees it; the
 * instance that takes over knows that every delivery still marked `sending` was cut off.
 * Lock names are server-wide, so the name carries our database: two installs sharing one
 * MariaDB server do not block each other.
 */
export class NotifyLock {
  private conn: PoolConnection | null = null;
  private readonly name: string;

  constructor(private readonly pool: Pool, database: string) {
    this.name = `smc.notify.${database}`.slice(0, 64);
  }

  /** 'kept' when this instance already held it, 'acquired' when it just took it over. */
  async acquire(): Promise<'kept' | 'acquired' | 'busy'> {
    if (this.conn) {
      try {
        const [rows] = await this.conn.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', [this.name]);
        if (rows[0]?.mine === 1) return 'kept';
      } catch {
        /* the connection died with the lock: try again below */
      }
      this.drop();
    }
    const conn = await this.pool.getConnection();
    try {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [this.name]);
      if (rows[0]?.got === 1) {
        this.conn = conn;
        return 'acquired';
      }
    } catch {
      /* treated as not acquired */
    }
    conn.release();
    return 'busy';
  }

  async release(): Promise<void> {
    if (!this.conn) return;
    await this.conn.query('SELECT RELEASE_LOCK(?)', [this.name]).catch(() => {});
    this.conn.release();
    this.conn = null;
  }

  private drop(): void {
    try {
      this.conn?.destroy();
    } catch {
      /* already gone */
    }
    this.conn = null;
  }
}
