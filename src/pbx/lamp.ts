import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config, LampScope, TenantSettings } from '../config/schema.js';
import { settingsFromStored } from '../config/schema.js';
import { claimRowOf } from '../ledger/claims.js';
import { JournalWatch } from '../ledger/journal-watch.js';
import { AmiError, AmiSession, amiConfigured } from './ami.js';
import { desiredLamps, lampChanges, lampDevice, type LampEntry, type LampState } from './lamp-state.js';
import { naiveMs } from '../ledger/callback-target.js';

export interface LampOptions {
  /** The ledger's pool (our tables). */
  pool: Pool;
  config: Pick<Config, 'pbx' | 'ami'>;
  /** Only the instance that holds the sync lock sets lamps, so two services never fight over one. */
  holdsLock: () => boolean;
  log: (line: string) => void;
  /** How often the journal is looked at (a claim made on a page is seen within this). */
  checkMs?: number;
  /** However quiet the journal, the lamps are worked out again this often (a `smc forget`, a row no journal line names). */
  fullCheckMs?: number;
  /** First wait before a new AMI session after a failure; it doubles up to maxRetryMs. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** How long one AMI answer may take. */
  timeoutMs?: number;
}

/**
 * Keeps the lamps on the phones (lamp-state.ts says which) in step with the list, over
 * one AMI session: `Setvar` of `DEVICE_STATE(Custom:SMC…)` to INUSE / NOT_INUSE
 * (func_devstate.c: it stores the state in astdb, family CustomDevstate, and tells
 * every hint that watches the device).
 *
 * - It runs on its own timer, never inside a sync cycle: a slow or absent PBX delays
 *   lamps, never the list.
 * - It looks at the journal every checkMs (every change of the list is a journal row:
 *   a new miss, a claim made on any page or instance, a release, a clear) and works the
 *   lamps out again only then, when a claim lapses (the soonest lapse is known), when a
 *   tenant's lamp settings change, and every fullCheckMs; the last state it set
 *   successfully is remembered, so a look with no change sends nothing.
 * - Each new AMI session (start, a dropped connection, a PBX restart, taking the sync lock
 *   over) sets every lamp once, and turns off the lamps of routes with no open entry.
 *   A failure closes the session; the next is tried after a wait that doubles up to
 *   maxRetryMs.
 * - No tenant with the lamp on and no lamp lit: no AMI session at all.
 */
