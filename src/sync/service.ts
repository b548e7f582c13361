import { EventEmitter } from 'node:events';
import type { Pool } from 'mysql2/promise';
import cron from 'node-cron';
import type { Config } from '../config/schema.js';
import { knownTenants, loadSettings } from '../config/settings-store.js';
import { expireEntries } from '../ledger/actions.js';
import type { LedgerEvent } from '../ledger/entries.js';
import { Syncer, type TenantOf } from './cycle.js';
import { HistoryRunner, type HistoryJob } from './history.js';
import { NamedLock } from '../db/named-lock.js';

export interface SyncServiceEvents {
  /** List changes, right after they were committed (the page's live updates listen here). */
  changes: [LedgerEvent[]];
  /** The database could not be reached / is back. */
  health: [{ ok: boolean; error?: string }];
  /** A history job moved on (at most twice a second), started or finished. */
  history: [HistoryJob];
}

/**
 * The sync loop of `smc serve`: every interval, if this instance holds the sync lock, one
 * cycle. A failing cycle (database down) is logged, reported as unhealthy and retried at
 * the next tick; the cursor makes the next good cycle catch up. What is left of the
 * interval goes to history (install's and the settings page's "classify history since"),
 * chunk by chunk: a live cycle waits for one chunk at most, never for the history.
 */
export class SyncService extends EventEmitter<SyncServiceEvents> {
  readonly syncer: Syncer;
  readonly history: HistoryRunner;
  private lock: NamedLock;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private lockState: 'acquired' | 'busy' | null = null;
  private retention: cron.ScheduledTask | null = null;
  healthy = true;
  lastError = '';

  constructor(private readonly pool: Pool, private readonly config: Config, tenantOf?: TenantOf, private readonly log: (line: string) => void = () => {}) {
    super();
    this.syncer = new Syncer(pool, config, tenantOf);
    this.lock = new NamedLock(pool, 'sync', config.db.database);
    this.history = new HistoryRunner(pool, config, this.syncer, () => knownTenants(pool), (job) => this.emit('history', job), log);
  }

  start(): void {
    const tick = () => {
      const due = Date.now() + this.config.sync.intervalSeconds * 1000;
      void this.tick(due).finally(() => {
        if (this.timer) this.timer = setTimeout(tick, Math.max(0, due - Date.now()));
      });
    };
    this.timer = setTimeout(tick, 0);
    this.retention = cron.schedule('17 * * * *', () => void this.expire());
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.retention?.stop();
    while (this.running) await new Promise((r) => setTimeout(r, 20));
    await this.history.drop();
    await this.lock.release();
  }

  get isSyncing(): boolean {
    return this.lock.held;
  }

  /** One live cycle; then, until `historyUntil` (ms), history chunks. */
  async tick(historyUntil = 0): Promise<void> {
    if (this.running) return;
    this.running = true;
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
      if (this.timer) await this.history.checkInstall();
      const report = await this.syncer.cycle();
      if (report.events.length) this.emit('changes', report.events);
      this.setHealth(true);
      await this.runHistory(historyUntil);
    } catch (err) {
      this.setHealth(false, (err as Error).message);
    } finally {
      this.running = false;
    }
  }

  private historyError = '';

  private async runHistory(until: number): Promise<void> {
    try {
      // stop() clears the timer: history then gives the stop its turn after the current chunk.
      await this.history.run(until, () => this.timer !== null);
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
