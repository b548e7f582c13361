import type { Command } from 'commander';
import type { RowDataPacket } from 'mysql2/promise';
import { schemaVersion } from '../db/migrations.js';
import { backfill } from '../sync/backfill.js';
import { Syncer } from '../sync/cycle.js';
import { syncLock } from '../sync/service.js';
import { readState } from '../sync/state.js';
import { withApp, type App } from './context.js';

/**
 * Work that writes the ledger from CDR: only while no other instance (e.g. `smc serve`) syncs,
 * with a Syncer whose writes the lock fences.
 */
function withSyncLock(cmd: Command, work: (app: App, syncer: Syncer) => Promise<void>): Promise<void> {
  return withApp(cmd, async (app) => {
    const lock = syncLock(app.ledgerPool, app.config);
    if ((await lock.acquire()) === 'busy') throw new Error('another instance is syncing (it holds the sync lock): stop `smc serve` first, or let it do the work');
    try {
      await work(app, new Syncer(app.pools, app.config, undefined, lock));
    } finally {
      await lock.release();
    }
  });
}

export function register(program: Command): void {
  program
    .command('sync')
    .description('read new CDR rows, classify settled calls and update the list')
    .option('--once', 'one cycle, then exit')
    .action((_opts: { once?: boolean }, cmd: Command) =>
      withSyncLock(cmd, async (_app, syncer) => {
        const report = await syncer.cycle();
        process.stdout.write(
          `read ${report.rowsRead} rows since ${report.windowStart}; classified ${report.classified} calls; ${report.pending} waiting to settle; ${report.events.length} list changes${report.badRows ? `; skipped ${report.badRows} bad rows` : ''}\n`,
        );
      }),
    );

  program
    .command('backfill')
    .description('classify history (resumable; progress on stderr)')
    .requiredOption('--since <date>', 'start date, YYYY-MM-DD or YYYY-MM-DD HH:MM:SS')
    .option('--until <date>', 'end (default: the live sync window start)')
    .action((opts: { since: string; until?: string }, cmd: Command) =>
      withSyncLock(cmd, async (app, syncer) => {
        const done = await backfill(app.pools, app.config, { since: opts.since, until: opts.until, syncer, progress: (line) => process.stderr.write(line + '\n') });
        process.stdout.write(`backfill done: ${done.rows} rows, ${done.calls} calls classified\n`);
      }),
    );

  program
    .command('status')
    .description('cursor, lag, counts, skipped bad rows')
    .option('--json', 'JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withApp(cmd, async (app) => {
        const [[counts]] = (await app.ledgerPool.query<RowDataPacket[]>(
          `SELECT (SELECT COUNT(*) FROM smart_missed_calls_calls WHERE pbx = @smc_pbx) AS calls,
                  (SELECT COUNT(*) FROM smart_missed_calls WHERE pbx = @smc_pbx AND status = 'open') AS open_entries,
                  (SELECT COUNT(*) FROM smart_missed_calls WHERE pbx = @smc_pbx) AS entries,
                  (SELECT COUNT(*) FROM smart_missed_calls_outbox WHERE pbx = @smc_pbx AND status = 'pending') AS outbox_pending,
                  (SELECT COUNT(*) FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND status IN ('pending', 'sending')) AS deliveries_pending,
                  (SELECT COUNT(*) FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND status = 'dead') AS deliveries_dead,
                  (SELECT COUNT(*) FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND status IN ('pending', 'sending') AND last_error IS NOT NULL) AS deliveries_failing,
                  (SELECT last_error FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND last_error IS NOT NULL AND status <> 'sent' ORDER BY id DESC LIMIT 1) AS last_delivery_error,
                  NOW() AS now`,
        )) as unknown as [[Record<string, unknown>]];
        const status = {
          schemaVersion: await schemaVersion(app.ledgerPool),
          cursor: await readState(app.ledgerPool, 'cdr_cursor'),
          lastCycle: await readState(app.ledgerPool, 'last_cycle'),
          now: counts.now,
          lagSeconds: null as number | null,
          calls: Number(counts.calls),
          entries: Number(counts.entries),
          openEntries: Number(counts.open_entries),
          outboxPending: Number(counts.outbox_pending),
          deliveriesPending: Number(counts.deliveries_pending),
          deliveriesFailing: Number(counts.deliveries_failing),
          deliveriesDead: Number(counts.deliveries_dead),
          lastDeliveryError: (counts.last_delivery_error as string | null) ?? null,
          badRows: JSON.parse((await readState(app.ledgerPool, 'bad_rows_window')) ?? '[]') as { reason: string; count: number }[],
          badRowsBackfill: JSON.parse((await readState(app.ledgerPool, 'bad_rows_backfill')) ?? '[]') as { reason: string; count: number }[],
        };
        if (status.lastCycle) status.lagSeconds = (Date.parse(String(counts.now).replace(' ', 'T') + 'Z') - Date.parse(status.lastCycle.replace(' ', 'T') + 'Z')) / 1000;
        if (opts.json) {
          process.stdout.write(JSON.stringify(status) + '\n');
          return;
        }
        const bad = [...status.badRows, ...status.badRowsBackfill];
        process.stdout.write(
          [
            `schema version   ${status.schemaVersion}`,
            `cdr cursor       ${status.cursor ?? 'not started'}`,
            `last sync cycle  ${status.lastCycle ?? 'never'}${status.lagSeconds !== null ? ` (${status.lagSeconds} s ago)` : ''}`,
            `calls classified ${status.calls}`,
            `entries          ${status.entries} (${status.openEntries} open)`,
            `notifications    ${status.outboxPending} events to fan out; ${status.deliveriesPending} mails/webhooks/CRM tasks pending (${status.deliveriesFailing} retrying), ${status.deliveriesDead} given up${status.lastDeliveryError ? ` — last error: ${status.lastDeliveryError}` : ''}${status.deliveriesFailing || status.deliveriesDead ? ' (smc deliveries --failures)' : ''}`,
            `skipped bad rows ${bad.reduce((n, b) => n + b.count, 0)}${bad.length ? ' — ' + bad.map((b) => `${b.count} ${b.reason}`).join(', ') : ''}`,
          ].join('\n') + '\n',
        );
      });
    });
}
