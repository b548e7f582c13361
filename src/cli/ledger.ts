import type { Command } from 'commander';
import type { RowDataPacket } from 'mysql2/promise';
import { formatChainPoint, verifyAudit } from '../ledger/audit.js';
import { parseChainPoint, readAuditKey } from '../ledger/audit-key.js';
import { forgetNumber, resolveEntry } from '../ledger/actions.js';
import { entryFromRow } from '../ledger/store.js';
import { decimal } from '../web/filters.js';
import { withApp } from './context.js';

/** An entry id as typed: decimal digits only (0x10 is not entry 16). */
function entryId(text: string): number {
  const id = decimal(text);
  if (id === null) throw new Error(`'${text}' is not an entry id (decimal digits only)`);
  return id;
}

export function register(program: Command): void {
  const entries = program.command('entries').description('the missed-call list');
  entries
    .command('list')
    .description('list entries')
    .option('--status <status>', 'open, cleared or all', 'open')
    .option('--tenant <tenant>', 'tenant', 'default')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'one JSON object per line')
    .action(async (opts: { status: string; tenant: string; limit: string; json?: boolean }, cmd: Command) => {
      if (!['open', 'cleared', 'all'].includes(opts.status)) throw new Error(`--status: '${opts.status}' must be open, cleared or all`);
      await withApp(cmd, async ({ ledgerPool: pool }) => {
        const [rows] = await pool.query<RowDataPacket[]>(
          `SELECT * FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx ${opts.status === 'all' ? '' : 'AND status = ?'}
            ORDER BY last_attempt DESC LIMIT ?`,
          opts.status === 'all' ? [opts.tenant, Number(opts.limit)] : [opts.tenant, opts.status, Number(opts.limit)],
        );
        for (const e of rows.map(entryFromRow)) {
          if (opts.json) process.stdout.write(JSON.stringify(e) + '\n');
          else {
            process.stdout.write(
              `#${e.id}  ${e.caller}${e.callerName ? ` (${e.callerName})` : ''} → ${e.did || '-'}  ${e.routeLabel}  missed ${e.missedCount}  last ${e.lastAttempt}  ${e.status}${e.clearedBy ? `:${e.clearedBy}` : ''}\n`,
            );
          }
        }
      });
    });
  entries
    .command('show <id>')
    .description('one entry with its calls and audit journal')
    .option('--tenant <tenant>', 'tenant', 'default')
    .option('--json', 'JSON')
    .action(async (id: string, opts: { tenant: string; json?: boolean }, cmd: Command) => {
      await withApp(cmd, async ({ ledgerPool: pool }) => {
        const [rows] = await pool.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND id = ?', [opts.tenant, entryId(id)]);
        if (!rows[0]) throw new Error(`entry ${id} not found in tenant ${opts.tenant}`);
        const entry = entryFromRow(rows[0]);
        const [calls] = await pool.query<RowDataPacket[]>(
          'SELECT linkedid, verdict, started_at, explanation FROM smart_missed_calls_calls WHERE tenant = ? AND pbx = @smc_pbx AND entry_id = ? ORDER BY started_at',
          [opts.tenant, entry.id],
        );
        const [audit] = await pool.query<RowDataPacket[]>(
          'SELECT id, event, reason, actor, ext, linkedid, note, created_at FROM smart_missed_calls_audit WHERE tenant = ? AND pbx = @smc_pbx AND entry_id = ? ORDER BY id',
          [opts.tenant, entry.id],
        );
        if (opts.json) {
          process.stdout.write(JSON.stringify({ entry, calls, audit }) + '\n');
          return;
        }
        process.stdout.write(`#${entry.id} ${entry.caller} → ${entry.did}  ${entry.status}${entry.clearedBy ? ` (${entry.clearedBy})` : ''}  missed ${entry.missedCount} (total ${entry.totalMissed})\n`);
        process.stdout.write('calls:\n');
        for (const c of calls) process.stdout.write(`  ${c.started_at}  ${c.linkedid}  ${c.verdict}  ${JSON.parse(c.explanation).join(' ')}\n`);
        process.stdout.write('journal:\n');
        for (const a of audit) {
          process.stdout.write(`  ${a.created_at}  ${a.event}${a.reason ? `(${a.reason})` : ''}  ${a.actor}${a.ext ? ` ext ${a.ext}` : ''}${a.note ? `  "${a.note}"` : ''}\n`);
        }
      });
    });
  entries
    .command('resolve <id>')
    .description('clear an entry by hand, with a note')
    .requiredOption('--user <user>', 'who resolves it')
    .requiredOption('--note <note>', 'why')
    .option('--tenant <tenant>', 'tenant', 'default')
    .action(async (id: string, opts: { user: string; note: string; tenant: string }, cmd: Command) => {
      await withApp(cmd, async ({ ledgerPool: pool, config }) => {
        const entry = await resolveEntry(pool, readAuditKey(config.auditKeyFile), opts.tenant, entryId(id), opts.user, opts.note);
        process.stdout.write(`entry ${entry.id} cleared (manual) by ${opts.user}\n`);
      });
    });

  program
    .command('forget <number>')
    .description('GDPR: remove every trace of a caller (entries, calls, lookups, the tasks and contacts we created in the CRM); the audit keeps only a keyed hash (HMAC) of the number')
    .option('--user <user>', 'who asks', 'cli')
    .action(async (number: string, opts: { user: string }, cmd: Command) => {
      await withApp(cmd, async ({ ledgerPool: pool, config }) => {
        const done = await forgetNumber(pool, readAuditKey(config.auditKeyFile), number, `user:${opts.user}`);
        const crm = done.crm ? `; removal of what the CRM holds for them queued (${done.crm}), journalled when the CRM confirms it` : '';
        process.stdout.write(`forgotten: ${done.entries} entries, ${done.calls} calls${crm}\n`);
      });
    });

  program
    .command('audit')
    .description('the append-only journal')
    .command('verify')
    .description('prove the journal was not altered (keyed hash chain); lists every row that does not hold')
    .option('--head <id:hash>', 'a head remembered from a digest mail or the service log: that row must still hold that hash')
    .action(async (opts: { head?: string }, cmd: Command) => {
      const anchor = opts.head === undefined ? undefined : parseChainPoint(opts.head);
      if (anchor === null) throw new Error(`--head: '${opts.head}' must be <row id>:<64 hex digits>, as the digest mail and the service log print it`);
      await withApp(cmd, async ({ ledgerPool: pool, config }) => {
        const result = await verifyAudit(pool, readAuditKey(config.auditKeyFile), anchor);
        const head = result.head ? `head ${formatChainPoint(result.head)}` : 'empty';
        for (const c of result.chains) {
          const name = c.chain === 'legacy' ? 'the journal before per-tenant chains' : `tenant ${c.chain}`;
          process.stdout.write(`chain of pbx ${config.pbxId}, ${name}: ${c.rows} rows, ${c.bad === 0 ? 'intact' : `${c.bad} problems`}\n`);
        }
        if (result.ok) {
          process.stdout.write(`audit ok: ${result.rows} rows, chain intact${anchor ? ', the remembered head holds' : ''}; ${head}\n`);
          return;
        }
        for (const bad of result.bad) process.stdout.write(`row ${bad.id}: ${bad.problem}\n`);
        const rowsBad = new Set(result.bad.map((b) => b.id)).size;
        process.stdout.write(`audit BROKEN: ${rowsBad} of ${result.rows} rows do not hold; ${head}\n`);
        process.exitCode = 2;
      });
    });
}
