import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createPool, explainAccessDenied, type Pool } from '../db/pool.js';

export interface App {
  config: Config;
  pool: Pool;
  close(): Promise<void>;
}

/** Config from the root command's --config, and a pool; close() ends the pool. */
export function openApp(command: Command): App {
  return openAppAt(rootOf(command).opts<{ config?: string }>().config);
}

/** Config from a given file (the default place when none), and a pool. */
export function openAppAt(configPath: string | undefined): App {
  const config = loadConfig({ path: configPath });
  const pool = createPool(config.db);
  return { config, pool, close: () => pool.end() };
}

/** Runs a command's work with the app open, and closes the pool whatever happens. */
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
