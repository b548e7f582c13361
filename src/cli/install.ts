import { readFileSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import type { RowDataPacket } from 'mysql2/promise';
import { LATEST_SCHEMA_VERSION, migrate, OWN_TABLES, schemaVersion } from '../db/migrations.js';
import { ident, type Pool } from '../db/pool.js';
import { ledgerDatabase } from '../db/ledger-pool.js';
import { verifyAudit } from '../ledger/audit.js';
import { auditKeyText, endAuditKeyRestore, ensureAuditKey, readAuditKey, restoreAuditKey } from '../ledger/audit-key.js';
import { withApp, readStdin } from './context.js';

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
        const applied = await migrate(app.ledgerPool, (line) => process.stdout.write(line + '\n'));
        if (applied.length === 0) process.stdout.write('schema is up to date\n');
        if (await ensureAuditKey(app.ledgerPool, app.config.auditKeyFile)) process.stdout.write(`created the audit key ${app.config.auditKeyFile}\n`);
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
        // The group's tables hold every PBX's list: one PBX leaving drops nothing of them.
        if (app.config.group.nodes.length > 0) {
          throw new Error('this PBX writes to its group\'s database (config group:), whose tables hold every PBX\'s list: nothing was dropped. Remove the group section to uninstall from the local database, or drop the group\'s tables on the cluster (docs/group.md).');
        }
        for (const table of OWN_TABLES) {
          await app.ledgerPool.query(`DROP TABLE IF EXISTS ${ident(ledgerDatabase(app.config))}.${ident(table)}`);
          process.stdout.write(`dropped ${table}\n`);
        }
        // A key left behind would make a later install's fresh journal look cut short.
        rmSync(app.config.auditKeyFile, { force: true });
        // Left by a restore that was neither finished nor aborted.
        for (const table of await existingTables(app.ledgerPool, ledgerDatabase(app.config), OWN_TABLES.map(asideName))) {
          await app.ledgerPool.query(`DROP TABLE ${ident(ledgerDatabase(app.config))}.${ident(table)}`);
          process.stdout.write(`dropped ${table}\n`);
        }
      });
    });

  program
    .command('schema-info')
    .description('print our schema version and the tables a PBX backup dumps, as JSON')
    .action(async (_opts: unknown, command: Command) => {
      await withApp(command, async (app) => {
        const info: SchemaInfo = {
          version: await schemaVersion(app.ledgerPool),
          tables: await existingTables(app.ledgerPool, ledgerDatabase(app.config), BACKED_UP_TABLES),
          auditKey: auditKeyText(app.config.auditKeyFile),
        };
        process.stdout.write(JSON.stringify(info) + '\n');
      });
    });

  const restore = program
    .command('restore')
    .description('replace our tables with the rows of a PBX backup (FreePBX Restore runs begin, loads the dump, then finish or abort)');

  restore
    .command('begin')
    .description(`set our tables aside (${ASIDE_PREFIX}*) and create them empty at the backup's schema version`)
    .requiredOption('--schema-version <n>', 'the schema version the backup was made with (schema-info)')
    .option('--audit-key-stdin', 'the backup\'s audit key file comes on stdin: it becomes the key (the one it replaces is kept until finish or abort)')
    .action(async (opts: { schemaVersion: string; auditKeyStdin?: boolean }, command: Command) => {
      const version = Number(opts.schemaVersion);
      if (!Number.isInteger(version) || version < 1) throw new Error(`restore begin: --schema-version must be a schema version, not '${opts.schemaVersion}'`);
      if (version > LATEST_SCHEMA_VERSION) {
        throw new Error(`this backup was made by a newer Smart Missed Calls (schema ${version}, this one knows ${LATEST_SCHEMA_VERSION}): upgrade the module, then restore again`);
      }
      await withApp(command, async (app) => {
        const db = ledgerDatabase(app.config);
        const aside = await existingTables(app.ledgerPool, db, OWN_TABLES.map(asideName));
        if (aside.length > 0) {
          throw new Error(`an earlier restore did not finish (${aside.join(', ')} exist): run "smc restore abort" to put those tables back, then restore again`);
        }
        const current = await existingTables(app.ledgerPool, db, OWN_TABLES);
        if (current.length > 0) {
          // One statement: MariaDB renames all of them or none.
          await app.ledgerPool.query(`RENAME TABLE ${current.map((t) => `${ident(db)}.${ident(t)} TO ${ident(db)}.${ident(asideName(t))}`).join(', ')}`);
        }
        await migrate(app.ledgerPool, () => {}, version);
        if (opts.auditKeyStdin) restoreAuditKey(app.config.auditKeyFile, await readStdin());
        process.stdout.write(`set aside ${current.length} table(s) as ${ASIDE_PREFIX}*; created our tables empty at schema ${version}\n`);
      });
    });

  restore
    .command('finish')
    .description('migrate the restored rows to this version, check the audit chain and drop the tables set aside')
    .action(async (_opts: unknown, command: Command) => {
      await withApp(command, async (app) => {
        await migrate(app.ledgerPool, (line) => process.stdout.write(line + '\n'));
        const audit = await verifyAudit(app.ledgerPool, readAuditKey(app.config.auditKeyFile));
        if (!audit.ok) {
          const first = audit.bad[0]!;
          throw new Error(`the restored audit journal does not verify (row ${first.id}: ${first.problem}; ${audit.bad.length} problem(s)); run "smc restore abort" to put the previous tables back`);
        }
        endAuditKeyRestore(app.config.auditKeyFile, 'finished');
        const db = ledgerDatabase(app.config);
        for (const table of await existingTables(app.ledgerPool, db, OWN_TABLES.map(asideName))) {
          await app.ledgerPool.query(`DROP TABLE ${ident(db)}.${ident(table)}`);
        }
        process.stdout.write(`restored: audit ok, ${audit.rows} rows, chain intact\n`);
      });
    });

  restore
    .command('abort')
    .description('drop the half-restored tables and put the ones set aside by "restore begin" back')
    .action(async (_opts: unknown, command: Command) => {
      await withApp(command, async (app) => {
        const db = ledgerDatabase(app.config);
        const aside = await existingTables(app.ledgerPool, db, OWN_TABLES.map(asideName));
        if (aside.length === 0) {
          process.stdout.write('no restore to undo\n');
          return;
        }
        for (const table of OWN_TABLES) await app.ledgerPool.query(`DROP TABLE IF EXISTS ${ident(db)}.${ident(table)}`);
        endAuditKeyRestore(app.config.auditKeyFile, 'aborted');
        await app.ledgerPool.query(`RENAME TABLE ${aside.map((t) => `${ident(db)}.${ident(t)} TO ${ident(db)}.${ident(t.slice(ASIDE_PREFIX.length))}`).join(', ')}`);
        process.stdout.write(`put back ${aside.length} table(s) as they were before the restore\n`);
      });
    });

  program
    .command('export-state')
    .description('print every tenant\'s settings as JSON (what the PBX backup stores)')
    .action(async (_opts: unknown, command: Command) => {
      await withApp(command, async (app) => {
        const [rows] = await app.ledgerPool.query<RowDataPacket[]>(
          'SELECT tenant, settings, updated_at, updated_by FROM smart_missed_calls_settings WHERE pbx = @smc_pbx ORDER BY tenant',
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
        await migrate(app.ledgerPool);
        for (const s of state.settings) {
          await app.ledgerPool.query(
            `INSERT INTO smart_missed_calls_settings (pbx, tenant, settings, updated_at, updated_by) VALUES (@smc_pbx, ?, ?, ?, ?)
             ON DUPLICATE KEY UPDATE settings = VALUES(settings), updated_at = VALUES(updated_at), updated_by = VALUES(updated_by)`,
            [s.tenant, s.settings, s.updatedAt, s.updatedBy],
          );
        }
        process.stdout.write(`restored settings of ${state.settings.length} tenant(s)\n`);
      });
    });
}

const STATE_FORMAT = 'smartmissedcalls-state-1';

/** What Backup.php records: the schema the rows belong to and the tables it dumps. */
interface SchemaInfo {
  version: number;
  tables: string[];
  /** The journal's key file: the rows cannot be verified anywhere without it. */
  auditKey: string | null;
}

/** A backup carries every table of ours but the migrations ledger: restore rebuilds that at the backup's version. */
const BACKED_UP_TABLES = OWN_TABLES.filter((t) => t !== 'smart_missed_calls_migrations');

/** Our tables wait under this prefix while a restore loads; the prefix does not match `smart_missed_calls%`. */
const ASIDE_PREFIX = 'smc_before_restore__';

function asideName(table: string): string {
  return ASIDE_PREFIX + table;
}

/** Those of `tables` that exist in `database`, in the order given. */
async function existingTables(pool: Pool, database: string, tables: readonly string[]): Promise<string[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?)',
    [database, tables],
  );
  const present = new Set(rows.map((r) => String(r.name)));
  return tables.filter((t) => present.has(t));
}

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
