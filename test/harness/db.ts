/**
 * Databases for one test file on the private MariaDB that tools/test.mjs starts
 * (SMC_TEST_MYSQL_SOCKET): the PBX's CDR database with cdr and cel, the PBX's asterisk
 * database with the FreePBX tables we read, and our own tables migrated into the latter,
 * as on a FreePBX box. Each call gets uniquely named databases, so test files run in
 * parallel without seeing each other's rows.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { loadSchemas } from '../../tools/mariadb.mjs';
import { DEFAULT_CONFIG, type Config } from '../../src/config/schema.js';
import { createPool, ident, type Pool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrations.js';
import { ensureAuditKey, readAuditKey, type AuditKey } from '../../src/ledger/audit-key.js';
import { CDR_COLUMNS, toCdrRow, type CdrRow } from '../../src/cdr/row.js';
import { readTsv } from '../../src/cdr/tsv.js';

export interface DatabaseNames {
  cdr: string;
  pbx: string;
  /** Where our smart_missed_calls_* tables live; the pbx database unless asked otherwise. */
  own: string;
}

export interface FreshDatabases {
  socket: string;
  names: DatabaseNames;
  /** DEFAULT_CONFIG pointing at these databases over the socket, as root, and at testAuditKeyFile(). */
  config: Config;
  /** The key the journal of these databases is written with. */
  auditKey: AuditKey;
  /** createPool(config.db): its default database is names.own. */
  pool: Pool;
  /** Closes the pool and drops the databases. */
  cleanup(): Promise<void>;
}

export function testSocket(): string {
  const socket = process.env.SMC_TEST_MYSQL_SOCKET;
  if (!socket) {
    throw new Error('SMC_TEST_MYSQL_SOCKET is not set: run the tests through `npm test` or `node tools/test.mjs`, which start MariaDB');
  }
  return socket;
}

export interface FreshOptions {
  separateOwnDb?: boolean;
  /**
   * 'vitalpbx': the VitalPBX schema set — names.cdr is its `asterisk` database (cdr, cel),
   * names.pbx its `ombutel` (ombu_* tables), and our tables get a database of their own,
   * as install.sh sets it up; config.pbx is 'vitalpbx'.
   */
  pbx?: 'freepbx' | 'vitalpbx';
}

let auditKeyFile: string | undefined;

/**
 * One audit key file for the whole test process, made by the first freshDatabases (on a
 * journal still empty, so no row is unkeyed) and removed at exit. It is also put in
 * SMC_AUDIT_KEY_FILE, so an `smc` the test starts writes and verifies with the same key.
 */
export function testAuditKeyFile(): string {
  if (!auditKeyFile) {
    auditKeyFile = join(tmpdir(), `smc-test-${process.pid}-audit.key`);
    const file = auditKeyFile;
    process.env.SMC_AUDIT_KEY_FILE = file;
    process.once('exit', () => rmSync(file, { force: true }));
  }
  return auditKeyFile;
}

export async function freshDatabases(prefix = 't', options: FreshOptions = {}): Promise<FreshDatabases> {
  const socket = testSocket();
  const tag = `${prefix.replace(/\W/g, '_').slice(0, 24)}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const pbx = options.pbx ?? 'freepbx';
  const names: DatabaseNames = {
    cdr: `${tag}_cdr`,
    pbx: `${tag}_pbx`,
    own: options.separateOwnDb || pbx === 'vitalpbx' ? `${tag}_smc` : `${tag}_pbx`,
  };
  await loadSchemas(socket, { cdrDb: names.cdr, pbxDb: names.pbx, smcDb: names.own, pbx });
  const config: Config = {
    ...DEFAULT_CONFIG,
    pbx,
    db: {
      ...DEFAULT_CONFIG.db,
      socket,
      user: 'root',
      password: '',
      database: names.own,
      cdrDatabase: names.cdr,
      pbxDatabase: names.pbx,
    },
    auditKeyFile: testAuditKeyFile(),
  };
  const pool = createPool(config.db);
  await migrate(pool);
  await ensureAuditKey(pool, config.auditKeyFile);
  return {
    socket,
    names,
    config,
    auditKey: readAuditKey(config.auditKeyFile),
    pool,
    async cleanup() {
      await pool.end();
      const root = await mysql.createConnection({ socketPath: socket, user: 'root' });
      try {
        for (const db of new Set(Object.values(names))) await root.query(`DROP DATABASE IF EXISTS ${ident(db)}`);
      } finally {
        await root.end();
      }
    },
  };
}

/** Inserts CDR rows the way Asterisk's cdr_adaptive_odbc would: only the columns it fills. */
export async function insertCdrRows(pool: Pool, dbName: string, rows: CdrRow[], table = 'cdr'): Promise<void> {
  const columns = [...CDR_COLUMNS];
  const chunk = 500;
  for (let start = 0; start < rows.length; start += chunk) {
    const slice = rows.slice(start, start + chunk);
    const placeholders = slice.map(() => `(${columns.map(() => '?').join(', ')})`).join(', ');
    const values = slice.flatMap((row) => columns.map((c) => row[c]));
    await pool.query(
      `INSERT INTO ${ident(dbName)}.${ident(table)} (${columns.map(ident).join(', ')}) VALUES ${placeholders}`,
      values,
    );
  }
}

/** The repository root: the nearest folder above this (bundled) file with a package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no repository root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/**
 * The real lab recordings, copied into the repository with the README that says how each set
 * was made: tests read nothing outside the tree. `asterisk-lab/public` is a real Asterisk
 * behind a FreePBX-like dialplan; `freepbx17-lab` is a real FreePBX 17 (tools/e2e-freepbx);
 * `freepbx17-internal` the same FreePBX's paging, intercom, conference, parking and feature-code calls.
 */
export type LabSet = 'asterisk-lab/public' | 'freepbx17-lab' | 'freepbx17-internal' | 'freepbx17-failovers';

export function fixturesDir(): string {
  const dir = join(repoRoot(), 'test', 'fixtures', 'asterisk-lab');
  if (!existsSync(join(dir, 'public', 'cdr.tsv'))) throw new Error(`Asterisk lab fixtures not found at ${dir} (expected public/cdr.tsv)`);
  return dir;
}

export function labFixturePath(name: string, set: LabSet = 'asterisk-lab/public'): string {
  const file = join(repoRoot(), 'test', 'fixtures', set, name);
  if (!existsSync(file)) throw new Error(`lab fixture ${set}/${name} not found at ${file}`);
  return file;
}

export function fixtureText(name: string, set: LabSet = 'asterisk-lab/public'): string {
  return readFileSync(labFixturePath(name, set), 'utf8');
}

/** The lab's cdr table, row for row, as CdrRows. */
export function loadFixtureCdr(): CdrRow[] {
  return readTsv(fixtureText('cdr.tsv')).map((record) => toCdrRow(record));
}
