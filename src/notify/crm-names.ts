import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config, TenantSettings } from '../config/schema.js';
import type { Network } from '../config/networks.js';
import type { DbPools } from '../db/ledger-pool.js';
import { CrmAccess } from './crm/access.js';
import { CrmError } from './crm/connector.js';
import { connectorFor } from './crm/registry.js';
import { phoneVariants } from './crm/deliver.js';

/**
 * Names and owners from the tenant's CRM for the caller-name chain (src/notify/caller-names.ts).
 *
 * The chain never waits for a CRM: it reads the answer cached in smart_missed_calls_crm_names
 * and, when there is none or it is older than its TTL, asks CrmNameFill to fetch it in the
 * background. The first sight of a number may so show no CRM name; when the answer comes,
 * the caller's entries get the name (unless the contact manager or the CSV contacts name
 * them: those come first in the chain). A CRM that is down costs nothing but its own name:
 * the chain goes on to the HTTP lookup and CNAM, nothing is cached, and the tenant's CRM is
 * left alone for a while before it is asked again.
 */

/** A found name is kept a day, "not found" an hour: as the HTTP lookup's. */
export const CRM_FOUND_TTL_SECONDS = 86_400;
export const CRM_MISSING_TTL_SECONDS = 3_600;
/** After a failed lookup the tenant's CRM is not asked for names for this long. */
const PAUSE_AFTER_FAILURE_MS = 60_000;
/** Lookups waiting at most; more are dropped (the next sight of the number asks again). */
const QUEUE_MAX = 1_000;

export interface CrmName {
  /** '' when the CRM has no contact with this number, or one without a name. */
  name: string;
  ownerName: string;
  /** Within its TTL: no need to ask again. */
  fresh: boolean;
}

