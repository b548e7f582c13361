import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config, TenantSettings } from '../config/schema.js';
import type { Delivery, Notified, OutboxPayload } from './deliveries.js';
import { callerLabel, clearReasonLabel, pageLink } from './mail-text.js';
import type { MailRenderer, RenderedMail } from './templates.js';

/**
 * The escalation mail: who has waited past the callback target, since when, how long past
 * it. Written when it is sent, so an entry cleared in between says so at the top (like a
 * realtime mail) instead of asking for a call already made.
 */
export async function composeEscalation(
  pool: Pool,
  renderer: MailRenderer,
  config: Config,
  settings: TenantSettings,
  d: Delivery,
): Promise<{ mail: RenderedMail; notified: Notified }> {
  const payload = JSON.parse(d.payload) as OutboxPayload;
  const escalation = payload.escalation!;
  const [rows] = await pool.query<RowDataPacket[]>('SELECT caller_name, status, cleared_by, missed_count FROM smart_missed_calls WHERE id = ?', [d.entryId]);
  const now = rows[0];
  const entry = payload.entry;
  const t = renderer.translator(settings.language);
  const caller = callerLabel(t, entry.caller, String(now?.caller_name || entry.callerName || ''));
  const mail = await renderer.render(
    'escalation',
    settings.language,
    (tr) => tr('Not called back within {minutes} min: {caller}', { minutes: escalation.targetMinutes * escalation.threshold, caller }),
    {
      caller,
      did: entry.did,
      route: entry.route,
      firstAttempt: entry.firstAttempt,
      lastAttempt: entry.lastAttempt,
      missedCount: Number(now?.missed_count ?? entry.missedCount),
      targetMinutes: escalation.targetMinutes,
      threshold: escalation.threshold,
      dueAt: escalation.dueAt,
      businessHours: settings.businessHours,
      handled: now?.status === 'cleared' ? clearReasonLabel(t, now.cleared_by) : '',
      link: pageLink(config, d.tenant, 'entry', entry.id),
    },
  );
  return { mail, notified: { entryIds: [entry.id], linkedid: null, note: 'escalation email' } };
}
