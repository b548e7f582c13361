import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config, TenantSettings } from '../config/schema.js';
import { naiveSeconds } from '../cdr/row.js';
import { inRetriedTransaction } from '../db/pool.js';
import { idempotencyKey, insertDeliveries, type Delivery, type Notified, type OutboxPayload } from './deliveries.js';
import { callerLabel, clearReasonLabel, pageLink } from './mail-text.js';
import type { MailRenderer, RenderedMail } from './templates.js';
import { crmOwnerOf } from './crm-names.js';

/**
 * Realtime mail, per (caller, DID): the first miss is mailed at once; misses within
 * realtimeDedupeMinutes (by call time) of the last mailed one are folded, and the next
 * mail about that caller says "+N more attempts". Past maxEmailsPerHour a mail is held,
 * and one held-summary mail per hour says how many were held.
 */
export type RealtimeDecision =
  | { kind: 'fold'; anchorId: number }
  | { kind: 'hold' }
  | { kind: 'send'; folded: number };

export async function decideRealtime(pool: Pool, d: Delivery, settings: TenantSettings): Promise<RealtimeDecision> {
  const [anchors] = await pool.query<RowDataPacket[]>(
    `SELECT id, event_at FROM smart_missed_calls_deliveries
      WHERE tenant = ? AND pbx = @smc_pbx AND channel = 'email_realtime' AND caller_key = ? AND did = ? AND id < ?
        AND status IN ('pending', 'sending', 'sent')
      ORDER BY id DESC LIMIT 1`,
    [d.tenant, d.callerKey, d.did, d.id],
  );
  const anchor = anchors[0];
  const windowSeconds = settings.realtimeDedupeMinutes * 60;
  if (anchor && d.eventAt && anchor.event_at && windowSeconds > 0) {
    const gap = naiveSeconds(d.eventAt) - naiveSeconds(String(anchor.event_at));
    if (gap >= 0 && gap < windowSeconds) return { kind: 'fold', anchorId: Number(anchor.id) };
  }
  const [[sent]] = (await pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM smart_missed_calls_deliveries
      WHERE tenant = ? AND pbx = @smc_pbx AND channel = 'email_realtime' AND status IN ('sent', 'sending') AND sending_at >= NOW(3) - INTERVAL 1 HOUR`,
    [d.tenant],
  )) as unknown as [[{ n: number }]];
  if (Number(sent.n) >= settings.maxEmailsPerHour) return { kind: 'hold' };
  let folded = 0;
  if (anchor) {
    const [[count]] = (await pool.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM smart_missed_calls_deliveries WHERE status = 'folded' AND covered_by = ?`,
      [anchor.id],
    )) as unknown as [[{ n: number }]];
    folded = Number(count.n);
  }
  return { kind: 'send', folded };
}

export async function markFolded(pool: Pool, id: number, anchorId: number): Promise<void> {
  await pool.query(`UPDATE smart_missed_calls_deliveries SET status = 'folded', covered_by = ? WHERE id = ? AND status = 'pending'`, [anchorId, id]);
}

export async function markHeld(pool: Pool, id: number): Promise<void> {
  await pool.query(`UPDATE smart_missed_calls_deliveries SET status = 'held' WHERE id = ? AND status = 'pending'`, [id]);
}

export async function composeRealtime(
  pool: Pool,
  renderer: MailRenderer,
  config: Config,
  settings: TenantSettings,
  d: Delivery,
  folded: number,
): Promise<{ mail: RenderedMail; notified: Notified }> {
  const payload = JSON.parse(d.payload) as OutboxPayload;
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT caller_name, status, cleared_by, missed_count, voicemail_left FROM smart_missed_calls WHERE id = ?',
    [d.entryId],
  );
  const now = rows[0];
  const entry = payload.entry;
  const name = String(now?.caller_name || entry.callerName || '');
  const t = renderer.translator(settings.language);
  const caller = callerLabel(t, entry.caller, name);
  // Whose customer it is, when the CRM told us before this mail (src/notify/crm-names.ts).
  const owner = await crmOwnerOf(pool, d.tenant, settings.crm.kind, d.callerKey);
  const mail = await renderer.render(
    'realtime',
    settings.language,
    (tr) => (folded > 0 ? tr('Missed call from {caller} (+{attempts})', { caller, attempts: tr.plural('{n} more attempt', '{n} more attempts', folded) }) : tr('Missed call from {caller}', { caller })),
    {
      caller,
      owner,
      did: entry.did,
      route: entry.route,
      at: entry.lastAttempt,
      firstAttempt: entry.firstAttempt,
      missedCount: Number(now?.missed_count ?? entry.missedCount),
      rang: Object.keys(entry.rang ?? {}).sort(),
      voicemailLeft: now?.voicemail_left === undefined || now?.voicemail_left === null ? null : !!now.voicemail_left,
      folded,
      reopened: payload.event === 'entry.reopened',
      handled: now?.status === 'cleared' ? clearReasonLabel(t, now.cleared_by) : '',
      link: pageLink(config, d.tenant, 'entry', entry.id),
    },
  );
  return { mail, notified: { entryIds: [entry.id], linkedid: payload.linkedid ?? null, note: 'realtime email' } };
}

