import type { Command } from 'commander';
import type { RowDataPacket } from 'mysql2/promise';
import { verifyAudit } from '../ledger/audit.js';
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
      await withApp(cmd, async ({ pool }) => {
        const [rows] = await pool.query<RowDataPacket[]>(
          `SELECT * FROM smart_missed_calls WHERE tenant = ? ${opts.status === 'all' ? '' : 'AND status = ?'}
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
      await withApp(cmd, async ({ pool }) => {
        const [rows] = await pool.query<RowDataPacket[]>('SELECT * FROM smart_missed_calls WHERE tenant = ? AND id = ?', [opts.tenant, entryId(id)]);
        if (!rows[0]) throw new Error(`entry ${id} not found in tenant ${opts.tenant}`);
        const entry = entryFromRow(rows[0]);
        const [calls] = await pool.query<RowDataPacket[]>(
          'SELECT linkedid, verdict, started_at, explanation FROM smart_missed_calls_calls WHERE tenant = ? AND entry_id = ? ORDER BY started_at',
          [opts.tenant, entry.id],
        );
        const [audit] = await pool.query<RowDataPacket[]>(
          'SELECT id, event, reason, actor, ext, linkedid, note, created_at FROM smart_missed_calls_audit WHERE tenant = ? AND entry_id = ? ORDER BY id',
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
      await withApp(cmd, async ({ pool }) => {
        const entry = await resolveEntry(pool, opts.tenant, entryId(id), opts.user, opts.note);
        process.stdout.write(`entry ${entry.id} cleared (manual) by ${opts.user}\n`);
      });
    });

  program
    .command('forget <number>')
    .description('GDPR: remove every trace of a caller (entries, calls, lookups); the audit keeps only a salted hash')
    .option('--user <user>', 'who asks', 'cli')
    .action(async (number: string, opts: { user: string }, cmd: Command) => {
      await withApp(cmd, async ({ pool }) => {
        const done = await forgetNumber(pool, number, `user:${opts.user}`);
        process.stdout.write(`forgotten: ${done.entries} entries, ${done.calls} calls\n`);
      });
    });

  program
    .command('audit')
    .description('the append-only journal')
    .command('verify')
    .description('prove the journal was not altered (hash chain)')
    .action(async (_opts: unknown, cmd: Command) => {
      await withApp(cmd, async ({ pool }) => {
        const result = await verifyAudit(pool);
        if (result.ok) process.stdout.write(`audit ok: ${result.rows} rows, chain intact\n`);
        else {
          process.stdout.write(`audit BROKEN at row ${result.firstBad!.id}: ${result.firstBad!.problem} (${result.rows} rows verified before it)\n`);
          process.exitCode = 2;
        }
      });
    });
}
