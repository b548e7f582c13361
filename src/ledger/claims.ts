import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { inRetriedTransaction } from '../db/pool.js';
import { appendAudit } from './audit.js';
import type { AuditKey } from './audit-key.js';
import { NotFound } from './not-found.js';

/**
 * "I'm calling back": a user holds an open entry for some minutes, so the team sees who is
 * calling whom. A claim is one row per entry (the latest); it counts only while
 *  - the entry is open,
 *  - in the episode it was claimed in (the entry's first_attempt then: a reopen starts a new one),
 *  - and its expires_at is still ahead.
 * So an expiry or a clear needs no writer and no journal row of its own: the clear is
 * journalled as `cleared`, and an expired claim simply reads as no claim.
 */
export interface Claim {
  user: string;
  ext: string | null;
  /** Naive datetimes on the ledger's clock, as every row of ours. */
  claimedAt: string;
  expiresAt: string;
}

export interface ClaimRow extends Claim {
  episode: string;
}

/** The claim that holds an entry now, or null: pure, the one rule every reader applies. */
export function activeClaim(row: ClaimRow | null, entry: { status: string; firstAttempt: string }, now: string): Claim | null {
  if (!row || entry.status !== 'open' || row.episode !== entry.firstAttempt || row.expiresAt <= now) return null;
  return { user: row.user, ext: row.ext, claimedAt: row.claimedAt, expiresAt: row.expiresAt };
}

/** Someone else holds the entry: the answer names them (HTTP 409). */
export class ClaimHeld extends Error {
  constructor(readonly holder: Claim) {
    super(`entry is claimed by ${holder.user}`);
  }
}

/** Claims only open entries. */
export class EntryCleared extends Error {}

export function claimRowOf(r: RowDataPacket): ClaimRow {
  return { user: String(r.user), ext: r.ext === null ? null : String(r.ext), episode: naive(r.episode), claimedAt: naive(r.claimed_at), expiresAt: naive(r.expires_at) };
}

/** The pool returns DATETIME as text (dateStrings); a Date would be one only in tests of other setups. */
function naive(v: unknown): string {
  return String(v).slice(0, 19);
}

export interface ClaimRequest {
  tenant: string;
  entryId: number;
  user: string;
  ext: string | null;
  minutes: number;
  /**
   * The holder the user was warned about and agreed to take the entry from. A claim held by
   * anyone else (nobody warned, or a third person since) is refused with its holder.
   */
  takeOverFrom?: string | null;
}

interface Locked {
  conn: PoolConnection;
  entry: { status: string; firstAttempt: string };
  current: Claim | null;
  now: string;
}

/** Locks the entry row (claimers of one entry queue on it), then reads its claim. */
async function lockEntry(conn: PoolConnection, tenant: string, entryId: number): Promise<Locked> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT status, first_attempt FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND id = ? FOR UPDATE',
    [tenant, entryId],
  );
  if (!rows[0]) throw new NotFound(`entry ${entryId} not found`);
  const entry = { status: String(rows[0].status), firstAttempt: naive(rows[0].first_attempt) };
  const [[{ now }]] = (await conn.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  const [claims] = await conn.query<RowDataPacket[]>(
    'SELECT * FROM smart_missed_calls_claims WHERE tenant = ? AND pbx = @smc_pbx AND entry_id = ? FOR UPDATE',
    [tenant, entryId],
  );
  return { conn, entry, now: naive(now), current: activeClaim(claims[0] ? claimRowOf(claims[0]) : null, entry, naive(now)) };
}

/**
 * Claims (or renews one's own claim on) an open entry, or takes it over from the holder the
 * user was warned about. Journalled as `claimed` or `claim_taken_over` (the note names the
 * previous holder). Two users at once: the entry's row lock (under Galera, certification
 * and a retry) lets one in first; the other then finds the claim and gets ClaimHeld.
 */
export async function claimEntry(pool: Pool, auditKey: AuditKey, req: ClaimRequest): Promise<{ claim: Claim; event: 'claimed' | 'claim_taken_over' }> {
  return inRetriedTransaction(pool, async (conn) => {
    const { entry, current, now } = await lockEntry(conn, req.tenant, req.entryId);
    if (entry.status !== 'open') throw new EntryCleared(`entry ${req.entryId} is cleared`);
    const takingOver = current !== null && current.user !== req.user;
    if (takingOver && req.takeOverFrom !== current.user) throw new ClaimHeld(current);
    await conn.query(
      `INSERT INTO smart_missed_calls_claims (tenant, pbx, entry_id, user, ext, episode, claimed_at, expires_at)
       VALUES (?, @smc_pbx, ?, ?, ?, ?, ?, ? + INTERVAL ? MINUTE)
       ON DUPLICATE KEY UPDATE user = VALUES(user), ext = VALUES(ext), episode = VALUES(episode), claimed_at = VALUES(claimed_at), expires_at = VALUES(expires_at)`,
      [req.tenant, req.entryId, req.user, req.ext, entry.firstAttempt, now, now, req.minutes],
    );
    const event = takingOver ? ('claim_taken_over' as const) : ('claimed' as const);
    await appendAudit(conn, auditKey, [{
      tenant: req.tenant, entryId: req.entryId, event, reason: null, actor: `user:${req.user}`, ext: req.ext, linkedid: null,
      note: takingOver ? `from user:${current.user}` : `${req.minutes} min`,
    }]);
    const [[row]] = (await conn.query<RowDataPacket[]>('SELECT ? + INTERVAL ? MINUTE AS expires', [now, req.minutes])) as unknown as [[{ expires: string }]];
    return { claim: { user: req.user, ext: req.ext, claimedAt: now, expiresAt: naive(row.expires) }, event };
  });
}

/**
 * The holder lets the entry go before its minutes are up; journalled as `claim_released`.
 * Anyone else is answered with the holder (taking over is claimEntry's); an entry nobody
 * holds is released already, and nothing is written.
 */
export async function releaseClaim(pool: Pool, auditKey: AuditKey, tenant: string, entryId: number, user: string): Promise<boolean> {
  return inRetriedTransaction(pool, async (conn) => {
    const { current } = await lockEntry(conn, tenant, entryId);
    if (current === null) return false;
    if (current.user !== user) throw new ClaimHeld(current);
    await conn.query('DELETE FROM smart_missed_calls_claims WHERE tenant = ? AND pbx = @smc_pbx AND entry_id = ?', [tenant, entryId]);
    await appendAudit(conn, auditKey, [{ tenant, entryId, event: 'claim_released', reason: null, actor: `user:${user}`, ext: current.ext, linkedid: null, note: null }]);
    return true;
  });
}
