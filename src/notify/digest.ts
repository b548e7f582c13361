import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config, TenantSettings } from '../config/schema.js';
import type { Translate } from '../detect/explain.js';
import { chainHead, formatChainPoint } from '../ledger/audit.js';
import { deliveryByKey, idempotencyKey, insertDeliveries, type Delivery } from './deliveries.js';
import type { DigestCadence, DigestPeriod } from './digest-period.js';
import { callerLabel, clearReasonLabel, pageLink } from './mail-text.js';
import type { MailRenderer, RenderedMail } from './templates.js';

/** Open entries a digest lists by name; the rest are counted. */
const LISTED_OPEN = 50;

export interface DigestContent {
  period: DigestPeriod;
  openTotal: number;
  open: { id: number; caller: string; did: string; route: string; missedCount: number; firstAttempt: string; lastAttempt: string; isNew: boolean }[];
  newEntries: number;
  clearedByReason: { reason: string; count: number }[];
  clearedByWhom: { who: string; count: number }[];
  topCallers: { caller: string; missed: number }[];
  missRate: { missed: number; inbound: number; rate: number | null };
  previousMissRate: { missed: number; inbound: number; rate: number | null };
  link: string;
  /** The journal's newest row, id:hash: an anchor kept outside the database (smc audit verify --head). */
  auditHead: string | null;
}

async function missRate(pool: Pool, tenant: string, from: string, to: string): Promise<DigestContent['missRate']> {
  const [[r]] = (await pool.query<RowDataPacket[]>(
    `SELECT COALESCE(SUM(verdict = 'missed'), 0) AS missed, COUNT(*) AS inbound FROM smart_missed_calls_calls
      WHERE tenant = ? AND pbx = @smc_pbx AND direction = 'inbound' AND started_at >= ? AND started_at < ?`,
    [tenant, from, to],
  )) as unknown as [[{ missed: number; inbound: number }]];
  const missed = Number(r.missed);
  const inbound = Number(r.inbound);
  return { missed, inbound, rate: inbound ? missed / inbound : null };
}

/** What a digest says about one tenant and period (times are the PBX's naive clock). */
export async function digestContent(pool: Pool, config: Config, tenant: string, period: DigestPeriod, t: Translate): Promise<DigestContent> {
  const { start, end } = period;
  const [open] = await pool.query<RowDataPacket[]>(
    `SELECT id, caller, caller_name, did, route_label, missed_count, first_attempt, last_attempt FROM smart_missed_calls
      WHERE tenant = ? AND pbx = @smc_pbx AND status = 'open' ORDER BY first_attempt, id LIMIT ?`,
    [tenant, LISTED_OPEN],
  );
  const [[counts]] = (await pool.query<RowDataPacket[]>(
    `SELECT SUM(status = 'open') AS open_total, SUM(first_attempt >= ? AND first_attempt < ?) AS new_entries
       FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx`,
    [start, end, tenant],
  )) as unknown as [[{ open_total: number | null; new_entries: number | null }]];
  const [byReason] = await pool.query<RowDataPacket[]>(
    `SELECT cleared_by AS reason, COUNT(*) AS n FROM smart_missed_calls
      WHERE tenant = ? AND pbx = @smc_pbx AND status = 'cleared' AND cleared_at >= ? AND cleared_at < ? GROUP BY cleared_by ORDER BY n DESC, reason`,
    [tenant, start, end],
  );
  const [byWhom] = await pool.query<RowDataPacket[]>(
    `SELECT cleared_ext AS ext, cleared_user AS user, COUNT(*) AS n FROM smart_missed_calls
      WHERE tenant = ? AND pbx = @smc_pbx AND status = 'cleared' AND cleared_at >= ? AND cleared_at < ? AND (cleared_ext IS NOT NULL OR cleared_user IS NOT NULL)
      GROUP BY cleared_ext, cleared_user ORDER BY n DESC LIMIT 10`,
    [tenant, start, end],
  );
  const [top] = await pool.query<RowDataPacket[]>(
    `SELECT c.caller_key, MAX(c.caller) AS caller, COUNT(*) AS n,
            (SELECT MAX(e.caller_name) FROM smart_missed_calls e WHERE e.tenant = c.tenant AND e.pbx = c.pbx AND e.caller_key = c.caller_key) AS name
       FROM smart_missed_calls_calls c
      WHERE c.tenant = ? AND c.pbx = @smc_pbx AND c.verdict = 'missed' AND c.started_at >= ? AND c.started_at < ?
      GROUP BY c.caller_key ORDER BY n DESC, c.caller_key LIMIT 5`,
    [tenant, start, end],
  );
  const anonymous = (caller: string) => (caller === 'anonymous' || caller === '' ? 'anonymous' : caller);
  return {
    period,
    openTotal: Number(counts.open_total ?? 0),
    open: open.map((e) => ({
      id: Number(e.id), caller: callerLabel(t, anonymous(e.caller), e.caller_name), did: e.did, route: e.route_label,
      missedCount: Number(e.missed_count), firstAttempt: e.first_attempt, lastAttempt: e.last_attempt,
      isNew: e.first_attempt >= start && e.first_attempt < end,
    })),
    newEntries: Number(counts.new_entries ?? 0),
    clearedByReason: byReason.map((r) => ({ reason: clearReasonLabel(t, r.reason), count: Number(r.n) })),
    clearedByWhom: byWhom.map((r) => ({ who: r.ext ? `${t('extension')} ${r.ext}` : `${t('user')} ${r.user}`, count: Number(r.n) })),
    topCallers: top.map((r) => ({ caller: callerLabel(t, anonymous(String(r.caller)), r.name ?? ''), missed: Number(r.n) })),
    missRate: await missRate(pool, tenant, start, end),
    previousMissRate: await missRate(pool, tenant, period.previousStart, start),
    link: pageLink(config, tenant, 'entries'),
    auditHead: await chainHead(pool).then((head) => (head ? formatChainPoint(head) : null)),
  };
}

