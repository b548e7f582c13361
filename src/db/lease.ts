import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import { ledgerDatabase } from './ledger-pool.js';
import { NamedLock, type SingleInstanceLock } from './named-lock.js';
import { isConflict } from './pool.js';

/** The holder's writes were refused: another instance took the lease over (or it was released). */
export class LeaseLostError extends Error {}

export interface LeaseOptions {
  /** Who holds it, as stored in the row; unique per process unless given. */
  holder?: string;
  /** How long the lease lasts without a renewal (acquire() or a fenced write renews it). */
  ttlMs?: number;
}

const DEFAULT_TTL_MS = 30_000;

/**
 * "Exactly one instance does this" across a Galera cluster, where GET_LOCK is node-local: a
 * row in smart_missed_calls_leases (name, holder, token, expires_at). It is taken when it has
 * expired (or is already ours), and each take-over increments the token; the holder renews it
 * at each acquire() and with each write. Expiry is on the database's clock (NOW(6)), never
 * Node's, so a paused or skewed process cannot think it still holds a lease the row says ended.
 *
 * The fence: every write transaction of the holder first updates the row where the token and
 * holder are still its own. A holder that was paused past its expiry while another took over
 * finds no such row and writes nothing (LeaseLostError). Under Galera the same row also makes
 * two holders' transactions on different nodes conflict at certification: one of them gets
 * ER_LOCK_DEADLOCK and, retried, finds the token is no longer its own.
 */
export class Lease implements SingleInstanceLock {
  readonly holder: string;
  private readonly ttlMicros: number;
  /** The token this instance took the lease with; null while it does not hold it. */
  private token: number | null = null;

  constructor(private readonly pool: Pool, readonly name: string, options: LeaseOptions = {}) {
    if (name.length > 64) throw new Error(`lease name '${name}' is longer than 64 characters`);
    this.holder = (options.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`).slice(0, 128);
    this.ttlMicros = Math.round((options.ttlMs ?? DEFAULT_TTL_MS) * 1000);
  }

  get held(): boolean {
    return this.token !== null;
  }

  /** The token of the current holding, for logs and tests; null while not held. */
  get fencingToken(): number | null {
    return this.token;
  }

  async acquire(): Promise<'kept' | 'acquired' | 'busy'> {
    if (this.token !== null) {
      try {
        if (await this.renew(this.pool)) return 'kept';
      } catch (err) {
        // A take-over on another node certified first: the row below says by whom.
        if (!isConflict(err)) throw err;
      }
      this.token = null;
    }
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      // The row exists from the first attempt on; INSERT IGNORE on an existing row writes nothing.
      await conn.query(`INSERT IGNORE INTO smart_missed_calls_leases (pbx, name, holder, token, expires_at) VALUES (@smc_pbx, ?, '', 0, NOW(6))`, [this.name]);
      const [rows] = await conn.query<RowDataPacket[]>(
        'SELECT holder, token, expires_at > NOW(6) AS live FROM smart_missed_calls_leases WHERE pbx = @smc_pbx AND name = ? FOR UPDATE',
        [this.name],
      );
      const row = rows[0]!;
      if (Number(row.live) === 1 && row.holder !== this.holder) {
        await conn.rollback();
        return 'busy';
      }
      const token = Number(row.token) + 1;
      await conn.query(
        'UPDATE smart_missed_calls_leases SET holder = ?, token = ?, expires_at = NOW(6) + INTERVAL ? MICROSECOND WHERE pbx = @smc_pbx AND name = ?',
        [this.holder, token, this.ttlMicros, this.name],
      );
      await conn.commit();
      this.token = token;
      return 'acquired';
    } catch (err) {
      await conn.rollback().catch(() => {});
      // Another node's instance took it in the same moment: certification let only one through.
      if (isConflict(err)) return 'busy';
      throw err;
    } finally {
      conn.release();
    }
  }

  /** Ends the holding at once, so another instance need not wait for the expiry. */
  async release(): Promise<void> {
    const token = this.token;
    if (token === null) return;
    this.token = null;
    await this.pool
      .query('UPDATE smart_missed_calls_leases SET expires_at = NOW(6) WHERE pbx = @smc_pbx AND name = ? AND token = ? AND holder = ?', [this.name, token, this.holder])
      .catch(() => {});
  }

  async fence(conn: PoolConnection): Promise<void> {
    if (!(await this.renew(conn))) {
      const token = this.token;
      this.token = null;
      throw new LeaseLostError(
        token === null
          ? `lease lost: this instance does not hold the lease '${this.name}'; nothing was written`
          : `lease lost: '${this.name}' was taken over by another instance after token ${token}; nothing was written`,
      );
    }
  }

  /**
   * Moves the expiry on where the row still names this holding. NOW(6) always changes the
   * row: an UPDATE that changed nothing would put no key in Galera's write set, and two
   * holders on different nodes would not conflict.
   */
  private async renew(db: Pool | PoolConnection): Promise<boolean> {
    if (this.token === null) return false;
    const [result] = await db.query<ResultSetHeader>(
      'UPDATE smart_missed_calls_leases SET expires_at = NOW(6) + INTERVAL ? MICROSECOND WHERE pbx = @smc_pbx AND name = ? AND token = ? AND holder = ?',
      [this.ttlMicros, this.name, this.token, this.holder],
    );
    return result.affectedRows === 1;
  }
}

/**
 * The lock that makes one instance do `purpose` (sync, notify) for this PBX: a named lock on
 * the ledger's server; in a group, a lease row of the cluster, GET_LOCK being node-local under
 * Galera, named for this PBX so each PBX of the group has its own.
 */
export function instanceLock(pool: Pool, config: Config, purpose: string): SingleInstanceLock {
  if (config.group.nodes.length > 0) return new Lease(pool, `${purpose}.${config.pbxId}`, { ttlMs: config.group.leaseSeconds * 1000 });
  return new NamedLock(pool, purpose, ledgerDatabase(config));
}
