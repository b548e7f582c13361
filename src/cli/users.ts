import type { Command } from 'commander';
import { readVitalpbxDirectory } from '../cdr/vitalpbx-directory.js';
import { FREEPBX_TENANT } from '../cdr/directory.js';
import { addAccount, listAccounts, removeAccount, setPassword, verifyLogin, type AccountRole } from '../config/accounts.js';
import type { Config } from '../config/schema.js';
import type { Pool } from '../db/pool.js';
import { withApp, readStdin } from './context.js';

/** The password comes on stdin (one line), never on the command line where `ps` shows it. */
async function passwordFromStdin(): Promise<string> {
  return (await readStdin()).replace(/\r?\n$/, '');
}

/** A tenant the PBX has: VitalPBX's ombu_tenants names, FreePBX's single `default`. */
async function checkTenant(pool: Pool, config: Config, tenant: string): Promise<void> {
  const known = config.pbx === 'vitalpbx' ? (await readVitalpbxDirectory(pool, config.db)).tenants.map((t) => t.key) : [FREEPBX_TENANT];
  if (!known.includes(tenant)) throw new Error(`'${tenant}' is not a tenant of this PBX (tenants: ${known.join(', ')})`);
}

/**
 * `smc users …`: the per-tenant accounts the super admin manages where the PBX's own
 * login cannot be verified (VitalPBX). The PHP glue calls `users verify`.
 */
export function register(program: Command): void {
  const users = program.command('users').description('per-tenant accounts for the VitalPBX page (password on stdin)');

  users
    .command('add <user>')
    .description('create an account of one tenant; the password is read from stdin')
    .requiredOption('--tenant <tenant>', 'the tenant the account sees (VitalPBX: the tenant name)')
    .option('--role <role>', 'admin (resolve, settings), viewer (look only) or superadmin (all tenants)', 'admin')
    .action(async (user: string, opts: { tenant: string; role: string }, cmd: Command) => {
      await withApp(cmd, async (app) => {
        await checkTenant(app.cdrPool, app.config, opts.tenant);
        await addAccount(app.ledgerPool, { user, tenant: opts.tenant, role: opts.role as AccountRole }, await passwordFromStdin());
        process.stdout.write(`added ${user} (${opts.role} of ${opts.tenant})\n`);
      });
    });

  users
    .command('passwd <user>')
    .description('set a new password, read from stdin')
    .action(async (user: string, _opts: unknown, cmd: Command) => {
      await withApp(cmd, async (app) => {
        await setPassword(app.ledgerPool, user, await passwordFromStdin());
        process.stdout.write(`password of ${user} changed\n`);
      });
    });

  users
    .command('remove <user>')
    .description('delete an account')
    .action(async (user: string, _opts: unknown, cmd: Command) => {
      await withApp(cmd, async (app) => {
        await removeAccount(app.ledgerPool, user);
        process.stdout.write(`removed ${user}\n`);
      });
    });

  users
    .command('list')
    .description('accounts, by tenant')
    .option('--tenant <tenant>', 'only this tenant')
    .action(async (opts: { tenant?: string }, cmd: Command) => {
      await withApp(cmd, async (app) => {
        for (const a of await listAccounts(app.ledgerPool, opts.tenant)) process.stdout.write(`${a.tenant}\t${a.user}\t${a.role}\n`);
      });
    });

  users
    .command('verify <user>')
    .description('check a login (password on stdin): prints {"user","tenant","role"} and exits 0, or exits 1')
    .action(async (user: string, _opts: unknown, cmd: Command) => {
      await withApp(cmd, async (app) => {
        const account = await verifyLogin(app.ledgerPool, user, await passwordFromStdin());
        if (!account) {
          process.exitCode = 1;
          return;
        }
        process.stdout.write(JSON.stringify(account) + '\n');
      });
    });
}
