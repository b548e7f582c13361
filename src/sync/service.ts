import { EventEmitter } from 'node:events';
import type { Pool } from 'mysql2/promise';
import cron from 'node-cron';
import type { Config } from '../config/schema.js';
import { knownTenants, loadSettings } from '../config/settings-store.js';
import { expireEntries } from '../ledger/actions.js';
import type { LedgerEvent } from '../ledger/entries.js';
import { Syncer, type TenantOf } from './cycle.js';
import { HistoryRunner, type HistoryJob } from './history.js';
import type { SingleInstanceLock } from '../db/named-lock.js';
import { instanceLock, LeaseLostError } from '../db/lease.js';
import { poolsOf, type DbPools } from '../db/ledger-pool.js';
import { CALL_END_GRACE_MS } from './settle.js';

export interface SyncServiceEvents {
  /** List changes, right after they were committed (the page's live updates listen here). */
  changes: [LedgerEvent[]];
  /** The database could not be reached / is back. */
  health: [{ ok: boolean; error?: string }];
  /** A history job moved on (at most twice a second), started or finished. */
  history: [HistoryJob];
}

/** The lock that makes one instance the syncer of this PBX. */
export function syncLock(pool: Pool, config: Config): SingleInstanceLock {
  return instanceLock(pool, config, 'sync');
}

/**
 * The sync loop of `smc serve`: every interval, if this instance holds the sync lock, one
 * cycle. A failing cycle (database down) is logged, reported as unhealthy and retried at
 * the next tick; the cursor makes the next good cycle catch up. What is left of the
 * interval goes to history (install's and the settings page's "classify history since"),
 * chunk by chunk: a live cycle waits for one chunk at most, never for the history.
 *
 * A call the PBX says is over (callOver, from AMI; CEL's call ends, found by a cycle) wakes
 * the loop CALL_END_GRACE_MS later instead of at the next interval, and stops the history
 * after its current chunk; wake-ups that come together share one cycle, a wake-up during a
 * cycle gets one more right after it, and the interval keeps running beside them, so a lost
 * event costs the settle time, never the call.
 */
export class SyncService extends EventEmitter<SyncServiceEvents> {
  readonly syncer: Syncer;
  readonly history: HistoryRunner;
  private readonly lock: SingleInstanceLock;
  private timer: NodeJS.Timeout | null = null;
  /** When the timer fires, on performance.now(); a wake-up only ever brings it forward. */
  private dueAt = Infinity;
  private started = false;
  /** The cycle under way, and whether something asked for another while it ran. */
  private current: Promise<void> | null = null;
  private again = false;
  private lockState: 'acquired' | 'busy' | null = null;
  private retention: cron.ScheduledTask | null = null;
  private historyError = '';
  healthy = true;
  lastError = '';

  /** Our tables. */
  private readonly pool: Pool;

  constructor(
    pools: Pool | DbPools,
    private readonly config: Config,
    tenantOf?: TenantOf,
    private readonly log: (line: string) => void = () => {},
    lock: SingleInstanceLock = syncLock(poolsOf(pools).ledger, config),
  ) {
    super();
    const pool = (this.pool = poolsOf(pools).ledger);
    this.lock = lock;
    this.syncer = new Syncer(pools, config, tenantOf, lock);
    this.history = new HistoryRunner(pools, config, this.syncer, () => knownTenants(pool), (job) => this.emit('history', job), log);
  }

  start(): void {
    this.started = true;
    this.wakeIn(0);
    this.retention = cron.schedule('17 * * * *', () => void this.expire());
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.retention?.stop();
    await this.current;
    await this.history.drop();
    await this.lock.release();
  }

  /** The PBX says this call is over: it is classified right after its grace. */
  callOver(linkedid: string): void {
    // A standing-by instance does not sync; its marks would only pile up.
    if (this.lockState !== 'acquired') return;
    this.syncer.callsOver([linkedid]);
    this.wakeIn(CALL_END_GRACE_MS);
  }

