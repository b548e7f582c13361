import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Command } from 'commander';
import type { RowDataPacket } from 'mysql2/promise';
import { CDR_COLUMNS } from '../cdr/row.js';
import type { Config } from '../config/schema.js';
import { MIGRATIONS, schemaVersion } from '../db/migrations.js';
import { explainAccessDenied, ident, serverOf } from '../db/pool.js';
import { amiConfigured, probeAmi } from '../pbx/ami.js';
import { withApp } from './context.js';
import { result, type CheckResult, type DoctorContext, type Level } from './doctor-check.js';
import { checkVitalpbx } from './doctor-vitalpbx.js';

export type { CheckResult, DoctorContext, Level };
import { checkPackageFile, PROJECT_PUBLIC_KEY } from './package-check.js';

/**
 * `smc doctor`: everything an install needs from the PBX, one line each — ok, warn or
 * fail, and what to do about it. Checks read and probe; they never change anything
 * (a missing index is recommended, never created).
 */


export const MIN_NODE_MAJOR = 18;


export function checkNode(ctx: DoctorContext): CheckResult {
  const major = Number(ctx.nodeVersion.split('.')[0]);
  if (major >= MIN_NODE_MAJOR) return result('node', 'ok', `Node.js ${ctx.nodeVersion}`);
  return result('node', 'fail', `Node.js ${ctx.nodeVersion} is older than ${MIN_NODE_MAJOR}`,
    `install Node.js ${MIN_NODE_MAJOR} or newer beside the system's, which pm2 and UCP need as it is: FreePBX 17 / Debian 12: apt-get install nodejs; ` +
      `SNG7 / CentOS 7 (FreePBX 14, 15, 16): the Node.js unofficial-builds project's node-v${MIN_NODE_MAJOR}.<x>-linux-x64-glibc-217.tar.xz unpacked into /opt/smc-node; ` +
      `Debian 10 or 11: the official node-v${MIN_NODE_MAJOR}.<x>-linux-x64.tar.xz unpacked into /opt/smc-node ` +
      '(mkdir -p /opt/smc-node && tar -xJf <file> -C /opt/smc-node --strip-components=1); docs/install-freepbx.md, "Node.js on SNG7, Debian 10 and Debian 11"');
}

export async function checkDatabase(ctx: DoctorContext): Promise<CheckResult> {
  const db = ctx.config.db;
  const where = serverOf(db);
  try {
    const [rows] = await ctx.pool.query<RowDataPacket[]>('SELECT VERSION() AS v');
    return result('database', 'ok',
      `connected to ${where} as ${db.user} (MariaDB/MySQL ${String(rows[0]?.v)}; connection settings from ${db.credentialsFrom})`);
  } catch (err) {
    const explained = explainAccessDenied(err, db) as Error;
    return result('database', 'fail', explained === err ? `cannot connect to ${where} as ${db.user}: ${explained.message}` : explained.message,
      'name the whole connection in config.yaml (db.socket or db.host/port, db.user, db.password), or leave all of it out on FreePBX to use /etc/freepbx.conf; and check that MariaDB runs');
  }
}

/**
 * Privileges the connected user holds on a database (and optionally one table of it),
 * from SHOW GRANTS: global, database-level (with its % and _ wildcards) and table-level.
 */
export function privilegesOn(grants: string[], database: string, table?: string): Set<string> {
  const held = new Set<string>();
  for (const grant of grants) {
    const m = /^GRANT (.+?) ON (\S+) TO /i.exec(grant);
    if (!m) continue;
    const [dbPart, tablePart] = splitTarget(m[2]!);
    const dbMatches = dbPart === '*' || likePattern(dbPart).test(database);
    const tableMatches = tablePart === '*' || (table !== undefined && tablePart === table);
    if (!dbMatches || !tableMatches) continue;
    for (const raw of m[1]!.split(',')) {
      const privilege = raw.trim().toUpperCase();
      if (privilege.includes('(')) continue; // column-level: not enough for our queries
      if (privilege === 'ALL' || privilege === 'ALL PRIVILEGES') held.add('ALL');
      else held.add(privilege);
    }
  }
  return held;
}

