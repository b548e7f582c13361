import type { RowDataPacket } from 'mysql2/promise';
import { CDR_COLUMNS } from '../cdr/row.js';
import type { Config } from '../config/schema.js';
import { MIGRATIONS, schemaVersion } from '../db/migrations.js';
import { explainAccessDenied, ident, serverOf } from '../db/pool.js';
import { amiConfigured } from '../pbx/ami.js';
import { measureSkewMs } from '../sync/pbx-clock.js';
import { result, text, type CheckResult, type DoctorContext } from './check.js';
import { checkVitalpbx } from './vitalpbx.js';
import { checkCluster } from './cluster.js';
import { privilegesOn } from './grants.js';

/**
 * Everything an install needs from the PBX, one result each — ok, warn or fail, and the one
 * thing to do about it. `smc doctor` prints them; the settings page's health panel and
 * FreePBX's Dashboard line show them. Checks read and probe; they never change anything
 * (a missing index is recommended, never created).
 */

export const MIN_NODE_MAJOR = 18;

export function checkNode(ctx: DoctorContext): CheckResult {
  const major = Number(ctx.nodeVersion.split('.')[0]);
  if (major >= MIN_NODE_MAJOR) return result('node', 'ok', text('Node.js {version}', { version: ctx.nodeVersion }));
  return result('node', 'fail', text('Node.js {version} is older than {min}', { version: ctx.nodeVersion, min: MIN_NODE_MAJOR }),
    text('install Node.js {min} or newer beside the system\'s, which pm2 and UCP need as it is: FreePBX 17 / Debian 12: apt-get install nodejs; ' +
      'SNG7 / CentOS 7 (FreePBX 14, 15, 16): the Node.js unofficial-builds project\'s node-v{min}.<x>-linux-x64-glibc-217.tar.xz unpacked into /opt/smc-node; ' +
      'Debian 10 or 11: the official node-v{min}.<x>-linux-x64.tar.xz unpacked into /opt/smc-node ' +
      '(mkdir -p /opt/smc-node && tar -xJf <file> -C /opt/smc-node --strip-components=1); docs/install-freepbx.md, "Node.js on SNG7, Debian 10 and Debian 11"', { min: MIN_NODE_MAJOR }));
}

export async function checkDatabase(ctx: DoctorContext): Promise<CheckResult> {
  const db = ctx.config.db;
  const where = serverOf(db);
  try {
    // The PBX's own server; in a group the cluster's nodes are the cluster checks'.
    const [rows] = await (ctx.cdrPool ?? ctx.pool).query<RowDataPacket[]>('SELECT VERSION() AS v');
    return result('database', 'ok', text('connected to {server} as {user} (MariaDB/MySQL {version}; connection settings from {source})',
      { server: where, user: db.user, version: String(rows[0]?.v), source: db.credentialsFrom }));
  } catch (err) {
    const explained = explainAccessDenied(err, db) as Error;
    return result('database', 'fail',
      explained === err ? text('cannot connect to {server} as {user}: {error}', { server: where, user: db.user, error: explained.message }) : text('{error}', { error: explained.message }),
      'name the whole connection in config.yaml (db.socket or db.host/port, db.user, db.password), or leave all of it out on FreePBX to use /etc/freepbx.conf; and check that MariaDB runs');
  }
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
  // In a group our tables are on the cluster (the cluster grants check): here only the PBX's are read.
  const inGroup = ctx.config.group.nodes.length > 0;
  const [rows] = await (ctx.cdrPool ?? ctx.pool).query<RowDataPacket[]>('SHOW GRANTS FOR CURRENT_USER()');
  const grants = rows.map((r) => String(Object.values(r)[0]));
  const problems: string[] = [];
  // cel too: the sync reads it whenever it is there, and a refused read stops every cycle.
  for (const table of [db.cdrTable, db.celTable]) {
    if (missing(privilegesOn(grants, db.cdrDatabase, table), ['SELECT']).length) problems.push(`SELECT on ${db.cdrDatabase}.${table}`);
  }
  const ownMissing = inGroup ? [] : missing(privilegesOn(grants, db.database), ['SELECT', 'INSERT', 'UPDATE', 'DELETE']);
  if (ownMissing.length) problems.push(`${ownMissing.join(', ')} on ${db.database}`);
  if ((inGroup || db.pbxDatabase !== db.database) && missing(privilegesOn(grants, db.pbxDatabase), ['SELECT']).length) {
    problems.push(`SELECT on ${db.pbxDatabase}`);
  }
  if (problems.length) {
    return result('grants', 'fail', text('{user} lacks {privileges}', { user: db.user, privileges: problems.join('; ') }),
      text('as the MariaDB root user: GRANT <privileges> ON <database>.* TO \'{user}\'@\'<host>\' for each line above', { user: db.user }));
  }
  if (inGroup) {
    return result('grants', 'ok', text('{user} may read {cdr} and {pbx}; our tables are on the group\'s cluster', { user: db.user, cdr: `${db.cdrDatabase}.${db.cdrTable}`, pbx: db.pbxDatabase }));
  }
  const own = privilegesOn(grants, db.database);
  const beyond = own.has('ALL') ? ['ALL'] : BEYOND_SERVICE.filter((p) => own.has(p));
  if (beyond.length) {
    return result('grants', 'warn',
      text('{user} holds {privileges} on {database}: whoever uses it can drop the audit journal\'s triggers and rewrite or drop our tables (the keyed chain still shows a rewrite)',
        { user: db.user, privileges: beyond.join(', '), database: db.database }),
      text('run the service as a user with only {grants} (docs/security.md, "Database privileges")',
        { grants: serviceGrants(db).map((g) => `${g.privileges.join(', ')} ON ${g.on}`).join('; ') }));
  }
  return result('grants', 'ok', text('{user} may read {cdr} and the rows of our tables in {database}, and no more there',
    { user: db.user, cdr: `${db.cdrDatabase}.${db.cdrTable}`, database: db.database }));
}