  private wakeIn(ms: number): void {
    if (!this.started) return;
    const due = performance.now() + ms;
    if (this.timer && due >= this.dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = due;
    this.timer = setTimeout(() => void this.timerTick(), ms);
  }

  private async timerTick(): Promise<void> {
    this.timer = null;
    this.dueAt = Infinity;
    const interval = this.config.sync.intervalSeconds * 1000;
    const nextAt = performance.now() + interval;
    await this.tick(Date.now() + interval);
    const endDue = this.syncer.nextCallEndDue();
    const untilNext = Math.max(0, nextAt - performance.now());
    const untilEnd = endDue === null ? untilNext : Math.max(0, endDue - performance.now());
    this.wakeIn(this.again ? 0 : Math.min(untilNext, untilEnd));
  }

  /** A wake-up is waiting: the history gives way after its current chunk. */
  private wakeUpDue(): boolean {
    return this.again || (this.timer !== null && performance.now() >= this.dueAt);
  }

  get isSyncing(): boolean {
    return this.lock.held;
  }

  /**
   * One live cycle now, then history chunks until `historyUntil` (ms since the epoch); during
   * a cycle, the promise of that one (and another follows it).
   */
  tick(historyUntil = 0): Promise<void> {
    if (this.current) {
      this.again = true;
      return this.current;
    }
    this.again = false;
    this.current = this.cycle(historyUntil).finally(() => {
      this.current = null;
    });
    return this.current;
  }

  private async cycle(historyUntil: number): Promise<void> {
    try {
      const lock = await this.lock.acquire();
      // Said once per change, so an operator running two instances sees which one works.
      if (lock !== this.lockState && lock !== 'kept') {
        this.log(lock === 'acquired' ? 'took the sync lock: this instance syncs' : 'another instance holds the sync lock: standing by');
      }
      this.lockState = lock === 'kept' ? 'acquired' : lock;
      if (lock === 'busy') {
        await this.history.drop();
        return;
      }
      // Only the running service (start()) asks for an install's history, not a single cycle on its own.
      if (this.started) await this.history.checkInstall();
      const report = await this.syncer.cycle();
      if (report.events.length) this.emit('changes', report.events);
      this.setHealth(true);
      await this.runHistory(historyUntil);
    } catch (err) {
      if (err instanceof LeaseLostError) {
        // Another instance took over while this one was paused or cut off: it syncs now.
        this.log(`${err.message}: standing by`);
        this.lockState = 'busy';
        await this.history.drop().catch(() => {});
        return;
      }
      this.setHealth(false, (err as Error).message);
    }
  }

  private async runHistory(until: number): Promise<void> {
    try {
      // A stop or a wake-up gets its turn after the current chunk.
      await this.history.run(until, () => this.started && !this.wakeUpDue());
      this.historyError = '';
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.historyError) this.log(`history paused: ${message}; it goes on from where it stopped`);
      this.historyError = message;
      // The failed chunk is read again from the saved resume point.
      await this.history.drop().catch(() => {});
    }
  }

  /** Retention: per tenant, entries open longer than retention_days after their last attempt expire. */
  async expire(): Promise<number> {
    if (!this.lock.held) return 0;
    let total = 0;
    try {
      for (const tenant of await knownTenants(this.pool)) {
        const settings = await loadSettings(this.pool, tenant);
        if (settings.retentionDays !== null) total += await expireEntries(this.pool, this.syncer.auditKey, tenant, settings.retentionDays);
      }
    } catch (err) {
      this.log(`retention failed: ${(err as Error).message}`);
    }
    return total;
  }

  private setHealth(ok: boolean, error = ''): void {
    if (ok !== this.healthy) {
      this.log(ok ? 'database reachable again; catching up' : `sync failed: ${error}`);
      this.emit('health', { ok, error });
    }
    this.healthy = ok;
    this.lastError = error;
  }
}