const SUBJECTS: Record<DigestCadence, string> = {
  hourly: 'Missed calls, hourly digest: {open} open, {new} new',
  daily: 'Missed calls, daily digest: {open} open, {new} new',
  weekly: 'Missed calls, weekly digest: {open} open, {new} new',
  monthly: 'Missed calls, monthly digest: {open} open, {new} new',
};

export async function renderDigest(renderer: MailRenderer, settings: TenantSettings, content: DigestContent): Promise<RenderedMail> {
  return renderer.render(
    'digest',
    settings.language,
    (t) => t(SUBJECTS[content.period.cadence], { open: content.openTotal, new: content.newEntries }),
    { d: content },
  );
}

/**
 * Queues a tenant's digest for a period, rendered now so that a retry sends the same
 * mail. The key names the period, so a period is queued once however often this is asked;
 * `manual` (smc digest send) adds a unique suffix and always queues.
 */
export async function queueDigest(
  pool: Pool,
  renderer: MailRenderer,
  config: Config,
  tenant: string,
  settings: TenantSettings,
  period: DigestPeriod,
  manual = false,
): Promise<Delivery | null> {
  const key = idempotencyKey(`digest:${tenant}:${period.cadence}:${period.start}${manual ? `:manual:${Date.now()}` : ''}`, 'email_digest', 'recipients');
  if (!manual && (await deliveryByKey(pool, key))) return null;
  if (settings.recipients.length === 0) throw new Error(`tenant ${tenant} has no digest recipients`);
  const t = renderer.translator(settings.language);
  const content = await digestContent(pool, config, tenant, period, t);
  const mail = await renderDigest(renderer, settings, content);
  await insertDeliveries(pool, [{
    tenant, outboxId: null, entryId: null, callerKey: '', did: '', event: `digest_${period.cadence}`, eventAt: null,
    channel: 'email_digest', target: settings.recipients.join(', '), idempotencyKey: key,
    payload: JSON.stringify({ mail, entryIds: content.open.map((e) => e.id), note: `${period.cadence} digest email` }),
  }]);
  return deliveryByKey(pool, key);
}
