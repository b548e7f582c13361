import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { closePools, openPools, type DbPools } from '../db/ledger-pool.js';
import { explainAccessDenied, type Pool } from '../db/pool.js';

export interface App {
  config: Config;
  /** Our tables: the PBX's MariaDB, or the group's cluster (config `group`). */
  ledgerPool: Pool;
  /** The PBX's own database: cdr, cel, its configuration tables (read only). */
  cdrPool: Pool;
  /** Both, for the work that reads the CDR and writes the ledger. */
  pools: DbPools;
  close(): Promise<void>;
}

/** Config from the root command's --config, and its pools; close() ends them. */
export function openApp(command: Command): App {
  return openAppAt(rootOf(command).opts<{ config?: string }>().config);
}

/** Config from a given file (the default place when none), and its pools. */
export function openAppAt(configPath: string | undefined): App {
  const config = loadConfig({ path: configPath });
  const pools = openPools(config, 6, (line) => process.stderr.write(`${line}\n`));
  return { config, ledgerPool: pools.ledger, cdrPool: pools.cdr, pools, close: () => closePools(pools) };
}

/** Runs a command's work with the app open, and closes the pools whatever happens. */
export async function withApp<T>(command: Command, work: (app: App) => Promise<T>): Promise<T> {
  const app = openApp(command);
  try {
    return await work(app);
  } catch (err) {
    throw explainAccessDenied(err, app.config.db);
  } finally {
    await app.close();
  }
}

export function configOf(command: Command): Config {
  return loadConfig({ path: rootOf(command).opts<{ config?: string }>().config });
}

function rootOf(command: Command): Command {
  let c = command;
  while (c.parent) c = c.parent;
  return c;
}

/** All of stdin as text (secrets and keys come this way, never on the command line). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
