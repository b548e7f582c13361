import { createHash } from 'node:crypto';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { TenantSettings } from '../config/schema.js';
import { inRetriedTransaction } from '../db/pool.js';
import { appendAudit, type AuditRecord } from '../ledger/audit.js';
import type { AuditKey } from '../ledger/audit-key.js';
import type { EscalationInfo } from './escalation.js';

/**
 * One row per (notification × channel target) in smart_missed_calls_deliveries. The
 * idempotency key is unique, so fanning an outbox event out twice, or queueing the same
 * digest period twice, adds nothing.
 *
 * Life of a row: pending → sending → sent, or back to pending with a later next_attempt_at
 * after a failure, and dead after the last try. Realtime mails may instead end `folded`
 * (reported by the caller's next mail as "+N more attempts") or `held` (past the hourly
 * cap; reported by one held-summary mail).
 */
export type Channel = 'email_realtime' | 'email_held_summary' | 'email_digest' | 'email_escalation' | 'webhook' | 'crm';
export type DeliveryStatus = 'pending' | 'sending' | 'sent' | 'folded' | 'held' | 'dead';

export const MAIL_CHANNELS: Channel[] = ['email_realtime', 'email_held_summary', 'email_digest', 'email_escalation'];
export const MISS_EVENTS = new Set(['created', 'incremented', 'reopened']);
/** The ledger events a CRM task follows (src/notify/crm/deliver.ts). */
export const CRM_EVENTS = new Set(['created', 'incremented', 'cleared', 'reopened', 'escalated']);

export interface Delivery {
  id: number;
  tenant: string;
  outboxId: number | null;
  entryId: number | null;
  callerKey: string;
  did: string;
  event: string;
  eventAt: string | null;
  channel: Channel;
  target: string;
  idempotencyKey: string;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
}

/** What an outbox row carries (written by enqueueEvents in src/ledger/store.ts). */
export interface OutboxPayload {
  event: string;
  reason: string | null;
  ext: string | null;
  user: string | null;
  linkedid?: string | null;
  entry: {
    id: number; tenant: string; caller: string; callerName: string; did: string; route: string; status: string;
    missedCount: number; totalMissed: number; firstAttempt: string; lastAttempt: string; rang: Record<string, number>;
    clearedBy: string | null;
  };
  /** An `entry.escalated` event's threshold (src/notify/escalation.ts). */
  escalation?: EscalationInfo;
}

/** `<outbox id>:<channel>:<target>`; a target too long for the unique index is replaced by its hash. */
export function idempotencyKey(prefix: string, channel: string, target: string): string {
  const key = `${prefix}:${channel}:${target}`;
  return key.length <= 190 ? key : `${prefix}:${channel}:sha256:${createHash('sha256').update(target).digest('hex').slice(0, 40)}`;
}

function deliveryFromRow(r: RowDataPacket): Delivery {
  return {
    id: Number(r.id), tenant: r.tenant, outboxId: r.outbox_id === null ? null : Number(r.outbox_id),
    entryId: r.entry_id === null ? null : Number(r.entry_id), callerKey: r.caller_key, did: r.did, event: r.event,
    eventAt: r.event_at, channel: r.channel, target: r.target, idempotencyKey: r.idempotency_key, payload: r.payload,
    status: r.status, attempts: Number(r.attempts),
  };
}

/** A delivery before it is stored: it starts pending, with no attempts. */
export type NewDelivery = Omit<Delivery, 'id' | 'status' | 'attempts'>;

export async function insertDeliveries(conn: PoolConnection | Pool, rows: NewDelivery[]): Promise<void> {
  if (rows.length === 0) return;
  const values = rows.flatMap((d) => [
    d.tenant, d.outboxId, d.entryId, d.callerKey, d.did, d.event, d.eventAt, d.channel, d.target, d.idempotencyKey, d.payload,
  ]);
  await conn.query(
    `INSERT IGNORE INTO smart_missed_calls_deliveries
       (pbx, tenant, outbox_id, entry_id, caller_key, did, event, event_at, channel, target, idempotency_key, payload,
        next_attempt_at, created_at)
     VALUES ${rows.map(() => '(@smc_pbx,?,?,?,?,?,?,?,?,?,?,?,NOW(3),NOW(3))').join(',')}`,
    values,
  );
}