function splitTarget(target: string): [string, string] {
  const parts = target.match(/(`(?:[^`]|``)*`|\*|[^.`]+)/g) ?? [];
  const unquote = (p: string) => (p.startsWith('`') ? p.slice(1, -1).replace(/``/g, '`') : p);
  return [unquote(parts[0] ?? ''), unquote(parts[1] ?? '*')];
}

function likePattern(dbPattern: string): RegExp {
  let re = '';
  for (let i = 0; i < dbPattern.length; i++) {
    const c = dbPattern[i]!;
    if (c === '\\' && i + 1 < dbPattern.length) re += escapeRegex(dbPattern[++i]!);
    else if (c === '%') re += '.*';
    else if (c === '_') re += '.';
    else re += escapeRegex(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function missing(held: Set<string>, needed: string[]): string[] {
  return held.has('ALL') ? [] : needed.filter((p) => !held.has(p));
}

/**
 * What the running service needs, and nothing more (docs/security.md): it reads the PBX's
 * tables and reads and writes the rows of ours. Creating and changing our tables (CREATE,
 * ALTER, INDEX, TRIGGER, DROP) is `smc migrate`'s, run at install by a user that may.
 */
export function serviceGrants(db: Config['db']): { privileges: string[]; on: string }[] {
  return [
    { privileges: ['SELECT'], on: `${db.cdrDatabase}.${db.cdrTable}` },
    { privileges: ['SELECT'], on: `${db.cdrDatabase}.${db.celTable}` },
    { privileges: ['SELECT'], on: `${db.pbxDatabase}.*` },
    { privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'], on: `${db.database}.*` },
  ];
}

/** Held on our tables, these let the service's user drop the journal's triggers or the journal itself. */
const BEYOND_SERVICE = ['TRIGGER', 'DROP', 'ALTER'];

export async function checkGrants(ctx: DoctorContext): Promise<CheckResult> {
  const db = ctx.config.db;
  const [rows] = await ctx.pool.query<RowDataPacket[]>('SHOW GRANTS FOR CURRENT_USER()');
  const grants = rows.map((r) => String(Object.values(r)[0]));
  const problems: string[] = [];
  const cdrMissing = missing(privilegesOn(grants, db.cdrDatabase, db.cdrTable), ['SELECT']);
  if (cdrMissing.length) problems.push(`SELECT on ${db.cdrDatabase}.${db.cdrTable}`);
  const ownMissing = missing(privilegesOn(grants, db.database), ['SELECT', 'INSERT', 'UPDATE', 'DELETE']);
  if (ownMissing.length) problems.push(`${ownMissing.join(', ')} on ${db.database}`);
  if (db.pbxDatabase !== db.database && missing(privilegesOn(grants, db.pbxDatabase), ['SELECT']).length) {
    problems.push(`SELECT on ${db.pbxDatabase}`);
  }
  if (problems.length) {
    return result('grants', 'fail', `${db.user} lacks ${problems.join('; ')}`,
      `as the MariaDB root user: GRANT <privileges> ON <database>.* TO '${db.user}'@'<host>' for each line above`);
  }
  const own = privilegesOn(grants, db.database);
  const beyond = own.has('ALL') ? ['ALL'] : BEYOND_SERVICE.filter((p) => own.has(p));
  if (beyond.length) {
    return result('grants', 'warn', `${db.user} holds ${beyond.join(', ')} on ${db.database}: whoever uses it can drop the audit journal's triggers and rewrite or drop our tables (the keyed chain still shows a rewrite)`,
      `run the service as a user with only ${serviceGrants(db).map((g) => `${g.privileges.join(', ')} ON ${g.on}`).join('; ')} (docs/security.md, "Database privileges")`);
  }
  return result('grants', 'ok', `${db.user} may read ${db.cdrDatabase}.${db.cdrTable} and the rows of our tables in ${db.database}, and no more there`);
}

export async function checkCdrTable(ctx: DoctorContext): Promise<CheckResult[]> {
  const db = ctx.config.db;
  const name = `${db.cdrDatabase}.${db.cdrTable}`;
  const [columns] = await ctx.pool.query<RowDataPacket[]>(
    'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [db.cdrDatabase, db.cdrTable],
  );
  if (columns.length === 0) {
    return [result('cdr table', 'fail', `${name} does not exist or cannot be seen by ${db.user}`,
      'check db.cdr_database / db.cdr_table (FreePBX: CDRDBNAME, CDRDBTABLENAME in Advanced Settings) and the grants')];
  }
  const have = new Set(columns.map((r) => String(r.c).toLowerCase()));
  const absent = CDR_COLUMNS.filter((c) => !have.has(c));
  const missingRequired = absent.filter((c) => REQUIRED_CDR_COLUMNS.has(c));
  const out: CheckResult[] = [];
  const fix = ctx.config.pbx === 'freepbx'
    ? 'FreePBX\'s cdr module adds these columns: fwconsole ma install cdr (or upgrade it), then fwconsole reload'
    : 'the PBX\'s CDR backend must write these columns';
  out.push(missingRequired.length
    ? result('cdr columns', 'fail', `${name} lacks ${missingRequired.join(', ')}: calls cannot be grouped or timed`, fix)
    : absent.length
      // The reader fills absent optional columns with '' (VitalPBX has no cnum/cnam, old FreePBX no sequence).
      ? result('cdr columns', ctx.config.pbx === 'freepbx' ? 'warn' : 'ok', `${name} lacks ${absent.join(', ')}; read as empty (caller names and outbound caller ids may be missing)`, ctx.config.pbx === 'freepbx' ? fix : '')
      : result('cdr columns', 'ok', `${name} has every column we read`));

  const [indexes] = await ctx.pool.query<RowDataPacket[]>(
    `SELECT DISTINCT COLUMN_NAME AS c FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND SEQ_IN_INDEX = 1`,
    [db.cdrDatabase, db.cdrTable],
  );
  const leading = new Set(indexes.map((r) => String(r.c).toLowerCase()));
  const unindexed = ['calldate', 'linkedid'].filter((c) => have.has(c) && !leading.has(c));
  out.push(unindexed.length
    ? result('cdr indexes', 'warn', `${name} has no index starting with ${unindexed.join(', ')}; reading works, but slower on big tables`,
      `when the PBX is quiet: ${unindexed.map((c) => `ALTER TABLE ${ident(db.cdrDatabase)}.${ident(db.cdrTable)} ADD INDEX ${ident(c)} (${ident(c)});`).join(' ')} (we never change the PBX's tables ourselves)`)
    : result('cdr indexes', 'ok', `${name} has indexes on calldate and linkedid`));
  return out;
}

export async function checkCel(ctx: DoctorContext): Promise<CheckResult> {
  const db = ctx.config.db;
  let enabled: boolean | null = null;
  try {
    const [rows] = await ctx.pool.query<RowDataPacket[]>(
      `SELECT value FROM ${ident(db.pbxDatabase)}.freepbx_settings WHERE keyword = 'CEL_ENABLED'`,
    );
    if (rows.length) enabled = ['1', 'true', 'yes'].includes(String(rows[0]!.value).toLowerCase());
  } catch {
    // Not FreePBX (no freepbx_settings): the cel table alone tells.
  }
  let latest: string | null = null;
  try {
    const [rows] = await ctx.pool.query<RowDataPacket[]>(
      `SELECT eventtime FROM ${ident(db.cdrDatabase)}.${ident(db.celTable)} ORDER BY id DESC LIMIT 1`,
    );
    latest = rows.length ? String(rows[0]!.eventtime) : null;
  } catch {
    latest = null;
  }
  if (enabled === false) {
    return result('cel', 'ok', 'CEL is off; CDR alone is enough', 'optional: turn on "Enable CEL Reporting" (CEL_ENABLED) in Advanced Settings for exact call ends');
  }
  if (latest === null) {
    return result('cel', enabled ? 'warn' : 'ok', enabled ? 'CEL_ENABLED is on but the cel table has no events' : 'no CEL events; CDR alone is enough',
      enabled ? 'fwconsole reload, then place a test call; check that Asterisk loads cel_odbc / cel_custom' : '');
  }
  return result('cel', 'ok', `CEL events are recorded (latest ${latest})`);
}

export async function checkAmi(ctx: DoctorContext): Promise<CheckResult> {
  const ami = ctx.config.ami;
  if (!amiConfigured(ami)) {
    return result(
      'ami', 'warn', 'AMI is not configured: click-to-call-back is off, and missed calls reach the list by polling (2-3 s after the hang-up instead of under 1 s)',
      'set ami.host, ami.user, ami.secret in config.yaml (FreePBX: AMPMGRUSER / AMPMGRPASS)',
    );
  }
  try {
    const banner = await ctx.probeAmi(ami);
    // The service logs in the same way for its call events; its log says when they flow ("AMI call events: logged in").
    return result('ami', 'ok', `logged in to ${ami.host}:${ami.port} as ${ami.user} (${banner}); smc serve takes call ends from its events`);
  } catch (err) {
    return result('ami', 'fail', (err as Error).message, 'check ami.* in config.yaml against /etc/asterisk/manager.conf (and manager_custom.conf)');
  }
}

export async function checkMail(ctx: DoctorContext): Promise<CheckResult> {
  const mail = ctx.config.mail;
  if (mail.transport === 'none') {
    return result('mail', 'warn', 'mail.transport is none: no digest or alert e-mail is sent', 'set mail.transport to sendmail or smtp');
  }
  if (mail.transport === 'sendmail') {
    return ctx.isExecutable(mail.sendmailPath)
      ? result('mail', 'ok', `sendmail at ${mail.sendmailPath}`)
      : result('mail', 'fail', `${mail.sendmailPath} is missing or not executable`, 'install a mail transfer agent (postfix) or set mail.transport: smtp');
  }
  const problem = await ctx.tcpProbe(mail.host, mail.port);
  return problem === null
    ? result('mail', 'ok', `SMTP server ${mail.host}:${mail.port} answers`)
    : result('mail', 'fail', `SMTP server ${mail.host}:${mail.port}: ${problem}`, 'check mail.host / mail.port and the firewall');
}

export async function checkSchema(ctx: DoctorContext): Promise<CheckResult> {
  const latest = Math.max(...MIGRATIONS.map((m) => m.version));
  const current = await schemaVersion(ctx.pool);
  return current >= latest
    ? result('schema', 'ok', `our tables are at version ${current}`)
    : result('schema', 'fail', `our tables are at version ${current}, this build needs ${latest}`, 'smc migrate');
}

/** Without these a call cannot be grouped, ordered or judged; every other column may be absent. */
const REQUIRED_CDR_COLUMNS = new Set(['calldate', 'src', 'dst', 'channel', 'dstchannel', 'lastapp', 'duration', 'billsec', 'disposition', 'uniqueid', 'linkedid']);

/** Best effort: FreePBX's `fwconsole pm2 --list` table (absent fwconsole means not FreePBX); VitalPBX runs us under systemd. */
export async function checkService(ctx: DoctorContext): Promise<CheckResult> {
  if (ctx.config.pbx === 'vitalpbx') {
    const active = await ctx.run('systemctl', ['is-active', 'smartmissedcalls']);
    if (active.code === null) return result('service', 'ok', 'systemctl not found: service not checked');
    return active.stdout.trim() === 'active'
      ? result('service', 'ok', 'smartmissedcalls runs under systemd')
      : result('service', 'fail', `smartmissedcalls is ${active.stdout.trim() || 'not running'} under systemd`, 'systemctl restart smartmissedcalls; journalctl -u smartmissedcalls shows why it stopped');
  }
  const listed = await ctx.run('fwconsole', ['pm2', '--list']);
  if (listed.code === null) return result('service', 'ok', 'fwconsole not found: not a FreePBX box, pm2 not checked');
  if (listed.code !== 0) return result('service', 'warn', 'fwconsole pm2 --list failed', 'run it as root to see why');
  const row = listed.stdout.split('\n').find((line) => /^\|\s*smartmissedcalls\s*\|/.test(line));
  const status = row?.split('|')[3]?.trim();
  if (status === 'online') return result('service', 'ok', 'smartmissedcalls runs under pm2');
  return result('service', 'fail', row ? `smartmissedcalls is ${status} under pm2` : 'smartmissedcalls is not known to pm2',
    row ? 'fwconsole pm2 --restart smartmissedcalls; fwconsole pm2 --log smartmissedcalls shows why it stopped' : 'fwconsole start smartmissedcalls');
}

/** Every check in order; after a failed connection the database checks are skipped. */
export async function runDoctor(ctx: DoctorContext): Promise<CheckResult[]> {
  const out = [checkNode(ctx)];
  const database = await checkDatabase(ctx);
  out.push(database);
  if (database.level !== 'fail') {
    out.push(await checkGrants(ctx), ...(await checkCdrTable(ctx)), await checkCel(ctx), await checkSchema(ctx));
    if (ctx.config.pbx === 'vitalpbx') out.push(...(await checkVitalpbx(ctx)));
  }
  out.push(await checkAmi(ctx), await checkMail(ctx), await checkService(ctx));
  return out;
}

export function formatResult(r: CheckResult): string {
  return `${r.level.padEnd(4)}  ${r.check}: ${r.message}${r.fix ? `\n      → ${r.fix}` : ''}`;
}

function readPublicKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`--public-key ${path}: ${(err as Error).message}`);
  }
}

function tcpProbe(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 5000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(null);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve('no answer within 5 s');
    });
    socket.once('error', (err) => resolve(err.message));
  });
}

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 30_000 }, (err, stdout) => {
      if (!err) return resolve({ code: 0, stdout });
      const code = err.code === 'ENOENT' ? null : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout: String(stdout) });
    });
  });
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check what the service needs from the PBX: Node, database grants, cdr columns and indexes, CEL, AMI, mail, pm2; with --package, only check a downloaded package before installing it')
    .option('--package <file>', 'check this package tarball against its .sha256 and its .sig (the project\'s release key) and nothing else')
    .option('--public-key <file>', 'with --package: check the signature against this Ed25519 public key (PEM) instead of the release key built in')
    .action(async (opts: { package?: string; publicKey?: string }, command: Command) => {
      if (opts.package !== undefined) {
        const key = opts.publicKey !== undefined
          ? { pem: readPublicKeyFile(opts.publicKey), name: opts.publicKey }
          : { pem: PROJECT_PUBLIC_KEY, name: "the project's release key (keys/smartmissedcalls-release.pub)" };
        const results = checkPackageFile(opts.package, key);
        for (const r of results) process.stdout.write(formatResult(r) + '\n');
        if (results.some((r) => r.level === 'fail')) process.exitCode = 1;
        else process.stdout.write(`${opts.package} is the package its signer released: install it\n`);
        return;
      }
      if (opts.publicKey !== undefined) throw new Error('--public-key goes with --package');
      await withApp(command, async (app) => {
        const results = await runDoctor({
          config: app.config,
          pool: app.pool,
          nodeVersion: process.versions.node,
          probeAmi: (ami) => probeAmi(ami),
          tcpProbe,
          isExecutable: (path) => {
            try {
              accessSync(path, constants.X_OK);
              return true;
            } catch {
              return false;
            }
          },
          run,
        });
        for (const r of results) process.stdout.write(formatResult(r) + '\n');
        if (results.some((r) => r.level === 'fail')) process.exitCode = 1;
      });
    });
}