/** The cached answer of the tenant's CRM for this caller, fresh or not; null when never asked. */
export async function cachedCrmName(pool: Pool, tenant: string, crm: string, key: string): Promise<CrmName | null> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT name, owner_name, fetched_at >= NOW() - INTERVAL IF(name = '', ?, ?) SECOND AS fresh
       FROM smart_missed_calls_crm_names WHERE tenant = ? AND pbx = @smc_pbx AND caller_key = ? AND crm = ?`,
    [CRM_MISSING_TTL_SECONDS, CRM_FOUND_TTL_SECONDS, tenant, key, crm],
  );
  const r = rows[0];
  return r ? { name: String(r.name), ownerName: String(r.owner_name), fresh: Number(r.fresh) === 1 } : null;
}

interface Lookup {
  tenant: string;
  number: string;
  key: string;
  settings: TenantSettings;
}

export interface CrmNameFillOptions {
  pools: DbPools;
  config: Config;
  allowedNetworks: readonly Network[];
  /** Gives the caller's entries the CRM's name, unless a source before the CRM names them. */
  apply: (tenant: string, key: string, name: string, settings: TenantSettings) => Promise<void>;
  log?: (line: string) => void;
  pauseAfterFailureMs?: number;
  /** Shared with the notifier's task deliveries: turns and 429s per tenant CRM. */
  access?: CrmAccess;
}

/**
 * The background lookups of one process (the notifier's): one at a time, each number once
 * however often it is asked for while waiting, a tenant whose CRM failed paused, one whose
 * CRM said 429 left alone as long as it asked (the lookup is dropped: the caller's next
 * sight asks again).
 */
export class CrmNameFill {
  private readonly waiting = new Map<string, Lookup>();
  private readonly pausedUntil = new Map<string, number>();
  private readonly access: CrmAccess;
  private running: Promise<void> | null = null;
  private closed = false;
  private held = 0;

  constructor(private readonly options: CrmNameFillOptions) {
    this.access = options.access ?? new CrmAccess();
  }

  /**
   * Lookups asked for until release() wait: the notifier holds them during its pass, so its
   * task deliveries speak to each CRM first and the lookups follow.
   */
  hold(): void {
    this.held += 1;
  }

  release(): void {
    this.held = Math.max(0, this.held - 1);
    this.start();
  }

  /** Asks for this caller's name in the background; returns at once. */
  request(tenant: string, number: string, key: string, settings: TenantSettings): void {
    if (this.closed || settings.crm.kind === '' || (this.pausedUntil.get(tenant) ?? 0) > Date.now()) return;
    const id = `${tenant}\n${key}`;
    if (this.waiting.has(id) || this.waiting.size >= QUEUE_MAX) return;
    this.waiting.set(id, { tenant, number, key, settings });
    this.start();
  }

  private start(): void {
    if (this.held > 0 || this.closed || this.waiting.size === 0) return;
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  /** Resolves when no lookup is waiting or running (tests wait for the fill with it). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Takes no more lookups and waits a little for the one running; an answer that comes
   * later is dropped, not written (the pools may be closing).
   */
  async close(): Promise<void> {
    this.closed = true;
    this.waiting.clear();
    if (this.running) await Promise.race([this.running, new Promise((r) => setTimeout(r, 2_000).unref())]);
  }

  private async drain(): Promise<void> {
    for (const [id, lookup] of this.waiting) {
      this.waiting.delete(id);
      if (this.closed) return;
      try {
        await this.lookUp(lookup);
      } catch (err) {
        this.options.log?.(`notifier: caller name from the CRM of ${lookup.tenant} failed: ${(err as Error).message}`);
      }
    }
  }

  private async lookUp(l: Lookup): Promise<void> {
    if ((this.pausedUntil.get(l.tenant) ?? 0) > Date.now()) return;
    const connector = connectorFor(l.settings.crm, this.options.allowedNetworks);
    if (!connector) return;
    let contact;
    try {
      contact = await this.access.turn(l.tenant, async () => {
        if (this.access.quiet(l.tenant) || this.closed) return undefined;
        return connector.findContactByPhone(phoneVariants(l.number, l.settings));
      });
    } catch (err) {
      // Nothing is cached: the CRM said nothing about this number. The chain goes on without it.
      if (err instanceof CrmError && err.rateLimited) this.access.rateLimited(l.tenant, err.retryAfterMs ?? 0, err.message);
      this.pausedUntil.set(l.tenant, Date.now() + (this.options.pauseAfterFailureMs ?? PAUSE_AFTER_FAILURE_MS));
      this.options.log?.(`notifier: the CRM of ${l.tenant} gave no caller name (asked again in a while): ${(err as Error).message}`);
      return;
    }
    if (contact === undefined || this.closed) return;
    const name = (contact?.name ?? '').trim().slice(0, 160);
    const ownerName = (contact?.ownerName ?? '').trim().slice(0, 160);
    const pool = this.options.pools.ledger;
    // Only while we hold an entry of this caller: a lookup that was under way when the number
    // was forgotten must not bring its name back.
    await pool.query(
      `INSERT INTO smart_missed_calls_crm_names (tenant, pbx, caller_key, crm, name, owner_name, fetched_at)
       SELECT ?, @smc_pbx, ?, ?, ?, ?, NOW() FROM DUAL
        WHERE EXISTS (SELECT 1 FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND caller_key = ?)
       ON DUPLICATE KEY UPDATE name = VALUES(name), owner_name = VALUES(owner_name), fetched_at = VALUES(fetched_at)`,
      [l.tenant, l.key, connector.kind, name, ownerName, l.tenant, l.key],
    );
    if (name) await this.options.apply(l.tenant, l.key, name, l.settings);
  }
}

/** The caller's owner in the tenant's CRM as last cached (a stale one too), for the mails; '' when none. */
export async function crmOwnerOf(pool: Pool, tenant: string, crm: string, key: string): Promise<string> {
  if (crm === '') return '';
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT owner_name FROM smart_missed_calls_crm_names WHERE tenant = ? AND pbx = @smc_pbx AND caller_key = ? AND crm = ?',
    [tenant, key, crm],
  );
  return String(rows[0]?.owner_name ?? '');
}
