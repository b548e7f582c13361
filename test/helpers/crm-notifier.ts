import assert from 'node:assert/strict';
import type { RowDataPacket } from 'mysql2/promise';
import { after, afterEach, before } from 'node:test';
import type { Config, CrmSettings } from '../../src/config/schema.js';
import { saveSettings } from '../../src/config/settings-store.js';
import { recentDeliveries } from '../../src/notify/deliveries.js';
import { Notifier, type NotifierOptions } from '../../src/notify/worker.js';
import { freshDatabases, type FreshDatabases } from '../harness/db.js';
import { callVerdict, record } from './ledger-calls.js';

/**
 * What every test file that drives the real notifier against a CRM stand-in sets up: fresh
 * databases, the stand-ins stopped after the file, the notifiers closed after each test (a
 * failed test must not leave one holding the notify lock for the next), and drain().
 * Call crmTestBed() at the top of the file: it registers the hooks.
 */
export interface CrmTestBed {
  /** Set once the file's `before` ran. */
  readonly db: FreshDatabases;
  /** Every line the notifiers logged, for the tests that look for secrets in it. */
  readonly logged: string[];
  config(): Config;
  /** A notifier with quick CRM retries (10–50 ms, three attempts), closed after the test. */
  notifier(extra?: Partial<NotifierOptions>): Notifier;
  /** Passes (each followed by the background name lookups it asked for) until every delivery of the tenant is sent or dead. */
  drain(n: Notifier, tenant: string, budgetMs?: number): Promise<void>;
  /** Starts a stand-in and stops it after the file. */
  standIn<T extends StandIn>(s: T): Promise<T>;
}

interface StandIn {
  start(): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * @param withConfig what the file adds to the test databases' config; the stand-ins listen on
 *   loopback, which config.yaml must allow, so that is always allowed.
 */
export function crmTestBed(databaseName: string, withConfig: (base: Config) => Config = (c) => c): CrmTestBed {
  let db: FreshDatabases | undefined;
  const standIns: StandIn[] = [];
  const open = new Set<Notifier>();
  const logged: string[] = [];

  before(async () => {
    db = await freshDatabases(databaseName);
  });
  afterEach(async () => {
    for (const n of open) await n.close();
    open.clear();
  });
  after(async () => {
    for (const s of standIns) await s.stop();
    await db?.cleanup();
  });

  const bed: CrmTestBed = {
    get db() {
      assert.ok(db, 'the databases are made in the before hook');
      return db;
    },
    logged,
    config: () => withConfig({ ...bed.db.config, notify: { allowPrivateNetworks: ['127.0.0.1/32'] } }),
    notifier(extra = {}) {
      const n = new Notifier({
        pool: bed.db.pool, config: bed.config(), mailer: null, log: (line) => logged.push(line),
        crmRetry: { baseMs: 10, maxMs: 50, maxAttempts: 3 }, crmSettleMs: 2_000, ...extra,
      });
      open.add(n);
      return n;
    },
    async drain(n, tenant, budgetMs = 30_000) {
      const until = Date.now() + budgetMs;
      while (Date.now() < until) {
        await n.pass();
        await n.crmNames.idle();
        const { recent } = await recentDeliveries(bed.db.pool, tenant, 200);
        if (recent.every((d) => d.status !== 'pending' && d.status !== 'sending')) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.fail(`deliveries of ${tenant} still pending`);
    },
    async standIn(s) {
      await s.start();
      standIns.push(s);
      return s;
    },
  };
  return bed;
}

/** The tenant's settings as the CRM tests give them: Romanian numbers, Bucharest time, no digests, and this CRM. */
export async function connectCrm(pool: FreshDatabases['pool'], tenant: string, crm: CrmSettings, more: Record<string, unknown> = {}): Promise<void> {
  await saveSettings(pool, tenant, { cadence: 'off', defaultCountry: 'RO', timezone: 'Europe/Bucharest', ...more, crm }, 'test');
}

/** The tenant's `forgotten` and `crm_forgotten` journal rows, oldest first. */
export async function forgetJournal(pool: FreshDatabases['pool'], tenant: string): Promise<{ event: string; note: string }[]> {
  const [rows] = await pool.query<RowDataPacket[]>("SELECT event, note FROM smart_missed_calls_audit WHERE tenant = ? AND event IN ('forgotten', 'crm_forgotten') ORDER BY id", [tenant]);
  return rows.map((r) => ({ event: String(r.event), note: String(r.note) }));
}

/**
 * The calls every CRM's forget test starts from: `unknown` (not in the CRM) missed on two of
 * our numbers, so two entries and two tasks share the one contact the option creates for them,
 * and `known` (already in the CRM) missed once.
 */
export async function recordForgetCalls(pool: FreshDatabases['pool'], tenant: string, unknown: string, known: string): Promise<void> {
  await record(pool, tenant, [
    callVerdict('missed', { caller: unknown, did: '0215550100', at: '2025-05-07 10:00:00', name: 'Maria Ionescu' }),
    callVerdict('missed', { caller: unknown, did: '0215550200', at: '2025-05-07 10:05:00', name: 'Maria Ionescu' }),
    callVerdict('missed', { caller: known, at: '2025-05-07 10:10:00' }),
  ]);
}