export class LampKeeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private session: AmiSession | null = null;
  /** What the PBX was last told, per device, successfully. */
  private readonly lastSet = new Map<string, LampState>();
  /** A new session must set every lamp once before anything is taken as known. */
  private mustReassert = true;
  private journal: JournalWatch;
  /** The tenants' lamp settings at the last successful look, as text. */
  private scopesSeen = '';
  /** When the lamps are worked out again even with a quiet journal (Date.now() ms). */
  private dueAt = 0;
  private retryAt = 0;
  private delayMs: number;
  private readonly stored = new Map<string, { raw: string; settings: TenantSettings }>();
  private lastLine = '';

  constructor(private readonly options: LampOptions) {
    this.delayMs = options.minRetryMs ?? 1000;
    this.journal = new JournalWatch(options.pool);
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    this.closeSession();
  }

  /** One look now (the timer's, or a test's); during a look, that look. */
  check(): Promise<void> {
    this.running ??= this.look()
      .catch((err: unknown) => {
        // The database failed after the journal was read: the changes it told of are worked out at the next look.
        this.dueAt = 0;
        this.say(`lamp: ${(err as Error).message}; trying again`);
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.check().finally(() => this.schedule(this.options.checkMs ?? 2000));
    }, ms);
  }

  private async look(): Promise<void> {
    if (!this.options.holdsLock()) {
      // Standing by: the instance that syncs keeps the lamps; taking over later re-sets them all.
      this.closeSession();
      this.lastSet.clear();
      return;
    }
    const scopes = await this.lampScopes();
    const lit = [...this.lastSet.values()].includes('INUSE');
    if (scopes.size === 0 && !lit) {
      this.closeSession();
      this.lastSet.clear();
      this.scopesSeen = '';
      return;
    }
    const { ami } = this.options.config;
    if (!amiConfigured(ami)) {
      this.say('lamp: on for a tenant, but AMI is not configured (ami.host, ami.user, ami.secret): no lamp is set');
      return;
    }
    const changes = await this.journal.changes();
    const now = Date.now();
    if (this.session === null || this.session.closed) {
      this.closeSession();
      if (now < this.retryAt) return;
      await this.openSession();
      if (this.session === null) return;
    }
    const scopesNow = JSON.stringify([...scopes].sort());
    if (!this.mustReassert && changes.length === 0 && scopesNow === this.scopesSeen && now < this.dueAt) return;

    const { entries, dbNow } = await this.openEntries([...scopes.keys()]);
    const desired = desiredLamps(entries, scopes, this.options.config.pbx, dbNow);
    const reassert = this.mustReassert;
    const known = reassert ? await this.routeLamps(scopes) : [];
    for (const [device, state] of lampChanges(desired.states, this.lastSet, reassert, known)) {
      if (!(await this.setLamp(device, state))) return;
    }
    this.delayMs = this.options.minRetryMs ?? 1000;
    if (reassert) this.say(`lamp: ${this.lastSet.size} lamp(s) set over AMI at ${ami.host}:${ami.port}; ${[...this.lastSet.values()].filter((s) => s === 'INUSE').length} lit`);
    this.mustReassert = false;
    this.scopesSeen = scopesNow;
    const full = this.options.fullCheckMs ?? 60_000;
    const lapse = desired.nextChangeAt === null ? Infinity : naiveMs(desired.nextChangeAt) - naiveMs(dbNow);
    // NOW() is whole seconds: a look up to a second early finds the claim still held and looks again.
    this.dueAt = now + Math.min(full, Math.max(0, lapse - 1000));
  }

  /** Sets one lamp; false (the session closed, to be opened again after a wait) when the PBX did not take it. */
  private async setLamp(device: string, state: LampState): Promise<boolean> {
    const session = this.session!;
    try {
      await setDeviceState(session, device, state);
    } catch (err) {
      this.failed(err as Error);
      return false;
    }
    this.lastSet.set(device, state);
    return true;
  }

  private async openSession(): Promise<void> {
    const { ami } = this.options.config;
    let session: AmiSession | null = null;
    try {
      session = await AmiSession.open(ami, this.options.timeoutMs ?? 5000);
      await session.login();
    } catch (err) {
      session?.close();
      this.failed(err as Error);
      return;
    }
    this.session = session;
    this.mustReassert = true;
  }

  private failed(err: Error): void {
    this.closeSession();
    this.say(`lamp: ${err.message}; trying again in ${+(this.delayMs / 1000).toFixed(1)} s`);
    this.retryAt = Date.now() + this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.options.maxRetryMs ?? 30_000);
  }

  private closeSession(): void {
    if (this.session === null) return;
    this.session.close();
    this.session = null;
    this.mustReassert = true;
  }

  /** The tenants with the lamp on and their scope; a tenant's stored settings are parsed again only when they changed. */
  private async lampScopes(): Promise<Map<string, LampScope>> {
    const [rows] = await this.options.pool.query<RowDataPacket[]>('SELECT tenant, settings FROM smart_missed_calls_settings WHERE pbx = @smc_pbx');
    const scopes = new Map<string, LampScope>();
    for (const row of rows) {
      const tenant = String(row.tenant);
      const raw = String(row.settings ?? '');
      let known = this.stored.get(tenant);
      if (known?.raw !== raw) this.stored.set(tenant, (known = { raw, settings: settingsFromStored(raw) }));
      if (known.settings.lampEnabled) scopes.set(tenant, known.settings.lampScope);
    }
    return scopes;
  }

  private async openEntries(tenants: string[]): Promise<{ entries: LampEntry[]; dbNow: string }> {
    const [[{ now }]] = (await this.options.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
    const dbNow = String(now).slice(0, 19);
    if (tenants.length === 0) return { entries: [], dbNow };
    const [rows] = await this.options.pool.query<RowDataPacket[]>(
      `SELECT e.tenant, e.route_kind, e.route_id, e.first_attempt, c.user, c.ext, c.episode, c.claimed_at, c.expires_at
         FROM smart_missed_calls e
         LEFT JOIN smart_missed_calls_claims c ON c.tenant = e.tenant AND c.pbx = e.pbx AND c.entry_id = e.id
        WHERE e.pbx = @smc_pbx AND e.status = 'open' AND e.tenant IN (?)`,
      [tenants],
    );
    const entries = rows.map((r): LampEntry => ({
      tenant: String(r.tenant), routeKind: String(r.route_kind), routeId: String(r.route_id), firstAttempt: String(r.first_attempt).slice(0, 19),
      claim: r.episode === null ? null : claimRowOf(r),
    }));
    return { entries, dbNow };
  }

  /** Every route lamp the tenants' scopes name, lit or not: a route that ever had an entry may have a lamp lit by an earlier run. */
  private async routeLamps(scopes: ReadonlyMap<string, LampScope>): Promise<string[]> {
    const tenants = [...scopes].filter(([, scope]) => scope !== 'tenant').map(([tenant]) => tenant);
    if (tenants.length === 0) return [];
    const [rows] = await this.options.pool.query<RowDataPacket[]>(
      'SELECT DISTINCT tenant, route_kind, route_id FROM smart_missed_calls WHERE pbx = @smc_pbx AND tenant IN (?)',
      [tenants],
    );
    return rows.map((r) => lampDevice(this.options.config.pbx, String(r.tenant), { kind: String(r.route_kind), id: String(r.route_id) }));
  }

  /** Each state is said once, not at every retry. */
  private say(line: string): void {
    if (line === this.lastLine) return;
    this.lastLine = line;
    this.options.log(line);
  }
}

/**
 * One lamp, one action: Setvar with no Channel writes the DEVICE_STATE function (manager.c
 * action_setvar; it needs the AMI user's `call` write class). Throws the PBX's refusal.
 */
export async function setDeviceState(session: AmiSession, device: string, state: LampState): Promise<void> {
  const answer = await session.action({ Action: 'Setvar', Variable: `DEVICE_STATE(${device})`, Value: state, ActionID: session.nextActionId() });
  // A user without the `call` write class gets "Permission denied"; the keeper then waits before trying again.
  if (answer.Response !== 'Success') throw new AmiError(`AMI refused to set ${device}: ${answer.Message ?? answer.Response ?? 'no reason given'}`);
}