/**
 * Fans pending outbox events out into deliveries, durably: the outbox rows are marked done
 * in the same transaction that inserts their deliveries, so an event is either still
 * pending or fully fanned out, whatever happens in between. Like every ledger write, it runs
 * again whole on a conflict (in a group, another node wrote the same rows or the journal head).
 */
export async function fanOutOutbox(
  pool: Pool,
  settingsOf: (tenant: string) => Promise<TenantSettings>,
  mailEnabled: boolean,
  limit = 200,
): Promise<number[]> {
  return inRetriedTransaction(pool, async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT id, tenant, event, entry_id, linkedid, payload FROM smart_missed_calls_outbox
        WHERE pbx = @smc_pbx AND status = 'pending' ORDER BY id LIMIT ? FOR UPDATE`,
      [limit],
    );
    if (rows.length === 0) return [];
    const entryIds = [...new Set(rows.map((r) => Number(r.entry_id)).filter((id) => id > 0))];
    const keys = new Map<number, string>();
    if (entryIds.length) {
      const [entries] = await conn.query<RowDataPacket[]>('SELECT id, caller_key FROM smart_missed_calls WHERE id IN (?)', [entryIds]);
      for (const e of entries) keys.set(Number(e.id), String(e.caller_key));
    }
    const deliveries: NewDelivery[] = [];
    for (const r of rows) {
      const settings = await settingsOf(r.tenant);
      const payload = { ...(JSON.parse(r.payload) as OutboxPayload), linkedid: r.linkedid };
      const entryId = r.entry_id === null ? null : Number(r.entry_id);
      const base = {
        tenant: r.tenant, outboxId: Number(r.id), entryId, callerKey: keys.get(entryId ?? 0) ?? '', did: payload.entry.did ?? '',
        event: r.event, eventAt: MISS_EVENTS.has(r.event) ? payload.entry.lastAttempt : null, payload: JSON.stringify(payload),
      };
      if (mailEnabled && settings.cadence === 'realtime' && settings.recipients.length && MISS_EVENTS.has(r.event)) {
        const target = settings.recipients.join(', ');
        deliveries.push({ ...base, channel: 'email_realtime', target, idempotencyKey: idempotencyKey(String(r.id), 'email_realtime', target) });
      }
      // An escalation mails its own recipients (else the notification ones), whatever the digest cadence.
      const escalateTo = settings.escalationRecipients.length ? settings.escalationRecipients : settings.recipients;
      if (mailEnabled && r.event === 'escalated' && escalateTo.length) {
        const target = escalateTo.join(', ');
        deliveries.push({ ...base, channel: 'email_escalation', target, idempotencyKey: idempotencyKey(String(r.id), 'email_escalation', target) });
      }
      for (const hook of settings.webhooks) {
        if (!hook.events.includes(payload.event)) continue;
        deliveries.push({ ...base, channel: 'webhook', target: hook.url, idempotencyKey: idempotencyKey(String(r.id), 'webhook', hook.url) });
      }
      // A withheld number is nobody a salesperson can call back: no CRM task for it.
      if (settings.crm.kind !== '' && CRM_EVENTS.has(r.event) && entryId !== null && payload.entry.caller !== 'anonymous') {
        deliveries.push({ ...base, channel: 'crm', target: settings.crm.kind, idempotencyKey: idempotencyKey(String(r.id), 'crm', settings.crm.kind) });
      }
    }
    await insertDeliveries(conn, deliveries);
    const ids = rows.map((r) => Number(r.id));
    await conn.query(`UPDATE smart_missed_calls_outbox SET status = 'done', done_at = NOW() WHERE id IN (?)`, [ids]);
    return ids;
  });
}

const COLUMNS = 'id, tenant, outbox_id, entry_id, caller_key, did, event, event_at, channel, target, idempotency_key, payload, status, attempts';

export async function dueDeliveries(pool: Pool, channels: Channel[], limit = 200): Promise<Delivery[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT ${COLUMNS} FROM smart_missed_calls_deliveries
      WHERE pbx = @smc_pbx AND status = 'pending' AND next_attempt_at <= NOW(3) AND channel IN (?) ORDER BY id LIMIT ?`,
    [channels, limit],
  );
  return rows.map(deliveryFromRow);
}

export async function deliveryByKey(pool: Pool, key: string): Promise<Delivery | null> {
  const [rows] = await pool.query<RowDataPacket[]>(`SELECT ${COLUMNS} FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND idempotency_key = ?`, [key]);
  return rows[0] ? deliveryFromRow(rows[0]) : null;
}

