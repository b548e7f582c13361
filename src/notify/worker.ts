import type { Pool, RowDataPacket } from 'mysql2/promise';
import cron from 'node-cron';
import type { Config, TenantSettings } from '../config/schema.js';
import { knownTenants, loadSettings } from '../config/settings-store.js';
import { applyCrmName, fillCallerNames } from './caller-names.js';
import { CrmNameFill } from './crm-names.js';
import { CrmAccess } from './crm/access.js';
import {
  deferBehindEarlierCrm, dueDeliveries, fanOutOutbox, MAIL_CHANNELS, markDead, markFailed, markSending, markSent, putOffCrmWhileQuiet, recoverInterrupted,
  type Delivery, type Notified, type OutboxPayload, type RetryPolicy,
} from './deliveries.js';
import { CrmError, type CrmConnector } from './crm/connector.js';
import { syncTask } from './crm/deliver.js';
import { FORGET_EVENT, removeFromCrm, type CrmForget } from './crm/forget.js';
import { connectorFor } from './crm/registry.js';
import { queueDigest } from './digest.js';
import { DIGEST_CADENCES, latestDuePeriod, type DigestCadence } from './digest-period.js';
import { faultPoint } from '../sync/faults.js';
import { instanceLock } from '../db/lease.js';
import type { SingleInstanceLock } from '../db/named-lock.js';
import { readAuditKey, type AuditKey } from '../ledger/audit-key.js';
import { refreshTargetDue } from '../ledger/target-due.js';
import { createMailer, type Mailer } from './mailer.js';
import { composeEscalation } from './escalation-mail.js';
import { escalateDue, ledgerZone } from './escalation.js';
import { composeRealtime, decideRealtime, markFolded, markHeld, queueHeldSummaries } from './realtime.js';
import { MailRenderer, type RenderedMail } from './templates.js';
import { parseNetworks, type Network } from '../config/networks.js';
import { postWebhook } from './webhook.js';

/**
 * The notifier of `smc serve`: outbox → deliveries → mail, webhooks and CRM tasks, plus digests.
 *
 * Delivery is at-least-once with a bounded duplicate: a delivery is marked `sending`
 * (committed) before the attempt and `sent` only after the SMTP server accepted the mail
 * or the webhook answered 2xx. If the process dies between the acceptance and that mark,
 * the row stays `sending`; the instance that next takes the notify lock sends it again.
 * So each crash in that window can cause at most ONE duplicate of the ONE delivery that
 * was in flight (per lane: one mail and one webhook), never a lost one. A resent mail
 * carries the same Message-ID and a resent webhook the same X-SMC-Delivery, so receivers
 * can drop the copy. CRM tasks allow no duplicate at all: a resent `crm` delivery finds the
 * task it may have created by the marker in its text (src/notify/crm/deliver.ts).
 */
export interface NotifierOptions {
  /** Our tables (the ledger). */
  pool: Pool;
  /** The PBX's own database (contact manager, CNAM from cdr) when the ledger is elsewhere; default: pool. */
  cdrPool?: Pool;
  config: Config;
  log?: (line: string) => void;
  renderer?: MailRenderer;
  mailer?: Mailer | null;
  mailRetry?: RetryPolicy;
  webhookRetry?: RetryPolicy;
  webhookTimeoutMs?: number;
  crmRetry?: RetryPolicy;
  /** How long a CRM task create whose answer was lost keeps a new create away (src/notify/crm/deliver.ts). */
  crmSettleMs?: number;
  /** How often the outbox is looked at when nobody kicks the notifier. */
  pollMs?: number;
  /**
   * Runs after the other side accepted a delivery and before it is marked sent. Tests
   * throw from it to cut the worker off exactly there, as a crash would.
   */
  afterAccepted?: (d: Delivery) => void;
}

export interface StoredMail {
  mail: RenderedMail;
  entryIds: number[];
  note: string;
}

const DEFAULT_MAIL_RETRY: RetryPolicy = { baseMs: 30_000, maxMs: 3_600_000, maxAttempts: 20 };
const DEFAULT_WEBHOOK_RETRY: RetryPolicy = { baseMs: 30_000, maxMs: 3_600_000, maxAttempts: 10 };
/** A CRM down for hours loses nothing: 30 s doubling to an hour, for about a day. */
const DEFAULT_CRM_RETRY: RetryPolicy = { baseMs: 30_000, maxMs: 3_600_000, maxAttempts: 30 };
/** A CRM's search shows a new object within seconds; a minute is well past that. */
const DEFAULT_CRM_SETTLE_MS = 60_000;

