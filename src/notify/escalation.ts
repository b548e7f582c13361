import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { TenantSettings } from '../config/schema.js';
import { inRetriedTransaction } from '../db/pool.js';
import { appendAudit } from '../ledger/audit.js';
import type { AuditKey } from '../ledger/audit-key.js';
import { BusinessClock, entryTargetMinutes, hasTargets, instantOfLocal, naiveMs, naiveOf, thresholdsReached } from '../ledger/callback-target.js';
import { activeClaim, claimRowOf } from '../ledger/claims.js';
import type { Entry } from '../ledger/entries.js';
import { entryFromRow, outboxPayloadOf } from '../ledger/store.js';
import { processZone } from '../sync/pbx-clock.js';

/**
 * Escalation of entries past their callback target (docs/team.md): once per entry, episode
 * and threshold (a multiple of the target), an `escalated` event goes into the outbox — and
 * from there to the escalation recipients' mail, the webhooks that take `entry.escalated`
 * and the CRM (its task turns HIGH priority) — and into the journal.
 *
 * Exactly once: the smart_missed_calls_escalations row, the outbox row and the journal row
 * are written in one transaction, and the row's key refuses a second escalation of the same
 * threshold, so a restart, a crash or a second instance cannot send one twice. It runs in
 * the notifier's pass, under the notify lock, so only one instance looks at all.
 *
 * Not escalated: cleared entries (nothing to call back), withheld numbers (nobody can call
 * them back), and entries someone has claimed — a live "I'm calling back" means the team is
 * on it; when the claim lapses unanswered, the entry escalates at its next threshold check.
 *
 * When several thresholds are passed at once (the service was down, the target was
 * shortened), one escalation names the highest and records them all: one mail, not a burst.
 * A threshold passed more than STALE_AFTER_MS ago is not escalated at all.
 */

export interface EscalationInfo {
  /** The multiple of the target passed: 1 at the target, 2 at twice it, … */
  threshold: number;
  targetMinutes: number;
  /** The naive ledger time the entry was due to be called back (its threshold's due time). */
  dueAt: string;
}

/** Open entries looked at per tenant and pass, the newest first (the old ones are stale, below). */
const SCAN_LIMIT = 2000;

/**
 * An escalation is news: one whose time passed more than this long ago is not sent. So
 * turning a target on does not mail about every entry of the past months, nor does a service
 * that was off for days flood the team when it starts; the list still marks those entries
 * and the dashboard counts them late. A shorter outage is caught up.
 */
export const STALE_AFTER_MS = 24 * 3_600_000;

/** The zone the ledger's naive times (first_attempt, NOW()) are written in: the PBX's. */
export function ledgerZone(config: { timezone: string }): string {
  return config.timezone || processZone();
}

/**
 * Escalates the tenant's open entries that passed a threshold not escalated yet. Returns how
 * many escalations were queued.
 */