/**
 * Queues one held-summary mail per tenant and hour for the realtime mails the cap held
 * back. The held rows point at the summary that reported them, so none is reported twice.
 */
export async function queueHeldSummaries(pool: Pool, renderer: MailRenderer, config: Config, settingsOf: (tenant: string) => Promise<TenantSettings>): Promise<number> {
  const [tenants] = await pool.query<RowDataPacket[]>(
    `SELECT DISTINCT tenant FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND channel = 'email_realtime' AND status = 'held' AND covered_by IS NULL`,
  );
  let queued = 0;
  for (const { tenant } of tenants) {
    const settings = await settingsOf(tenant);
    queued += await inRetriedTransaction(pool, async (conn) => {
      const [recent] = await conn.query<RowDataPacket[]>(
        `SELECT id FROM smart_missed_calls_deliveries WHERE tenant = ? AND pbx = @smc_pbx AND channel = 'email_held_summary' AND created_at >= NOW(3) - INTERVAL 1 HOUR LIMIT 1`,
        [tenant],
      );
      if (recent.length) return 0;
      const [held] = await conn.query<RowDataPacket[]>(
        `SELECT id, entry_id, target, payload FROM smart_missed_calls_deliveries
          WHERE tenant = ? AND pbx = @smc_pbx AND channel = 'email_realtime' AND status = 'held' AND covered_by IS NULL ORDER BY id FOR UPDATE`,
        [tenant],
      );
      if (held.length === 0) return 0;
      const t = renderer.translator(settings.language);
      const calls = held.map((h) => {
        const p = JSON.parse(h.payload) as OutboxPayload;
        return { caller: callerLabel(t, p.entry.caller, p.entry.callerName), did: p.entry.did, at: p.entry.lastAttempt, route: p.entry.route };
      });
      const mail = await renderer.render(
        'held-summary',
        settings.language,
        (tr) => tr.plural('{n} missed-call alert was held back (limit: {max} emails per hour)', '{n} missed-call alerts were held back (limit: {max} emails per hour)', held.length, { max: settings.maxEmailsPerHour }),
        { count: held.length, max: settings.maxEmailsPerHour, calls: calls.slice(0, 100), more: Math.max(0, calls.length - 100), link: pageLink(config, tenant, 'entries') },
      );
      const target = settings.recipients.length ? settings.recipients.join(', ') : String(held[0]!.target);
      const key = idempotencyKey(`held:${tenant}:${held[0]!.id}-${held[held.length - 1]!.id}`, 'email_held_summary', 'recipients');
      const entryIds = [...new Set(held.map((h) => Number(h.entry_id)).filter((id) => id > 0))];
      await insertDeliveries(conn, [{
        tenant, outboxId: null, entryId: null, callerKey: '', did: '', event: 'held_summary', eventAt: null,
        channel: 'email_held_summary', target, idempotencyKey: key, payload: JSON.stringify({ mail, entryIds, note: 'held-summary email' }),
      }]);
      const [[summary]] = (await conn.query<RowDataPacket[]>('SELECT id FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND idempotency_key = ?', [key])) as unknown as [[{ id: number }]];
      await conn.query('UPDATE smart_missed_calls_deliveries SET covered_by = ? WHERE id IN (?)', [summary.id, held.map((h) => h.id)]);
      return 1;
    });
  }
  return queued;
}