export class Notifier {
  readonly renderer: MailRenderer;
  private readonly mailer: Mailer | null;
  private readonly lock: SingleInstanceLock;
  private readonly log: (line: string) => void;
  private readonly mailRetry: RetryPolicy;
  private readonly webhookRetry: RetryPolicy;
  private readonly crmRetry: RetryPolicy;
  /** A sent mail journals `notified` for each entry it covered. */
  private readonly auditKey: AuditKey;
  private settingsCache = new Map<string, TenantSettings>();
  private readonly allowedNetworks: Network[];
  /** The CRM's names, fetched in the background: a pass never waits for a CRM to name a caller. */
  readonly crmNames: CrmNameFill;
  /** Task deliveries and name lookups take turns with each tenant's CRM and share its 429s. */
  private readonly crmAccess = new CrmAccess();

  constructor(private readonly options: NotifierOptions) {
    this.renderer = options.renderer ?? new MailRenderer();
    this.mailer = options.mailer === undefined ? createMailer(options.config.mail) : options.mailer;
    this.lock = instanceLock(options.pool, options.config, 'notify');
    this.log = options.log ?? (() => {});
    this.mailRetry = options.mailRetry ?? DEFAULT_MAIL_RETRY;
    this.webhookRetry = options.webhookRetry ?? DEFAULT_WEBHOOK_RETRY;
    this.crmRetry = options.crmRetry ?? DEFAULT_CRM_RETRY;
    this.allowedNetworks = parseNetworks(options.config.notify.allowPrivateNetworks);
    this.auditKey = readAuditKey(options.config.auditKeyFile);
    const pools = { ledger: options.pool, cdr: options.cdrPool ?? options.pool };
    this.crmNames = new CrmNameFill({
      pools, config: options.config, allowedNetworks: this.allowedNetworks, log: this.log, access: this.crmAccess,
      apply: async (tenant, key, name, settings) => void (await applyCrmName(pools, options.config, tenant, key, name, settings)),
    });
  }

  private get pool(): Pool {
    return this.options.pool;
  }

  private settingsOf = async (tenant: string): Promise<TenantSettings> => {
    let s = this.settingsCache.get(tenant);
    if (!s) {
      s = await loadSettings(this.pool, tenant);
      this.settingsCache.set(tenant, s);
    }
    return s;
  };

  /**
   * One round: fan the outbox out, then deliver everything due. Returns false when another
   * instance holds the notify lock (it does the work then).
   */
  async pass(): Promise<boolean> {
    const lock = await this.lock.acquire();
    if (lock === 'busy') return false;
    this.settingsCache.clear();
    if (lock === 'acquired') {
      const recovered = await recoverInterrupted(this.pool);
      if (recovered) this.log(`notifier: ${recovered} deliveries were interrupted by a stop or crash; sending them again`);
    }
    await this.escalate();
    this.crmNames.hold();
    try {
      for (;;) {
        const done = await fanOutOutbox(this.pool, this.settingsOf, this.mailer !== null);
        if (done.length === 0) break;
        await this.fillNames(done);
      }
      await Promise.all([this.mailLane(), this.webhookLane(), this.crmLane()]);
    } finally {
      // The CRM lookups the names asked for run now, in the background, after this pass's tasks.
      this.crmNames.release();
    }
    return true;
  }

  /**
   * Callback targets: the due times of entries new or changed since the last pass are stored
   * (src/ledger/target-due.ts), then entries past a threshold are queued in the outbox here,
   * under the notify lock, and fanned out right after (src/notify/escalation.ts). One
   * tenant's failure is logged and does not hold up the others.
   */
  private async escalate(): Promise<void> {
    const zone = ledgerZone(this.options.config);
    for (const tenant of await knownTenants(this.pool)) {
      try {
        const settings = await this.settingsOf(tenant);
        await refreshTargetDue(this.pool, zone, tenant, settings);
        const queued = await escalateDue(this.pool, this.auditKey, zone, tenant, settings);
        if (queued) this.log(`notifier: ${queued} ${queued === 1 ? 'entry' : 'entries'} of ${tenant} past the callback target escalated`);
      } catch (err) {
        this.log(`notifier: callback targets of ${tenant} failed: ${(err as Error).message}`);
      }
    }
  }