/**
 * Claims a delivery for one attempt and commits that BEFORE the attempt: a row found in
 * `sending` later means the attempt's outcome is unknown (the process died), which is
 * what makes a crash between "server accepted" and "marked sent" detectable.
 */
export async function markSending(pool: Pool, id: number): Promise<boolean> {
  const [res] = await pool.query<ResultSetHeader>(
    `UPDATE smart_missed_calls_deliveries SET status = 'sending', attempts = attempts + 1, sending_at = NOW(3)
      WHERE id = ? AND status = 'pending'`,
    [id],
  );
  return res.affectedRows === 1;
}

export interface Notified {
  entryIds: number[];
  linkedid: string | null;
  note: string;
}

/**
 * Marks a delivery sent and, for mails, journals `notified` for every entry the mail covered;
 * `journal` rows are written in the same transaction (a CRM's removal for `smc forget`).
 */
export async function markSent(
  pool: Pool, auditKey: AuditKey, d: Delivery, responseCode: number | null, notified: Notified | null, journal: AuditRecord[] = [],
): Promise<void> {
  await inRetriedTransaction(pool, async (conn) => {
    await conn.query(
      `UPDATE smart_missed_calls_deliveries SET status = 'sent', sent_at = NOW(3), response_code = ?, last_error = NULL
        WHERE id = ?`,
      [responseCode, d.id],
    );
    if (notified && notified.entryIds.length) {
      await appendAudit(
        conn,
        auditKey,
        [...new Set(notified.entryIds)].map((entryId) => ({
          tenant: d.tenant, entryId, event: 'notified', reason: null, actor: 'agent', ext: null, linkedid: notified.linkedid, note: notified.note,
        })),
      );
    }
    if (journal.length) await appendAudit(conn, auditKey, journal);
  });
}

export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  maxAttempts: number;
}

/** Exponential backoff: base × 2^(attempt−1), capped. */
export function retryDelayMs(policy: RetryPolicy, attempts: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
}