export async function escalateDue(pool: Pool, auditKey: AuditKey, zone: string, tenant: string, settings: TenantSettings): Promise<number> {
  if (!hasTargets(settings)) return 0;
  const clock = new BusinessClock(settings);
  const minutes = [settings.callbackTargetMinutes, ...settings.callbackTargetRoutes.map((r) => r.minutes)].filter((m) => m > 0);
  // Business time passes no faster than the clock: nothing first missed later than the
  // smallest first threshold (less an hour for a DST change of the naive times) can be due.
  const soonest = Math.max(0, Math.min(...minutes) * settings.escalationThresholds[0]! - 60);
  const [[{ now }]] = (await pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  // Entries escalated at the last threshold already are done with (until a reopen).
  const last = settings.escalationThresholds[settings.escalationThresholds.length - 1]!;
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT e.* FROM smart_missed_calls e WHERE e.tenant = ? AND e.pbx = @smc_pbx AND e.status = 'open' AND e.anonymous = 0
        AND e.first_attempt <= ? - INTERVAL ? MINUTE
        AND NOT EXISTS (SELECT 1 FROM smart_missed_calls_escalations x
                         WHERE x.tenant = e.tenant AND x.pbx = e.pbx AND x.entry_id = e.id AND x.episode = e.first_attempt AND x.threshold = ?)
      ORDER BY e.first_attempt DESC LIMIT ${SCAN_LIMIT}`,
    [tenant, now, soonest, last],
  );
  if (rows.length === 0) return 0;
  const entries = rows.map(entryFromRow);
  const ids = entries.map((e) => e.id!);
  const [sent] = await pool.query<RowDataPacket[]>(
    'SELECT entry_id, episode, threshold FROM smart_missed_calls_escalations WHERE tenant = ? AND pbx = @smc_pbx AND entry_id IN (?)',
    [tenant, ids],
  );
  const done = new Set(sent.map((r) => `${r.entry_id}\n${String(r.episode).slice(0, 19)}\n${r.threshold}`));
  const [claims] = await pool.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls_claims WHERE tenant = ? AND pbx = @smc_pbx AND entry_id IN (?)', [tenant, ids]);
  const claimOf = new Map(claims.map((c) => [Number(c.entry_id), claimRowOf(c)]));
  const naiveNow = String(now).slice(0, 19);
  const nowMs = instantOfLocal(naiveMs(naiveNow), zone);
  let queued = 0;
  for (const e of entries) {
    const target = entryTargetMinutes(settings, e);
    if (target === 0 || activeClaim(claimOf.get(e.id!) ?? null, e, naiveNow)) continue;
    const missedAt = instantOfLocal(naiveMs(e.firstAttempt), zone);
    const fresh = thresholdsReached(missedAt, nowMs, target, settings.escalationThresholds, clock)
      .filter((t) => !done.has(`${e.id}\n${e.firstAttempt}\n${t}`))
      .filter((t) => clock.addBusinessMinutes(missedAt, target * t) >= nowMs - STALE_AFTER_MS);
    if (fresh.length === 0) continue;
    const highest = fresh[fresh.length - 1]!;
    const dueMs = clock.addBusinessMinutes(missedAt, target * highest);
    if (await escalate(pool, auditKey, e, fresh, { threshold: highest, targetMinutes: target, dueAt: naiveOf(dueMs, zone) })) queued += 1;
  }
  return queued;
}

/** One escalation, in one transaction: the entry is checked again under its row lock. */
async function escalate(pool: Pool, auditKey: AuditKey, seen: Entry, thresholds: number[], info: EscalationInfo): Promise<boolean> {
  return inRetriedTransaction(pool, async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND id = ? FOR UPDATE', [seen.tenant, seen.id]);
    const entry = rows[0] ? entryFromRow(rows[0]) : null;
    // Cleared, reopened or claimed since it was read: the next pass looks again.
    if (!entry || entry.status !== 'open' || entry.firstAttempt !== seen.firstAttempt) return false;
    const [claims] = await conn.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls_claims WHERE tenant = ? AND pbx = @smc_pbx AND entry_id = ?', [entry.tenant, entry.id]);
    const [[{ now }]] = (await conn.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
    if (activeClaim(claims[0] ? claimRowOf(claims[0]) : null, entry, String(now).slice(0, 19))) return false;
    const [res] = await conn.query<ResultSetHeader>(
      `INSERT IGNORE INTO smart_missed_calls_escalations (tenant, pbx, entry_id, episode, threshold, target_minutes, due_at, escalated_at)
       VALUES ${thresholds.map(() => '(?, @smc_pbx, ?, ?, ?, ?, ?, NOW())').join(', ')}`,
      thresholds.flatMap((t) => [entry.tenant, entry.id, entry.firstAttempt, t, info.targetMinutes, info.dueAt]),
    );
    // Another instance got here first (it then queued the escalation).
    if (res.affectedRows === 0) return false;
    const event = { entry, event: 'escalated' as const, reason: null, actor: 'cron', ext: null, linkedid: null, note: `${info.threshold}x target of ${info.targetMinutes} min` };
    await conn.query(
      `INSERT INTO smart_missed_calls_outbox (pbx, tenant, event, entry_id, linkedid, payload, next_attempt_at, created_at)
       VALUES (@smc_pbx, ?, 'escalated', ?, NULL, ?, NOW(), NOW())`,
      [entry.tenant, entry.id, JSON.stringify({ ...outboxPayloadOf(event), escalation: info })],
    );
    await appendAudit(conn, auditKey, [{ tenant: entry.tenant, entryId: entry.id, event: 'escalated', reason: null, actor: event.actor, ext: null, linkedid: null, note: event.note }]);
    return true;
  });
}

/** The highest escalation of an entry's episode, or null: a CRM task stays HIGH once escalated. */
export async function escalationOf(pool: Pool, tenant: string, entryId: number, episode: string): Promise<EscalationInfo | null> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT threshold, target_minutes, due_at FROM smart_missed_calls_escalations
      WHERE tenant = ? AND pbx = @smc_pbx AND entry_id = ? AND episode = ? ORDER BY threshold DESC LIMIT 1`,
    [tenant, entryId, episode],
  );
  const r = rows[0];
  return r ? { threshold: Number(r.threshold), targetMinutes: Number(r.target_minutes), dueAt: String(r.due_at).slice(0, 19) } : null;
}
