import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CADENCES } from '../config/schema.js';
import { loadSettings } from '../config/settings-store.js';
import { importContacts, parseContactsCsv } from '../notify/contacts.js';
import { recentDeliveries } from '../notify/deliveries.js';
import { queueDigest } from '../notify/digest.js';
import { DIGEST_CADENCES, latestDuePeriod, type DigestCadence } from '../notify/digest-period.js';
import { Notifier } from '../notify/worker.js';
import { withApp } from './context.js';

export function register(program: Command): void {
  program
    .command('digest')
    .description('digest mails')
    .command('send')
    .description('send a tenant\'s digest for the latest completed period now')
    .requiredOption('--tenant <tenant>', 'tenant')
    .option('--cadence <cadence>', DIGEST_CADENCES.join(', '), 'daily')
    .action(async (opts: { tenant: string; cadence: string }, cmd: Command) => {
      if (!(DIGEST_CADENCES as string[]).includes(opts.cadence)) {
        throw new Error(`--cadence: '${opts.cadence}' must be one of ${CADENCES.filter((c) => c !== 'off' && c !== 'realtime').join(', ')}`);
      }
      await withApp(cmd, async ({ ledgerPool: pool, config }) => {
        const settings = await loadSettings(pool, opts.tenant);
        const notifier = new Notifier({ pool, config, log: (line) => process.stderr.write(`${line}\n`) });
        try {
          const period = latestDuePeriod(opts.cadence as DigestCadence, settings.timezone, new Date());
          const queued = await queueDigest(pool, notifier.renderer, config, opts.tenant, settings, period, true);
          if (!(await notifier.pass())) {
            process.stdout.write(`${opts.cadence} digest queued; the running smc serve delivers it within seconds\n`);
            return;
          }
          const { recent } = await recentDeliveries(pool, opts.tenant, 200);
          const sent = recent.find((d) => d.id === queued?.id);
          if (sent?.status !== 'sent') throw new Error(`digest not sent (${sent?.status ?? 'missing'}): ${sent?.lastError ?? ''}`);
          process.stdout.write(`${opts.cadence} digest for ${period.start} – ${period.end} sent to ${settings.recipients.join(', ')}\n`);
        } finally {
          await notifier.close();
        }
      });
    });

  program
    .command('contacts')
    .description('caller names')
    .command('import <file>')
    .description('import caller names from a CSV file: number,name (header optional)')
    .option('--tenant <tenant>', 'tenant', 'default')
    .action(async (file: string, opts: { tenant: string }, cmd: Command) => {
      await withApp(cmd, async ({ ledgerPool: pool }) => {
        const parsed = parseContactsCsv(readFileSync(file, 'utf8'), await loadSettings(pool, opts.tenant));
        for (const bad of parsed.bad) process.stderr.write(`${file}:${bad.line}: ${bad.problem}\n`);
        const n = await importContacts(pool, opts.tenant, parsed.contacts);
        process.stdout.write(`imported ${n} contacts into ${opts.tenant}${parsed.bad.length ? `; ${parsed.bad.length} lines skipped` : ''}\n`);
        if (parsed.bad.length) process.exitCode = 2;
      });
    });

  program
    .command('deliveries')
    .description('the latest notification deliveries and failures')
    .option('--tenant <tenant>', 'tenant', 'default')
    .option('--failures', 'only failed or retrying deliveries')
    .option('--json', 'JSON')
    .action(async (opts: { tenant: string; failures?: boolean; json?: boolean }, cmd: Command) => {
      await withApp(cmd, async ({ ledgerPool: pool }) => {
        const { recent, failures } = await recentDeliveries(pool, opts.tenant);
        const rows = opts.failures ? failures : recent;
        if (opts.json) {
          process.stdout.write(JSON.stringify(rows) + '\n');
          return;
        }
        for (const d of rows) {
          process.stdout.write(
            `#${d.id}  ${d.createdAt}  ${d.channel}  ${d.event}  ${d.status}  tries ${d.attempts}${d.responseCode ? `  ${d.responseCode}` : ''}  ${d.target}${d.lastError ? `  ${d.lastError}` : ''}\n`,
          );
        }
      });
    });
}