  /** Names for the entries of new events, before their mails are written. */
  private async fillNames(outboxIds: number[]): Promise<void> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      'SELECT DISTINCT tenant, entry_id FROM smart_missed_calls_outbox WHERE id IN (?) AND entry_id IS NOT NULL',
      [outboxIds],
    );
    const byTenant = new Map<string, number[]>();
    for (const r of rows) byTenant.set(r.tenant, [...(byTenant.get(r.tenant) ?? []), Number(r.entry_id)]);
    for (const [tenant, ids] of byTenant) {
      try {
        await fillCallerNames({ ledger: this.pool, cdr: this.options.cdrPool ?? this.pool }, this.options.config, tenant, ids, await this.settingsOf(tenant), this.crmNames);
      } catch (err) {
        this.log(`notifier: caller names for ${tenant} failed: ${(err as Error).message}`);
      }
    }
  }

  private async mailLane(): Promise<void> {
    if (!this.mailer) return;
    for (let round = 0; round < 2; round += 1) {
      for (;;) {
        const due = await dueDeliveries(this.pool, MAIL_CHANNELS);
        if (due.length === 0) break;
        for (const d of due) {
          // The server is unreachable: leave the rest for the next round instead of failing each.
          if (!(await this.deliverMail(d))) return;
        }
        if (due.length < 200) break;
      }
      if ((await queueHeldSummaries(this.pool, this.renderer, this.options.config, this.settingsOf)) === 0) return;
    }
  }

  /** False when the attempt failed on the transport (the next mails would fail the same way). */
  private async deliverMail(d: Delivery): Promise<boolean> {
    const settings = await this.settingsOf(d.tenant);
    let mail: RenderedMail;
    let notified: Notified;
    if (d.channel === 'email_realtime') {
      const decision = await decideRealtime(this.pool, d, settings);
      if (decision.kind === 'fold') {
        await markFolded(this.pool, d.id, decision.anchorId);
        return true;
      }
      if (decision.kind === 'hold') {
        await markHeld(this.pool, d.id);
        return true;
      }
      ({ mail, notified } = await composeRealtime(this.pool, this.renderer, this.options.config, settings, d, decision.folded));
    } else if (d.channel === 'email_escalation') {
      ({ mail, notified } = await composeEscalation(this.pool, this.renderer, this.options.config, settings, d));
    } else {
      const stored = JSON.parse(d.payload) as StoredMail;
      mail = stored.mail;
      notified = { entryIds: stored.entryIds, linkedid: null, note: stored.note };
    }
    const to = d.target.split(/\s*,\s*/).filter(Boolean);
    if (to.length === 0) {
      await markDead(this.pool, d.id, 'no recipients');
      return true;
    }
    if (!(await markSending(this.pool, d.id))) return true;
    faultPoint('outbox-sending');
    let code: number;
    try {
      ({ code } = await this.mailer!.send({ ...mail, to, deliveryKey: d.idempotencyKey }));
    } catch (err) {
      const e = err as Error & { responseCode?: number };
      const status = await markFailed(this.pool, d, this.mailRetry, e.message, e.responseCode ?? null);
      this.log(`notifier: mail ${d.idempotencyKey} failed (${status}): ${e.message}`);
      // The server answered and refused this one mail: the others may still go through.
      return e.responseCode !== undefined;
    }
    this.options.afterAccepted?.(d);
    faultPoint('outbox-accepted');
    await markSent(this.pool, this.auditKey, d, code, notified);
    return true;
  }

  private async webhookLane(): Promise<void> {
    for (;;) {
      const due = await dueDeliveries(this.pool, ['webhook']);
      for (const d of due) await this.deliverWebhook(d);
      if (due.length < 200) return;
    }
  }

  private async deliverWebhook(d: Delivery): Promise<void> {
    const settings = await this.settingsOf(d.tenant);
    const hook = settings.webhooks.find((h) => h.url === d.target);
    if (!hook) {
      await markDead(this.pool, d.id, 'this webhook is no longer in the settings');
      return;
    }
    const body = await this.webhookBody(d);
    if (!(await markSending(this.pool, d.id))) return;
    const target = { url: hook.url, secret: hook.secret, allowedNetworks: this.allowedNetworks };
    const result = await postWebhook(target, d.idempotencyKey, body, this.options.webhookTimeoutMs ?? 10_000);
    if (!result.ok) {
      const status = await markFailed(this.pool, d, this.webhookRetry, result.error, result.status);
      this.log(`notifier: webhook ${d.idempotencyKey} failed (${status}): ${result.error}`);
      return;
    }
    this.options.afterAccepted?.(d);
    faultPoint('outbox-accepted');
    await markSent(this.pool, this.auditKey, d, result.status, null);
  }

  /**
   * CRM tasks, each entry's in the order of its events. A tenant whose CRM said 429 is left
   * alone for the rest of the pass (its next requests would be refused too), and its tasks
   * wait as long as the CRM asked; the other tenants' CRMs are not held up by it.
   */
  private async crmLane(): Promise<void> {
    const rateLimited = new Set<string>();
    for (;;) {
      const due = await dueDeliveries(this.pool, ['crm']);
      let tried = 0;
      for (const d of due) {
        if (rateLimited.has(d.tenant)) continue;
        const outcome = await this.deliverCrm(d);
        if (outcome === 'rate-limited') {
          rateLimited.add(d.tenant);
          // Whether this delivery or a caller-name lookup met the refusal, the wait is the CRM's.
          const quiet = this.crmAccess.quietFor(d.tenant);
          if (quiet) await putOffCrmWhileQuiet(this.pool, d.tenant, quiet.untilMs - Date.now(), quiet.reason);
        }
        if (outcome !== 'deferred') tried += 1;
      }
      // Only deferred or rate-limited ones left: they are due again later, not in this pass.
      if (due.length < 200 || tried === 0) return;
    }
  }

  private async deliverCrm(d: Delivery): Promise<'done' | 'rate-limited' | 'deferred'> {
    const settings = await this.settingsOf(d.tenant);
    const connector = settings.crm.kind === d.target ? connectorFor(settings.crm, this.allowedNetworks) : null;
    if (!connector) {
      await markDead(this.pool, d.id, 'this CRM is no longer in the settings');
      return 'done';
    }
    return this.crmAccess.turn(d.tenant, async () => {
      // A 429 (or limit refusal) to the name lookups counts too: the account's limit is one.
      if (this.crmAccess.quiet(d.tenant)) return 'rate-limited';
      return d.event === FORGET_EVENT ? this.forgetInCrm(d, connector) : this.syncCrmTask(d, connector, settings);
    });
  }

  private async syncCrmTask(d: Delivery, connector: CrmConnector, settings: TenantSettings): Promise<'done' | 'rate-limited' | 'deferred'> {
    if (await deferBehindEarlierCrm(this.pool, d)) return 'deferred';
    if (!(await markSending(this.pool, d.id))) return 'done';
    let outcome;
    try {
      outcome = await syncTask(
        {
          pool: this.pool, connector, settings, t: this.renderer.translator(settings.language),
          settleMs: this.options.crmSettleMs ?? DEFAULT_CRM_SETTLE_MS,
          afterCreated: () => {
            this.options.afterAccepted?.(d);
            faultPoint('crm-created');
          },
        },
        d,
        this.options.config.pbxId,
      );
    } catch (err) {
      if (!(err instanceof CrmError)) throw err;
      const status = await markFailed(this.pool, d, this.crmRetry, err.message, err.status, err.retryAfterMs);
      this.log(`notifier: crm ${d.idempotencyKey} failed (${status}): ${err.message}`);
      if (!err.rateLimited) return 'done';
      this.crmAccess.rateLimited(d.tenant, err.retryAfterMs ?? 0, err.message);
      return 'rate-limited';
    }
    await markSent(this.pool, this.auditKey, d, null, null);
    this.log(`notifier: crm ${d.idempotencyKey}: task ${outcome}`);
    return 'done';
  }

  /** `smc forget`'s removal of what we created in the CRM; journalled once the CRM confirmed it. */
  private async forgetInCrm(d: Delivery, connector: CrmConnector): Promise<'done' | 'rate-limited'> {
    if (!(await markSending(this.pool, d.id))) return 'done';
    let removed;
    try {
      removed = await removeFromCrm(connector, JSON.parse(d.payload) as CrmForget);
    } catch (err) {
      if (!(err instanceof CrmError)) throw err;
      const status = await markFailed(this.pool, d, this.crmRetry, err.message, err.status, err.retryAfterMs);
      this.log(`notifier: crm ${d.idempotencyKey} (forget) failed (${status}): ${err.message}`);
      if (!err.rateLimited) return 'done';
      this.crmAccess.rateLimited(d.tenant, err.retryAfterMs ?? 0, err.message);
      return 'rate-limited';
    }
    // Counts only: the CRM's ids are long digit runs the journal would mask, and name nobody.
    const note = `${connector.kind}: ${removed.tasks} tasks and ${removed.contacts} contacts we created removed`;
    await markSent(this.pool, this.auditKey, d, null, null, [
      { tenant: d.tenant, entryId: null, event: 'crm_forgotten', reason: null, actor: 'agent', ext: null, linkedid: null, note },
    ]);
    this.log(`notifier: crm ${d.idempotencyKey}: ${note}`);
    return 'done';
  }

  private async webhookBody(d: Delivery): Promise<string> {
    const payload = JSON.parse(d.payload) as OutboxPayload;
    let call: Record<string, unknown> | undefined;
    if (payload.linkedid) {
      const [rows] = await this.pool.query<RowDataPacket[]>(
        `SELECT linkedid, verdict, direction, started_at, ended_at, wait_s, answered_by, rang, route_kind, route_id, explanation
           FROM smart_missed_calls_calls WHERE tenant = ? AND pbx = @smc_pbx AND linkedid = ?`,
        [d.tenant, payload.linkedid],
      );
      const c = rows[0];
      if (c) {
        call = {
          linkedid: c.linkedid, verdict: c.verdict, direction: c.direction, startedAt: c.started_at, endedAt: c.ended_at,
          waitSeconds: Number(c.wait_s), answeredBy: c.answered_by, rang: JSON.parse(c.rang), route: { kind: c.route_kind, id: c.route_id },
          explanation: JSON.parse(c.explanation),
        };
      }
    }
    return JSON.stringify({
      id: d.idempotencyKey,
      event: payload.event,
      tenant: d.tenant,
      sentAt: new Date().toISOString(),
      entry: { ...payload.entry, clearedExt: payload.ext, clearedUser: payload.user },
      ...(payload.escalation ? { escalation: payload.escalation } : {}),
      ...(call ? { call } : {}),
    });
  }

  /** Queues every tenant's digest that is due and not yet queued (catching up after downtime). */
  async queueDueDigests(now = new Date()): Promise<number> {
    if ((await this.lock.acquire()) === 'busy' || !this.mailer) return 0;
    let queued = 0;
    for (const tenant of await knownTenants(this.pool)) {
      const settings = await loadSettings(this.pool, tenant);
      if (!(DIGEST_CADENCES as string[]).includes(settings.cadence) || settings.recipients.length === 0) continue;
      const period = latestDuePeriod(settings.cadence as DigestCadence, settings.timezone, now);
      try {
        if (await queueDigest(this.pool, this.renderer, this.options.config, tenant, settings, period)) queued += 1;
      } catch (err) {
        this.log(`notifier: ${settings.cadence} digest for ${tenant} failed: ${(err as Error).message}`);
      }
    }
    return queued;
  }

  async close(): Promise<void> {
    await this.crmNames.close();
    await this.lock.release();
    this.mailer?.close();
  }
}

export interface RunningNotifier {
  notifier: Notifier;
  /** Wakes the worker now (the sync calls it after committing new ledger events). */
  kick(): void;
  stop(): Promise<void>;
}

export function startNotifier(options: NotifierOptions): RunningNotifier {
  const notifier = new Notifier(options);
  const log = options.log ?? (() => {});
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const run = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    if (timer) clearTimeout(timer);
    running = notifier
      .pass()
      .then(() => undefined, (err: unknown) => log(`notifier: ${(err as Error).message}`))
      .finally(() => {
        running = null;
        if (stopped) return;
        if (again) {
          again = false;
          run();
        } else {
          timer = setTimeout(run, options.pollMs ?? 5_000);
        }
      });
  };
  // Every minute: digests whose time has come (in each tenant's zone; see latestDuePeriod).
  const digests = cron.schedule('* * * * *', () => {
    void notifier.queueDueDigests().then((n) => n && run(), (err: unknown) => log(`notifier: digests: ${(err as Error).message}`));
  });
  run();
  return {
    notifier,
    kick: run,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await digests.stop();
      await running;
      await notifier.close();
    },
  };
}