/** Without these a call cannot be grouped, ordered or judged; every other column may be absent. */
const REQUIRED_CDR_COLUMNS = new Set(['calldate', 'src', 'dst', 'channel', 'dstchannel', 'lastapp', 'duration', 'billsec', 'disposition', 'uniqueid', 'linkedid']);

export async function checkCdrTable(ctx: DoctorContext): Promise<CheckResult[]> {
  const db = ctx.config.db;
  const name = `${db.cdrDatabase}.${db.cdrTable}`;
  const [columns] = await (ctx.cdrPool ?? ctx.pool).query<RowDataPacket[]>(
    'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [db.cdrDatabase, db.cdrTable],
  );
  if (columns.length === 0) {
    return [result('cdr table', 'fail', text('{table} does not exist or cannot be seen by {user}', { table: name, user: db.user }),
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
    ? result('cdr columns', 'fail', text('{table} lacks {columns}: calls cannot be grouped or timed', { table: name, columns: missingRequired.join(', ') }), fix)
    : absent.length
      // The reader fills absent optional columns with '' (VitalPBX has no cnum/cnam, old FreePBX no sequence).
      ? result('cdr columns', ctx.config.pbx === 'freepbx' ? 'warn' : 'ok',
        text('{table} lacks {columns}; read as empty (caller names and outbound caller ids may be missing)', { table: name, columns: absent.join(', ') }),
        ctx.config.pbx === 'freepbx' ? fix : '')
      : result('cdr columns', 'ok', text('{table} has every column we read', { table: name })));

  const [indexes] = await (ctx.cdrPool ?? ctx.pool).query<RowDataPacket[]>(
    `SELECT DISTINCT COLUMN_NAME AS c FROM information_schema.STATISTICS
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND SEQ_IN_INDEX = 1`,
    [db.cdrDatabase, db.cdrTable],
  );
  const leading = new Set(indexes.map((r) => String(r.c).toLowerCase()));
  const unindexed = ['calldate', 'linkedid'].filter((c) => have.has(c) && !leading.has(c));
  out.push(unindexed.length
    ? result('cdr indexes', 'warn', text('{table} has no index starting with {columns}; reading works, but slower on big tables', { table: name, columns: unindexed.join(', ') }),
      text('when the PBX is quiet: {statements} (we never change the PBX\'s tables ourselves)',
        { statements: unindexed.map((c) => `ALTER TABLE ${ident(db.cdrDatabase)}.${ident(db.cdrTable)} ADD INDEX ${ident(c)} (${ident(c)});`).join(' ') }))
    : result('cdr indexes', 'ok', text('{table} has indexes on calldate and linkedid', { table: name })));
  return out;
}

/** Asterisk reads [general] of cdr.conf and, on FreePBX, the two files it includes; the last setting wins. */
const CDR_CONF_FILES = ['cdr.conf', 'cdr_general_additional.conf', 'cdr_general_custom.conf'];

/** Whether Asterisk writes a CDR row for channels that were never answered (cdr.conf unanswered=, default no). */
export function unansweredCdrOn(ctx: DoctorContext): boolean {
  let on = false;
  for (const file of CDR_CONF_FILES) {
    const content = ctx.readText(`${ctx.asteriskEtc}/${file}`) ?? '';
    for (const m of content.matchAll(/^[ \t]*unanswered[ \t]*=[ \t]*(\S+)/gim)) on = /^(yes|true|y|t|1|on)$/i.test(m[1]!);
  }
  return on;
}

/** CEL writes about this many rows per call (CHAN_START, ANSWER, APP_START/END, BRIDGE_*, HANGUP, CHAN_END for each channel, LINKEDID_END). */
const CEL_ROWS_PER_CALL = 20;

export async function checkCel(ctx: DoctorContext): Promise<CheckResult> {
  const db = ctx.config.db;
  let enabled: boolean | null = null;
  try {
    const [rows] = await (ctx.cdrPool ?? ctx.pool).query<RowDataPacket[]>(
      `SELECT value FROM ${ident(db.pbxDatabase)}.freepbx_settings WHERE keyword = 'CEL_ENABLED'`,
    );
    if (rows.length) enabled = ['1', 'true', 'yes'].includes(String(rows[0]!.value).toLowerCase());
  } catch {
    // Not FreePBX (no freepbx_settings): the cel table alone tells.
  }
  let latest: string | null = null;
  try {
    const [rows] = await (ctx.cdrPool ?? ctx.pool).query<RowDataPacket[]>(
      `SELECT eventtime FROM ${ident(db.cdrDatabase)}.${ident(db.celTable)} ORDER BY id DESC LIMIT 1`,
    );
    latest = rows.length ? String(rows[0]!.eventtime) : null;
  } catch {
    latest = null;
  }
  if (enabled === false) return celOff(ctx);
  if (latest === null) {
    return result('cel', enabled ? 'warn' : 'ok', enabled ? 'CEL_ENABLED is on but the cel table has no events' : 'no CEL events; CDR alone is enough',
      enabled ? 'fwconsole reload, then place a test call; check that Asterisk loads cel_odbc / cel_custom' : '');
  }
  return result('cel', 'ok', text('CEL events are recorded (latest {time})', { time: latest }));
}

/**
 * CEL off on FreePBX: say which misses cannot be seen, and what each way of seeing them
 * costs the PBX, sized by the last day's traffic (the calldate index makes that cheap).
 */
async function celOff(ctx: DoctorContext): Promise<CheckResult> {
  const db = ctx.config.db;
  const [[day]] = (await (ctx.cdrPool ?? ctx.pool).query<RowDataPacket[]>(
    `SELECT COUNT(DISTINCT linkedid) AS calls, COUNT(*) AS cdr_rows FROM ${ident(db.cdrDatabase)}.${ident(db.cdrTable)}
      WHERE calldate >= NOW() - INTERVAL 1 DAY`,
  )) as unknown as [[{ calls: number; cdr_rows: number }]];
  const calls = Number(day.calls);
  const cost = calls > 0
    ? text('turn CEL on: Advanced Settings, "Enable CEL Reporting" (CEL_ENABLED) to Yes, then Apply Config; it writes about {perCall} rows per call to {cel} (about {celRows} rows a day at the last day\'s {calls} calls). Or, for the unanswered calls only: unanswered=yes in {file}, then fwconsole reload; one more cdr row per phone rung and not answered, on top of the last day\'s {cdrRows} cdr rows',
      { perCall: CEL_ROWS_PER_CALL, cel: `${db.cdrDatabase}.${db.celTable}`, celRows: calls * CEL_ROWS_PER_CALL, calls, file: `${ctx.asteriskEtc}/cdr_general_custom.conf`, cdrRows: Number(day.cdr_rows) })
    : text('turn CEL on: Advanced Settings, "Enable CEL Reporting" (CEL_ENABLED) to Yes, then Apply Config; it writes about {perCall} rows per call to {cel}. Or, for the unanswered calls only: unanswered=yes in {file}, then fwconsole reload; one more cdr row per phone rung and not answered',
      { perCall: CEL_ROWS_PER_CALL, cel: `${db.cdrDatabase}.${db.celTable}`, file: `${ctx.asteriskEtc}/cdr_general_custom.conf` });
  if (unansweredCdrOn(ctx)) {
    return result('cel', 'ok', 'CEL is off and unanswered CDR is on: a call that never reaches a phone still leaves a cdr row; a queue whose maximum wait sends the caller to its failover still shows only the failover, not the queue', cost);
  }
  return result('cel', 'warn',
    'CEL is off, so some misses cannot be seen: a call that never reaches a Dial (an extension on Do Not Disturb, or busy, with no voicemail behind it) leaves no cdr row at all, because FreePBX has Asterisk write CDR with unanswered=no; and a queue whose maximum wait sends the caller to its failover leaves a row that names only the failover, so the wait in the queue is lost',
    cost);
}

export async function checkAmi(ctx: DoctorContext): Promise<CheckResult> {
  const ami = ctx.config.ami;
  if (!amiConfigured(ami)) {
    return result('ami', 'warn', 'AMI is not configured: click-to-call-back is off, and missed calls reach the list by polling (2-3 s after the hang-up instead of under 1 s)', 'set ami.host, ami.user, ami.secret in config.yaml (FreePBX: AMPMGRUSER / AMPMGRPASS)');
  }
  try {
    const banner = await ctx.probeAmi(ami);
    // The service logs in the same way for its call events; its log says when they flow ("AMI call events: logged in").
    return result('ami', 'ok', text('logged in to {server} as {user} ({banner}); smc serve takes call ends from its events', { server: `${ami.host}:${ami.port}`, user: ami.user, banner }));
  } catch (err) {
    return result('ami', 'fail', text('{error}', { error: (err as Error).message }), 'check ami.* in config.yaml against /etc/asterisk/manager.conf (and manager_custom.conf)');
  }
}

export async function checkMail(ctx: DoctorContext): Promise<CheckResult> {
  const mail = ctx.config.mail;
  if (mail.transport === 'none') {
    return result('mail', 'warn', 'mail.transport is none: no digest or alert e-mail is sent', 'set mail.transport to sendmail or smtp');
  }
  if (mail.transport === 'sendmail') {
    return ctx.isExecutable(mail.sendmailPath)
      ? result('mail', 'ok', text('sendmail at {path}', { path: mail.sendmailPath }))
      : result('mail', 'fail', text('{path} is missing or not executable', { path: mail.sendmailPath }), 'install a mail transfer agent (postfix) or set mail.transport: smtp');
  }
  const problem = await ctx.tcpProbe(mail.host, mail.port);
  const server = `${mail.host}:${mail.port}`;
  return problem === null
    ? result('mail', 'ok', text('SMTP server {server} answers', { server }))
    : result('mail', 'fail', text('SMTP server {server}: {error}', { server, error: problem }), 'check mail.host / mail.port and the firewall');
}

export async function checkSchema(ctx: DoctorContext): Promise<CheckResult> {
  const latest = Math.max(...MIGRATIONS.map((m) => m.version));
  const current = await schemaVersion(ctx.pool);
  return current >= latest
    ? result('schema', 'ok', text('our tables are at version {version}', { version: current }))
    : result('schema', 'fail', text('our tables are at version {version}, this build needs {needed}', { version: current, needed: latest }), 'smc migrate');
}

/**
 * From a shell: FreePBX's `fwconsole pm2 --list` table (absent fwconsole means not FreePBX),
 * or systemd on VitalPBX. From inside the service, which is running if it asks: whether
 * pm2 or systemd will start it again after a crash or a reboot.
 */
export async function checkService(ctx: DoctorContext): Promise<CheckResult> {
  const supervisor = ctx.config.pbx === 'vitalpbx' ? 'systemd' : 'pm2';
  if (ctx.insideService) {
    return ctx.insideService.supervisor === supervisor
      ? result('service', 'ok', text('this service runs under {supervisor}', { supervisor }))
      : result('service', 'warn', text('this service was not started by {supervisor}: nothing starts it again after a crash or a reboot', { supervisor }),
        supervisor === 'pm2' ? 'stop this one, then: fwconsole start smartmissedcalls' : 'stop this one, then: systemctl enable --now smartmissedcalls');
  }
  if (ctx.config.pbx === 'vitalpbx') {
    const active = await ctx.run('systemctl', ['is-active', 'smartmissedcalls']);
    if (active.code === null) return result('service', 'ok', 'systemctl not found: service not checked');
    const state = active.stdout.trim();
    return state === 'active'
      ? result('service', 'ok', 'smartmissedcalls runs under systemd')
      : result('service', 'fail', state ? text('smartmissedcalls is {state} under systemd', { state }) : 'smartmissedcalls is not running under systemd',
        'systemctl restart smartmissedcalls; journalctl -u smartmissedcalls shows why it stopped');
  }
  const listed = await ctx.run('fwconsole', ['pm2', '--list']);
  if (listed.code === null) return result('service', 'ok', 'fwconsole not found: not a FreePBX box, pm2 not checked');
  if (listed.code !== 0) return result('service', 'warn', 'fwconsole pm2 --list failed', 'run it as root to see why');
  const row = listed.stdout.split('\n').find((line) => /^\|\s*smartmissedcalls\s*\|/.test(line));
  const status = row?.split('|')[3]?.trim();
  if (status === 'online') return result('service', 'ok', 'smartmissedcalls runs under pm2');
  return row
    ? result('service', 'fail', text('smartmissedcalls is {state} under pm2', { state: status ?? '' }), 'fwconsole pm2 --restart smartmissedcalls; fwconsole pm2 --log smartmissedcalls shows why it stopped')
    : result('service', 'fail', 'smartmissedcalls is not known to pm2', 'fwconsole start smartmissedcalls');
}

/** Seconds between two of the database's naive 'YYYY-MM-DD HH:MM:SS' times. */
function secondsBetween(from: string, to: string): number {
  return (Date.parse(to.replace(' ', 'T') + 'Z') - Date.parse(from.replace(' ', 'T') + 'Z')) / 1000;
}

/** Beyond this, two clocks or a CDR row's time are wrong rather than slow. */
const CLOCK_TOLERANCE_S = 60;

/**
 * The service times settling and lag by the database's clock, and CDR times are the PBX's
 * wall clock: the database and this machine must agree, and no CDR row may lie in the
 * future (a CDR written in UTC, CDRUSEGMT, on a PBX west of Greenwich does).
 */
export async function checkClock(ctx: DoctorContext, nowMs: number = Date.now()): Promise<CheckResult> {
  const db = ctx.config.db;
  const [[clock]] = (await (ctx.cdrPool ?? ctx.pool).query<RowDataPacket[]>(
    `SELECT UNIX_TIMESTAMP(NOW(3)) AS epoch, NOW() AS now, @@system_time_zone AS zone,
            (SELECT MAX(calldate) FROM ${ident(db.cdrDatabase)}.${ident(db.cdrTable)}) AS newest`,
  )) as unknown as [[{ epoch: string; now: string; zone: string; newest: string | null }]];
  const skew = Math.round(Number(clock.epoch) - nowMs / 1000);
  if (Math.abs(skew) > CLOCK_TOLERANCE_S) {
    return result('clock', 'fail', text('the database server\'s clock and this machine\'s differ by {seconds} s', { seconds: skew }),
      'keep both clocks on NTP: timedatectl set-ntp true (on each machine), then check timedatectl');
  }
  const ahead = clock.newest ? Math.round(secondsBetween(String(clock.now), String(clock.newest))) : 0;
  if (ahead > CLOCK_TOLERANCE_S) {
    return result('clock', 'fail',
      text('the newest cdr row ({time}) is {seconds} s ahead of the database clock ({now}, time zone {zone}): calls would wait that long to be classified', { time: String(clock.newest), seconds: ahead, now: String(clock.now), zone: String(clock.zone) }),
      'write CDR in the PBX\'s local time (FreePBX: Advanced Settings, "Use GMT for CDR" (CDRUSEGMT) to No) or give MariaDB the PBX\'s time zone (default-time-zone in its configuration)');
  }
  return result('clock', 'ok', text('the database clock ({now}, time zone {zone}) agrees with this machine\'s and with the CDR', { now: String(clock.now), zone: String(clock.zone) }));
}

/** Over this, a group member's clock is told to be fixed: the skew is corrected, but it keeps drifting between measurements. */
export const GROUP_SKEW_TOLERANCE_S = 5;

/**
 * A group member's clock against the ledger cluster's: calls of the group are compared on the
 * cluster's clock, each PBX's corrected by the skew its sync measures (docs/group.md, "Time").
 * Only in a group: a single PBX's CDR and ledger are one server.
 */
export async function checkGroupClock(ctx: DoctorContext): Promise<CheckResult[]> {
  if (ctx.config.group.nodes.length === 0 || !ctx.cdrPool || ctx.cdrPool === ctx.pool) return [];
  const skew = (await measureSkewMs(ctx.cdrPool, ctx.pool)) / 1000;
  const params = { seconds: skew.toFixed(1), pbx: ctx.config.pbxId };
  if (Math.abs(skew) > GROUP_SKEW_TOLERANCE_S) {
    return [result('group clock', 'warn', text('this PBX\'s clock ({pbx}) and the group cluster\'s differ by {seconds} s; clearing across the PBXs corrects it, but it drifts between measurements', params),
      'keep the PBXs and the cluster\'s nodes on NTP: timedatectl set-ntp true (on each machine), then check timedatectl')];
  }
  return [result('group clock', 'ok', text('this PBX\'s clock ({pbx}) and the group cluster\'s differ by {seconds} s', params))];
}

export async function checkSync(ctx: DoctorContext): Promise<CheckResult[]> {
  const [rows] = await ctx.pool.query<RowDataPacket[]>(
    `SELECT NOW() AS now, (SELECT v FROM smart_missed_calls_state WHERE pbx = @smc_pbx AND k = 'last_cycle') AS last_cycle,
            (SELECT v FROM smart_missed_calls_state WHERE pbx = @smc_pbx AND k = 'cdr_cursor') AS cursor_at`,
  );
  const { now, last_cycle: lastCycle, cursor_at: cursor } = rows[0] as { now: string; last_cycle: string | null; cursor_at: string | null };
  const start = ctx.config.pbx === 'vitalpbx' ? 'systemctl restart smartmissedcalls' : 'fwconsole start smartmissedcalls';
  if (!lastCycle) {
    return [result('last cycle', 'warn', 'no sync cycle has run yet', text('start the service: {command}', { command: start }))];
  }
  const age = Math.max(0, Math.round(secondsBetween(lastCycle, String(now))));
  const interval = ctx.config.sync.intervalSeconds;
  // A cycle is due every interval; a few missed ones are a busy database, minutes are a stopped sync.
  const out = [age <= Math.max(30, 5 * interval)
    ? result('last cycle', 'ok', text('the last sync cycle ran {seconds} s ago', { seconds: age }))
    : result('last cycle', age <= 600 ? 'warn' : 'fail', text('the last sync cycle ran {seconds} s ago (one is due every {interval} s): new calls are not being classified', { seconds: age, interval }),
      text('smc status and the service\'s log say why; if the service is stopped: {command}', { command: start }))];
  if (cursor) {
    const lag = Math.max(0, Math.round(secondsBetween(cursor, lastCycle)));
    const allowed = ctx.config.sync.settleSeconds + 60;
    out.push(lag <= allowed
      ? result('sync lag', 'ok', text('the sync is {seconds} s behind the newest calls', { seconds: lag }))
      : result('sync lag', 'warn', text('the sync is {seconds} s behind the newest calls: a call is still waiting to settle, or the database is slow', { seconds: lag }),
        'smc status shows the cursor; smc explain on that call\'s rows shows why it waits'));
  }
  return out;
}

/** Notifications of the reader's tenant (every tenant's in a shell) that are late, retrying or given up. */
export async function checkNotifications(ctx: DoctorContext): Promise<CheckResult> {
  const tenant = ctx.tenant;
  const [rows] = await ctx.pool.query<RowDataPacket[]>(
    `SELECT
       (SELECT COUNT(*) FROM smart_missed_calls_outbox WHERE pbx = @smc_pbx AND status = 'pending' AND created_at < NOW() - INTERVAL 5 MINUTE AND (? IS NULL OR tenant = ?)) AS late,
       (SELECT COUNT(*) FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND status IN ('pending', 'sending') AND last_error IS NOT NULL AND (? IS NULL OR tenant = ?)) AS retrying,
       (SELECT COUNT(*) FROM smart_missed_calls_deliveries WHERE pbx = @smc_pbx AND status = 'dead' AND created_at >= NOW() - INTERVAL 7 DAY AND (? IS NULL OR tenant = ?)) AS dead`,
    [tenant, tenant, tenant, tenant, tenant, tenant],
  );
  const late = Number(rows[0]!.late);
  const retrying = Number(rows[0]!.retrying);
  const dead = Number(rows[0]!.dead);
  const failures = `smc deliveries --failures${tenant ? ` --tenant ${tenant}` : ''}`;
  if (dead > 0) {
    return result('notifications', 'fail', text('{dead} mails or webhooks were given up in the last 7 days, {retrying} are being retried', { dead, retrying }),
      text('check the recipients and webhooks in the settings, and the mail server; {command} shows each error', { command: failures }));
  }
  if (retrying > 0) {
    return result('notifications', 'warn', text('{retrying} mails or webhooks failed and are being retried', { retrying }),
      text('check the recipients and webhooks in the settings, and the mail server; {command} shows each error', { command: failures }));
  }
  if (late > 0) {
    return result('notifications', 'warn', text('{late} notification events have waited more than 5 minutes to be sent', { late }),
      text('the sender runs in the service: check that it runs ({command}) and its log', { command: ctx.config.pbx === 'vitalpbx' ? 'systemctl status smartmissedcalls' : 'fwconsole pm2 --list' }));
  }
  return result('notifications', 'ok', 'no notification is late, retrying or given up');
}

/**
 * One check of the list. `scope` says whose it is: 'pbx' checks are about the PBX and the
 * service (a VitalPBX tenant admin sees only how many need attention), 'tenant' checks look
 * at the reader's tenant's own rows.
 */
export interface HealthCheck {
  /** Names the check when it cannot run at all. */
  id: string;
  scope: 'pbx' | 'tenant';
  needsDatabase: boolean;
  run(ctx: DoctorContext): Promise<CheckResult[]>;
}

export type ScopedResult = CheckResult & { scope: HealthCheck['scope'] };

const one = (check: (ctx: DoctorContext) => CheckResult | Promise<CheckResult>) => async (ctx: DoctorContext) => [await check(ctx)];

/** Every check, in the order they are shown. */
export const CHECKS: readonly HealthCheck[] = [
  { id: 'node', scope: 'pbx', needsDatabase: false, run: one(checkNode) },
  { id: 'database', scope: 'pbx', needsDatabase: false, run: one(checkDatabase) },
  { id: 'grants', scope: 'pbx', needsDatabase: true, run: one(checkGrants) },
  { id: 'cdr table', scope: 'pbx', needsDatabase: true, run: checkCdrTable },
  { id: 'cel', scope: 'pbx', needsDatabase: true, run: one(checkCel) },
  { id: 'schema', scope: 'pbx', needsDatabase: true, run: one(checkSchema) },
  { id: 'vitalpbx', scope: 'pbx', needsDatabase: true, run: async (ctx) => (ctx.config.pbx === 'vitalpbx' ? checkVitalpbx(ctx) : []) },
  { id: 'clock', scope: 'pbx', needsDatabase: true, run: one((ctx) => checkClock(ctx)) },
  { id: 'cluster', scope: 'pbx', needsDatabase: false, run: checkCluster },
  { id: 'group clock', scope: 'pbx', needsDatabase: true, run: checkGroupClock },
  { id: 'sync', scope: 'pbx', needsDatabase: true, run: checkSync },
  { id: 'notifications', scope: 'tenant', needsDatabase: true, run: one(checkNotifications) },
  { id: 'ami', scope: 'pbx', needsDatabase: false, run: one(checkAmi) },
  { id: 'mail', scope: 'pbx', needsDatabase: false, run: one(checkMail) },
  { id: 'service', scope: 'pbx', needsDatabase: false, run: one(checkService) },
];

/**
 * Every check in order; after a failed connection the checks that need the database are
 * skipped. A check that throws (a query refused) is a failed check, not a failed run.
 */
export async function runChecks(ctx: DoctorContext, checks: readonly HealthCheck[] = CHECKS): Promise<ScopedResult[]> {
  const out: ScopedResult[] = [];
  let databaseDown = false;
  for (const check of checks) {
    if (check.needsDatabase && databaseDown) continue;
    let results: CheckResult[];
    try {
      results = await check.run(ctx);
    } catch (err) {
      results = [result(check.id, 'fail', text('this check could not run: {error}', { error: (err as Error).message }),
        'the grants check says what the database refuses; smc doctor in a shell shows the same')];
    }
    if (results.some((r) => r.check === 'database' && r.level === 'fail')) databaseDown = true;
    out.push(...results.map((r) => ({ ...r, scope: check.scope })));
  }
  return out;
}