/** The longest a receiver's Retry-After is followed: past it, the CRM is asked again anyway. */
const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * A failed attempt: retried after the policy's backoff, `dead` once the attempts are used up.
 * With `retryAfterMs` (a 429's Retry-After) the other side asked us to wait, which is no
 * failure of this delivery: it is retried exactly that much later and the attempt does not
 * count, so a storm of 429s delays deliveries without ever killing one.
 */
export async function markFailed(
  pool: Pool,
  d: Delivery,
  policy: RetryPolicy,
  error: string,
  responseCode: number | null,
  retryAfterMs: number | null = null,
): Promise<DeliveryStatus> {
  if (retryAfterMs !== null) {
    await pool.query(
      `UPDATE smart_missed_calls_deliveries
          SET status = 'pending', attempts = GREATEST(attempts - 1, 0), last_error = ?, response_code = ?,
              next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND
        WHERE id = ? AND status = 'sending'`,
      [error.slice(0, 2000), responseCode, Math.round(Math.min(retryAfterMs, MAX_RETRY_AFTER_MS) * 1000), d.id],
    );
    return 'pending';
  }
  const [rows] = await pool.query<RowDataPacket[]>('SELECT attempts FROM smart_missed_calls_deliveries WHERE id = ?', [d.id]);
  const attempts = Number(rows[0]?.attempts ?? d.attempts);
  const status: DeliveryStatus = attempts >= policy.maxAttempts ? 'dead' : 'pending';
  await pool.query(
    `UPDATE smart_missed_calls_deliveries
        SET status = ?, last_error = ?, response_code = ?, next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND
      WHERE id = ? AND status = 'sending'`,
    [status, error.slice(0, 2000), responseCode, Math.round(retryDelayMs(policy, attempts) * 1000), d.id],
  );
  return status;
}

/**
 * A CRM task follows its entry's events in order: an update must not overtake the create,
 * nor a completion the update. When an earlier `crm` delivery of the same entry is still to
 * be made, this one is put off until that one's next attempt (no attempt counted) and true
 * comes back; false when nothing is ahead of it.
 */
export async function deferBehindEarlierCrm(pool: Pool, d: Delivery): Promise<boolean> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT MAX(next_attempt_at) AS next_at FROM smart_missed_calls_deliveries
      WHERE pbx = @smc_pbx AND tenant = ? AND entry_id = ? AND channel = 'crm' AND id < ? AND status IN ('pending', 'sending')`,
    [d.tenant, d.entryId, d.id],
  );
  if (!rows[0] || rows[0].next_at === null) return false;
  await pool.query(
    `UPDATE smart_missed_calls_deliveries SET next_attempt_at = GREATEST(?, NOW(3) + INTERVAL 1 SECOND) WHERE id = ? AND status = 'pending'`,
    [rows[0].next_at, d.id],
  );
  return true;
}

/**
 * The tenant's CRM asked us to wait (a 429, a daily limit) — maybe answering a caller-name
 * lookup, not a delivery: its `crm` deliveries due before then are put off until the wait is
 * over, with the CRM's words, and no attempt counted. Left due, they would be picked again
 * each pass only to be skipped, show no reason, and (200 at a time, by id) hold up the other
 * tenants' deliveries behind them.
 */
export async function putOffCrmWhileQuiet(pool: Pool, tenant: string, waitMs: number, reason: string): Promise<void> {
  const waitMicros = Math.round(Math.min(Math.max(waitMs, 0), MAX_RETRY_AFTER_MS) * 1000);
  await pool.query(
    `UPDATE smart_missed_calls_deliveries SET next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND, last_error = ?
      WHERE pbx = @smc_pbx AND tenant = ? AND channel = 'crm' AND status = 'pending' AND next_attempt_at < NOW(3) + INTERVAL ? MICROSECOND`,
    [waitMicros, reason.slice(0, 2000), tenant, waitMicros],
  );
}

/** Gives up on a delivery that can never succeed (its webhook was removed, no recipients left). */
export async function markDead(pool: Pool, id: number, error: string): Promise<void> {
  await pool.query(`UPDATE smart_missed_calls_deliveries SET status = 'dead', last_error = ? WHERE id = ?`, [error, id]);
}

/**
 * Called by the instance that just took the notify lock: every row still `sending` belongs
 * to an attempt whose process died, and may or may not have reached the other side. It is
 * attempted again — the one duplicate the design allows per interrupted attempt.
 */
export async function recoverInterrupted(pool: Pool): Promise<number> {
  const [res] = await pool.query<ResultSetHeader>(
    `UPDATE smart_missed_calls_deliveries
        SET status = 'pending', next_attempt_at = NOW(3),
            last_error = 'interrupted: the previous attempt may have been delivered; sent again'
      WHERE status = 'sending'`,
  );
  return res.affectedRows;
}

export interface DeliveryRecord {
  id: number;
  channel: Channel;
  target: string;
  event: string;
  entryId: number | null;
  status: DeliveryStatus;
  attempts: number;
  responseCode: number | null;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
  nextAttemptAt: string | null;
}

/**
 * The latest deliveries of a tenant and, separately, the ones that failed or are being
 * retried — for the settings page and `smc status`. Webhook secrets are never part of it.
 */
export async function recentDeliveries(pool: Pool, tenant: string, limit = 50): Promise<{ recent: DeliveryRecord[]; failures: DeliveryRecord[] }> {
  const select = `SELECT id, channel, target, event, entry_id, status, attempts, response_code, last_error, created_at, sent_at,
      next_attempt_at FROM smart_missed_calls_deliveries WHERE tenant = ? AND pbx = @smc_pbx`;
  const [recent] = await pool.query<RowDataPacket[]>(`${select} ORDER BY id DESC LIMIT ?`, [tenant, limit]);
  const [failures] = await pool.query<RowDataPacket[]>(
    `${select} AND (status = 'dead' OR (status IN ('pending', 'sending') AND last_error IS NOT NULL)) ORDER BY id DESC LIMIT ?`,
    [tenant, limit],
  );
  const record = (r: RowDataPacket): DeliveryRecord => ({
    id: Number(r.id), channel: r.channel, target: r.target, event: r.event, entryId: r.entry_id === null ? null : Number(r.entry_id),
    status: r.status, attempts: Number(r.attempts), responseCode: r.response_code === null ? null : Number(r.response_code),
    lastError: r.last_error, createdAt: r.created_at, sentAt: r.sent_at,
    nextAttemptAt: r.status === 'pending' ? r.next_attempt_at : null,
  });
  return { recent: recent.map(record), failures: failures.map(record) };
}
