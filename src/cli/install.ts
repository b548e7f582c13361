import { readFileSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import type { RowDataPacket } from 'mysql2/promise';
import { migrate, OWN_TABLES } from '../db/migrations.js';
import { ident } from '../db/pool.js';
import { ensureAuditKey } from '../ledger/audit-key.js';
import { withApp } from './context.js';

/**
 * The commands the PBX module runs at install, uninstall, backup and restore
 * (Smartmissedcalls.class.php): our schema in, our schema out, our settings across.
 */
export function register(program: Command): void {
  program
    .command('migrate')
    .description('create or upgrade our tables (smart_missed_calls_*) and create the audit key file when missing; safe to run again')
    .action(async (_opts: unknown, command: Command) => {
      await withApp(command, async (app) => {
        const applied = await migrate(app.pool, (line) => process.stdout.write(line + '\n'));
        if (applied.length === 0) process.stdout.write('schema is up to date\n');
        if (await ensureAuditKey(app.pool, app.config.auditKeyFile)) process.stdout.write(`created the audit key ${app.config.auditKeyFile}\n`);
      });
    });

  program
    .command('uninstall')
    .description('drop our tables (smart_missed_calls_*) and the audit key file, and nothing else; the PBX\'s cdr/cel stay untouched')
    .option('--yes', 'confirm: every missed-call entry, audit row and setting of ours is deleted')
    .action(async (opts: { yes?: boolean }, command: Command) => {
      if (!opts.yes) {
        throw new Error(`this drops ${OWN_TABLES.join(', ')} with all their rows; run again with --yes to confirm`);
      }
      await withApp(command, async (app) => {
        for (const table of OWN_TABLES) {
          await app.pool.query(`DROP TABLE IF EXISTS ${ident(app.config.db.database)}.${ident(table)}`);
          process.stdout.write(`dropped ${table}\n`);
        }
        // A key left behind would make a later install's fresh journal look cut short.
        rmSync(app.config.auditKeyFile, { force: true });
      });
    });

  program
    .command('export-state')
    .description('print every tenant\'s settings as JSON (what the PBX backup stores)')
    .action(async (_opts: unknown, command: Command) => {
      await withApp(command, async (app) => {
        const [rows] = await app.pool.query<RowDataPacket[]>(
          'SELECT tenant, settings, updated_at, updated_by FROM smart_missed_calls_settings ORDER BY tenant',
        );
        const state: ExportedState = {
          format: STATE_FORMAT,
          settings: rows.map((r) => ({
            tenant: String(r.tenant),
            settings: String(r.settings),
            updatedAt: String(r.updated_at),
            updatedBy: String(r.updated_by),
          })),
        };
        process.stdout.write(JSON.stringify(state) + '\n');
      });
    });

  program
    .command('import-state')
    .description('restore settings printed by export-state (from a file, or stdin with -)')
    .argument('<file>', 'JSON file, or - for stdin')
    .action(async (file: string, _opts: unknown, command: Command) => {
      const state = parseState(readFileSync(file === '-' ? 0 : file, 'utf8'));
      await withApp(command, async (app) => {
        await migrate(app.pool);
        for (const s of state.settings) {
          await app.pool.query(
            `INSERT INTO smart_missed_calls_settings (tenant, settings, updated_at, updated_by) VALUES (?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE settings = VALUES(settings), updated_at = VALUES(updated_at), updated_by = VALUES(updated_by)`,
            [s.tenant, s.settings, s.updatedAt, s.updatedBy],
          );
        }
        process.stdout.write(`restored settings of ${state.settings.length} tenant(s)\n`);
      });
    });
}

const STATE_FORMAT = 'smartmissedcalls-state-1';

interface ExportedState {
  format: typeof STATE_FORMAT;
  settings: { tenant: string; settings: string; updatedAt: string; updatedBy: string }[];
}

function parseState(text: string): ExportedState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('import-state: input is not JSON produced by export-state');
  }
  const d = doc as Partial<ExportedState>;
  if (d?.format !== STATE_FORMAT || !Array.isArray(d.settings)) {
    throw new Error(`import-state: expected format ${STATE_FORMAT}`);
  }
  for (const s of d.settings) {
    if (typeof s?.tenant !== 'string' || !/^[\w.-]{1,64}$/.test(s.tenant) || typeof s.settings !== 'string'
      || typeof s.updatedAt !== 'string' || typeof s.updatedBy !== 'string') {
      throw new Error('import-state: a settings row is malformed');
    }
  }
  return d as ExportedState;
}
