import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import mysql from 'mysql2/promise';
import { parse as parseYaml, stringify } from 'yaml';
import { loadSchemas } from '../../tools/mariadb.mjs';
import { callsOnDay, dayStart, SECONDS_PER_DAY } from '../cdr/generator/calendar.js';
import { countersAfterTable, insertRows } from '../cdr/generator/insert.js';
import { dbClock, startLiveTraffic, type LiveTraffic } from '../cdr/generator/live.js';
import { demoPbx, type PbxModel } from '../cdr/generator/pbx.js';
import { writePbxTables } from '../cdr/generator/pbx-tables.js';
import { Rng } from '../cdr/generator/random.js';
import { generateDay } from '../cdr/generator/traffic.js';
import { writeVolume } from '../cdr/generator/volume.js';
import { naiveDatetime } from '../cdr/row.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { migrate } from '../db/migrations.js';
import { createPool, ident, type Pool } from '../db/pool.js';
import { ensureAuditKey, readAuditKey } from '../ledger/audit-key.js';
import { loadSettings, saveSettings } from '../config/settings-store.js';
import { backfill } from '../sync/backfill.js';
import { readState, writeState } from '../sync/state.js';
import { DemoAgents } from './demo-agents.js';
import { startService } from './serve.js';

/** First attempts on an ordinary weekday: a busy small business (weekends get far fewer). */
const CALLS_PER_WEEKDAY = 320;
const HISTORY_SEED = 20_261_126;
/** Marks the demo's databases; 'filling' means a first run stopped half way. */
const DEMO_STATE_KEY = 'demo_history';
const PORTS_TO_TRY = 50;

interface DemoOptions {
  socket: string;
  dir: string;
  port: string;
  historyDays: string;
  callsPerMinute: string;
  cdrDatabase: string;
  pbxDatabase: string;
}

class Interrupted extends Error {
  constructor() {
    super('interrupted; the next run writes the history again');
  }
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} demo: ${line}\n`);

function whole(value: string, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const probe = createServer();
    probe.once('error', () => resolveFree(false));
    probe.listen({ host: '127.0.0.1', port }, () => probe.close(() => resolveFree(true)));
  });
}

async function freePort(first: number): Promise<number> {
  for (let port = first; port < first + PORTS_TO_TRY && port <= 65_535; port++) {
    if (await portFree(port)) return port;
  }
  throw new Error(`no free port on 127.0.0.1 from ${first} to ${first + PORTS_TO_TRY - 1}; pass --port`);
}

/** The secret of an earlier run's config, so logged-in browsers stay logged in across runs. */
function previousSecret(path: string): string | null {
  if (!existsSync(path)) return null;
  try {
    const doc = parseYaml(readFileSync(path, 'utf8')) as { server?: { secret?: unknown } } | null;
    return typeof doc?.server?.secret === 'string' && doc.server.secret.length >= 32 ? doc.server.secret : null;
  } catch {
    return null;
  }
}

/** Writes <dir>/config.yaml (usable with `smc -c` for status, entries…) and reads it back through the normal loader. */
function writeDemoConfig(options: DemoOptions, port: number): { config: Config; path: string } {
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'config.yaml');
  const doc = {
    pbx: 'freepbx',
    db: {
      socket: resolve(options.socket), user: 'root', password: '',
      database: options.pbxDatabase, cdr_database: options.cdrDatabase, pbx_database: options.pbxDatabase,
    },
    server: {
      listen: `127.0.0.1:${port}`,
      secret: previousSecret(path) ?? randomBytes(32).toString('hex'),
      base_url: `http://127.0.0.1:${port}/`,
      users: [
        { user: 'admin', password: 'admin', tenant: 'default', role: 'admin' },
        { user: 'viewer', password: 'viewer', tenant: 'default', role: 'viewer' },
      ],
    },
    mail: { transport: 'none' },
  };
  writeFileSync(path, `# Written by \`smc demo\` at every start; edits are overwritten.\n${stringify(doc)}`, { mode: 0o600 });
  // The demo is self-contained: SMC_* variables of the shell must not point it elsewhere.
  return { config: loadConfig({ path, env: {} }), path };
}

