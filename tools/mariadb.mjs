// A private MariaDB for tests, the demo and the benchmark: its own data directory and
// unix socket, no TCP port, so it never collides with a MariaDB the machine already runs.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, openSync, closeSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * @param {string} name
 * @returns {string}
 */
function findBinary(name) {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin', '/usr/local/sbin']) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new Error(`${name} not found in PATH or /usr/sbin; install Debian's mariadb-server`);
}

/**
 * @param {string} path
 * @param {number} lines
 * @returns {string}
 */
function tail(path, lines) {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no error log)';
  }
}

/** mariadbd refuses to run as root unless told which user to become. */
function runAsUser() {
  if (process.getuid?.() !== 0) return [];
  return ['--user=root'];
}

/**
 * @param {string} socket
 * @returns {Promise<boolean>}
 */
async function answers(socket) {
  if (!existsSync(socket)) return false;
  try {
    const conn = await mysql.createConnection({ socketPath: socket, user: 'root', connectTimeout: 1000 });
    await conn.query('SELECT 1');
    await conn.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * @typedef {object} Mariadb
 * @property {string} socket  unix socket root connects on, without a password
 * @property {string} dir     the directory holding data/, the socket, pid and error log
 * @property {() => Promise<void>} stop  shuts the server down cleanly and waits for it
 */

/**
 * Starts a private MariaDB in `dir` (created when missing). Data already in dir/data is
 * reused, so the demo keeps its calls between runs; an empty dir is initialised first.
 * @param {{ dir: string, log?: (line: string) => void }} options
 * @returns {Promise<Mariadb>}
 */
export async function startMariadb({ dir, log = () => {} }) {
  dir = resolve(dir);
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'mysql.sock');
  const errorLog = join(dir, 'mariadb.err');
  // Its own temp folder: a shared /tmp that someone tidies mid-run breaks temporary tables.
  const tmp = join(dir, 'tmp');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(tmp, { recursive: true });

  if (readdirSync(dataDir).length === 0) {
    log(`initialising MariaDB data in ${dataDir}`);
    try {
      execFileSync(
        findBinary('mariadb-install-db'),
        ['--no-defaults', `--datadir=${dataDir}`, `--tmpdir=${tmp}`, '--auth-root-authentication-method=normal', '--skip-test-db',
          // The server listens on its socket only: no host names to resolve. A fresh machine may
          // have no /etc/hosts, and then mariadb-install-db's resolveip check gives up unless forced.
          '--skip-name-resolve', '--force', ...runAsUser()],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (err) {
      const e = /** @type {{ stderr?: Buffer, stdout?: Buffer, message: string }} */ (err);
      throw new Error(`mariadb-install-db failed: ${e.message}\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`);
    }
  }

  const logFd = openSync(errorLog, 'a');
  const child = spawn(
    findBinary('mariadbd'),
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--tmpdir=${tmp}`,
      `--socket=${socket}`,
      '--skip-networking',
      `--pid-file=${join(dir, 'mariadb.pid')}`,
      `--log-error=${errorLog}`,
      ...runAsUser(),
      '--innodb-buffer-pool-size=256M',
      '--innodb-flush-log-at-trx-commit=2',
      '--skip-log-bin',
      '--max-connections=500',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);

  /** @type {Promise<void>} */
  const exited = new Promise((resolveExit) => child.once('exit', () => resolveExit()));
  let running = true;
  void exited.then(() => {
    running = false;
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await answers(socket))) {
    if (!running) {
      throw new Error(`mariadbd exited during start-up (code ${child.exitCode}); tail of ${errorLog}:\n${tail(errorLog, 25)}`);
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`mariadbd did not answer on ${socket} within ${START_TIMEOUT_MS / 1000}s; tail of ${errorLog}:\n${tail(errorLog, 25)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`MariaDB ready on ${socket}`);

  let stopping = /** @type {Promise<void> | null} */ (null);
  return {
    socket,
    dir,
    stop() {
      stopping ??= (async () => {
        if (!running) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * tools/schema, found by walking up: the tests bundle this file into build/test/, so its
 * own location says nothing about where the repo's tools/ folder is.
 * @returns {string}
 */
function schemaDir() {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'tools', 'schema');
    if (existsSync(join(candidate, 'freepbx-cdr.sql'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`tools/schema not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/**
 * Splits a schema file into statements. The files hold plain DDL: no procedures, no
 * semicolons inside strings or comments.
 * @param {string} text
 * @returns {string[]}
 */
function statements(text) {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * @param {string} name
 * @returns {string}
 */
function quoted(name) {
  if (!/^\w{1,64}$/.test(name)) throw new Error(`refusing database name '${name}'`);
  return '`' + name + '`';
}

/** The PBX's CDR database (cdr, cel) and configuration database, per PBX. */
const SCHEMA_SETS = {
  freepbx: { cdr: 'freepbx-cdr.sql', pbx: 'freepbx-asterisk.sql' },
  vitalpbx: { cdr: 'vitalpbx-asterisk.sql', pbx: 'vitalpbx-ombutel.sql' },
};

/**
 * Creates the PBX's databases as that PBX has them: the CDR database with cdr and cel
 * (FreePBX asteriskcdrdb, VitalPBX asterisk), and the configuration database we read
 * (FreePBX asterisk, VitalPBX ombutel). When smcDb differs from both it is created empty
 * (migrations fill it).
 * @param {string} socket
 * @param {{ cdrDb: string, pbxDb: string, smcDb?: string, pbx?: 'freepbx' | 'vitalpbx' }} names
 * @returns {Promise<void>}
 */
export async function loadSchemas(socket, { cdrDb, pbxDb, smcDb = pbxDb, pbx = 'freepbx' }) {
  const conn = await mysql.createConnection({ socketPath: socket, user: 'root', multipleStatements: false });
  try {
    const files = SCHEMA_SETS[pbx];
    if (!files) throw new Error(`no schema set for PBX '${pbx}'`);
    /** @type {[string, string | null][]} */
    const plan = [
      [cdrDb, files.cdr],
      [pbxDb, files.pbx],
      [smcDb, null],
    ];
    const created = new Set();
    for (const [db, file] of plan) {
      if (!created.has(db)) {
        await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoted(db)} DEFAULT CHARACTER SET utf8mb4`);
        created.add(db);
      }
      if (!file) continue;
      await conn.query(`USE ${quoted(db)}`);
      for (const sql of statements(readFileSync(join(schemaDir(), file), 'utf8'))) await conn.query(sql);
    }
  } finally {
    await conn.end();
  }
}