async function databaseExists(socket: string, name: string): Promise<boolean> {
  const conn = await mysql.createConnection({ socketPath: socket, user: 'root' });
  try {
    const [rows] = await conn.query('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
    return (rows as unknown[]).length > 0;
  } finally {
    await conn.end();
  }
}

async function dropDatabases(socket: string, names: string[]): Promise<void> {
  const conn = await mysql.createConnection({ socketPath: socket, user: 'root' });
  try {
    for (const name of names) await conn.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
  } finally {
    await conn.end();
  }
}

/**
 * Whether the databases already hold a finished demo. Databases the demo did not make are
 * refused: the demo writes into cdr, which on a real PBX is never ours to touch.
 */
async function existingDemo(socket: string, options: DemoOptions): Promise<boolean> {
  if (!(await databaseExists(socket, options.cdrDatabase))) return false;
  const conn = await mysql.createConnection({ socketPath: socket, user: 'root' });
  let marker: string | null = null;
  try {
    const [rows] = await conn.query(`SELECT v FROM ${ident(options.pbxDatabase)}.smart_missed_calls_state WHERE k = ?`, [DEMO_STATE_KEY]);
    marker = (rows as { v: string }[])[0]?.v ?? null;
  } catch {
    marker = null;
  } finally {
    await conn.end();
  }
  if (marker === 'done') return true;
  if (marker === 'filling') {
    log('an earlier first run stopped while writing history: starting the demo databases over');
    await dropDatabases(socket, [options.cdrDatabase, options.pbxDatabase]);
    return false;
  }
  throw new Error(
    `database ${options.cdrDatabase} exists but was not made by \`smc demo\`; the demo only writes into databases of its own ` +
      '(choose others with --cdr-database/--pbx-database, or remove the demo directory)',
  );
}

function day(seconds: number): string {
  return naiveDatetime(seconds).slice(0, 10);
}

/**
 * The first run: FreePBX's tables and labels, `historyDays` full days of calls up to
 * yesterday, today's calls up to now, all of it classified as `smc backfill` would.
 */
async function fillHistory(pool: Pool, config: Config, model: PbxModel, historyDays: number, interrupted: () => boolean): Promise<void> {
  await writeState(pool, { [DEMO_STATE_KEY]: 'filling' });
  await writePbxTables(pool, config.db.pbxDatabase, model);
  const target = { pool, cdrDb: config.db.cdrDatabase };
  const now = (await dbClock(pool)).now();
  const today = day(now);
  const from = day(now - historyDays * SECONDS_PER_DAY);
  const began = performance.now();
  let calls = 0;
  let missed = 0;
  if (historyDays > 0) {
    const summary = await writeVolume({
      ...target, model, seed: HISTORY_SEED, from, to: day(now - SECONDS_PER_DAY), callsPerDay: CALLS_PER_WEEKDAY,
      onProgress: (p) => {
        if (interrupted()) throw new Interrupted();
        log(`history: ${p.calls} calls, ${p.rows} CDR rows written`);
      },
    });
    calls += summary.calls;
    missed += summary.missed;
  }
  // Today up to now, so "missed today" is not empty when the page first opens.
  const todays = generateDay(model, {
    seed: HISTORY_SEED + 1, date: today, calls: callsOnDay(CALLS_PER_WEEKDAY, dayStart(today), new Rng(HISTORY_SEED + 2)),
    counters: await countersAfterTable(target),
  }).filter((call) => call.rows.every((row) => row.arrival <= now));
  await insertRows(target, todays.flatMap((call) => call.rows));
  for (const call of todays) {
    calls += 1 + call.extraLabels.length;
    missed += [call.label, ...call.extraLabels].filter((l) => l.missed).length;
  }
  const written = (performance.now() - began) / 1000;
  log(`history: ${calls} calls from ${from} to now (${missed} missed by the team) written in ${written.toFixed(1)} s; classifying`);
  if (interrupted()) throw new Interrupted();
  const classifyBegan = performance.now();
  const result = await backfill(pool, config, {
    since: from,
    progress: () => {
      if (interrupted()) throw new Interrupted();
    },
  });
  log(`history: ${result.calls} calls classified in ${((performance.now() - classifyBegan) / 1000).toFixed(1)} s`);
  await writeState(pool, { [DEMO_STATE_KEY]: 'done' });
}

/**
 * The demo tenant calls back within 15 minutes (5 on the sales queue, 400), escalating at
 * the target and at twice it, so past-target marks and escalations (in the journal of an
 * entry; the demo sends no mail) show with the live traffic. Every hour counts: a demo is
 * opened at any time of day. Set once: what an admin changes on the settings page stays.
 */
async function demoTargets(pool: Pool): Promise<void> {
  const settings = await loadSettings(pool, 'default');
  if (settings.callbackTargetMinutes > 0 || settings.callbackTargetRoutes.length > 0) return;
  await saveSettings(pool, 'default', { callbackTargetMinutes: 15, callbackTargetRoutes: [{ route: 'queue:400', minutes: 5 }], escalationThresholds: [1, 2] }, 'demo');
}

async function runDemo(options: DemoOptions): Promise<void> {
  const historyDays = whole(options.historyDays, 'history-days', 0, 366);
  const callsPerMinute = whole(options.callsPerMinute, 'calls-per-minute', 1, 600);
  const firstPort = whole(options.port, 'port', 1, 65_535);
  if (!existsSync(options.socket)) throw new Error(`no MariaDB socket at ${options.socket}; \`npm run demo\` starts one`);

  let interrupted = false;
  let stopDemo: (() => Promise<void>) | null = null;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      void stopDemo?.();
    });
  }

  const port = await freePort(firstPort);
  const { config, path } = writeDemoConfig(options, port);
  const model = demoPbx();
  const reuse = await existingDemo(config.db.socket, options);
  if (!reuse) await loadSchemas(config.db.socket, { cdrDb: options.cdrDatabase, pbxDb: options.pbxDatabase });
  const pool = createPool(config.db);
  let traffic: LiveTraffic | null = null;
  let agents: DemoAgents | null = null;
  try {
    await migrate(pool, log);
    await ensureAuditKey(pool, config.auditKeyFile);
    if (reuse) log(`reusing the demo's calls in ${options.cdrDatabase} (last synced ${await readState(pool, 'last_cycle') ?? 'never'})`);
    else await fillHistory(pool, config, model, historyDays, () => interrupted);
    await demoTargets(pool);
    if (interrupted) throw new Interrupted();
    const team = new DemoAgents(pool, readAuditKey(config.auditKeyFile), model, (err) => log(`demo agents: ${(err as Error).message}`));
    agents = team;
    traffic = startLiveTraffic({
      pool, cdrDb: config.db.cdrDatabase, model, seed: randomInt(2 ** 31), callsPerMinute,
      onCall: (label) => team.callPlaced(label),
      onError: (err) => log(`live traffic: ${(err as Error).message}`),
    });
    team.start();
    await startService(config);
  } catch (err) {
    agents?.stop();
    await traffic?.stop();
    await pool.end();
    throw err;
  }
  const running = traffic;
  stopDemo = async () => {
    agents?.stop();
    await running.stop();
    await pool.end();
  };
  // A signal while the service was starting found nothing of ours to stop yet.
  if (interrupted) return stopDemo();
  const url = `http://127.0.0.1:${port}/`;
  process.stdout.write(
    [
      '',
      `Smart Missed Calls demo: ${url}`,
      '  log in as admin / admin (administrator) or viewer / viewer (read only)',
      `  about ${callsPerMinute} live call${callsPerMinute === 1 ? '' : 's'} a minute; misses appear on the list within seconds; agents claim entries as they call back`,
      `  config: ${path} (e.g. node build/smc.js -c ${path} status)`,
      'Ctrl-C stops the demo',
      '',
    ].join('\n'),
  );
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('a demo PBX on a private MariaDB: FreePBX tables, a month of calls, live traffic, the service with demo logins (`npm run demo` sets it all up)')
    .requiredOption('--socket <path>', 'unix socket of the MariaDB to use, root without password (never a PBX\'s)')
    .option('--dir <path>', 'where the demo writes config.yaml', '.demo')
    .option('--port <n>', 'first port to try on 127.0.0.1', '8093')
    .option('--history-days <n>', 'days of history written on the first run', '30')
    .option('--calls-per-minute <n>', 'live calls a minute', '3')
    .option('--cdr-database <name>', 'database for cdr and cel', 'asteriskcdrdb')
    .option('--pbx-database <name>', 'database for FreePBX\'s tables and ours', 'asterisk')
    .action((options: DemoOptions) => runDemo(options));
}
