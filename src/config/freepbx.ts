import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { DbConfig } from './schema.js';

export const FREEPBX_CONF = '/etc/freepbx.conf';
export const AMPORTAL_CONF = '/etc/amportal.conf';

/** Where MariaDB puts its socket on the distributions FreePBX and VitalPBX run on. */
const LOCAL_SOCKETS = ['/var/lib/mysql/mysql.sock', '/run/mysqld/mysqld.sock', '/var/run/mysqld/mysqld.sock'];

// CDRDBHOST/CDRDBUSER (a CDR database on another server) are not read: the service uses
// one connection for both databases, so such a box needs db settings in config.yaml.
const KEYS = ['AMPDBUSER', 'AMPDBPASS', 'AMPDBHOST', 'AMPDBPORT', 'AMPDBNAME', 'AMPDBSOCK', 'CDRDBNAME', 'CDRDBTABLENAME'] as const;

type AmpConf = Partial<Record<(typeof KEYS)[number], string>>;

export interface DiscoverOptions {
  /** Sockets tried when FreePBX says "localhost" without AMPDBSOCK; tests pass their own. */
  localSockets?: string[];
}

/**
 * The database credentials FreePBX itself uses, so an install needs no credentials file
 * of its own. Like UCP, we let PHP include /etc/freepbx.conf (which on a FreePBX box also
 * bootstraps and fills in Advanced Settings such as CDRDBNAME); where php is missing or
 * fails, its `$amp_conf['KEY'] = 'value';` lines are read directly, and /etc/amportal.conf
 * (the KEY=VALUE copy FreePBX generates for legacy tools) fills what is still missing.
 * Returns null when this is not a FreePBX box.
 *
 * Env: SMC_FREEPBX_CONF and SMC_AMPORTAL_CONF move the files, SMC_PHP names the php binary.
 */
export function discoverFreepbxDb(env: NodeJS.ProcessEnv, options: DiscoverOptions = {}): Partial<DbConfig> | null {
  const confPath = env.SMC_FREEPBX_CONF || FREEPBX_CONF;
  const amportalPath = env.SMC_AMPORTAL_CONF || AMPORTAL_CONF;
  let conf: AmpConf = {};
  const read: string[] = [];
  if (existsSync(confPath)) {
    conf = readWithPhp(confPath, env.SMC_PHP || 'php') ?? parseFreepbxConf(readFileSync(confPath, 'utf8'));
    read.push(confPath);
  }
  if (existsSync(amportalPath)) {
    conf = { ...parseAmportalConf(readFileSync(amportalPath, 'utf8')), ...definedOnly(conf) };
    read.push(amportalPath);
  }
  if (!conf.AMPDBNAME && !conf.AMPDBUSER) return null;
  return { ...toDbConfig(conf, options.localSockets ?? LOCAL_SOCKETS), credentialsFrom: read.join(' + ') };
}

function definedOnly(conf: AmpConf): AmpConf {
  return Object.fromEntries(Object.entries(conf).filter(([, v]) => v !== undefined && v !== '')) as AmpConf;
}

// The include runs inside output buffering and prints from a shutdown function, so what
// bootstrap.php echoes, and a fatal error when bootstrap.php is missing or refuses us,
// still leaves the values freepbx.conf set before it.
const PHP_READER = `
$keys = json_decode($argv[2], true);
register_shutdown_function(function () use ($keys) {
  global $amp_conf;
  while (ob_get_level() > 0) { ob_end_clean(); }
  $out = array();
  foreach ($keys as $k) {
    if (isset($amp_conf[$k]) && is_scalar($amp_conf[$k])) { $out[$k] = (string) $amp_conf[$k]; }
  }
  echo "\\nSMC_AMP_CONF=", json_encode($out), "\\n";
});
ob_start();
$restrict_mods = true;
$bootstrap_settings = array('freepbx_auth' => false, 'skip_astman' => true, 'freepbx_error_handler' => false);
include $argv[1];
`;

function readWithPhp(path: string, php: string): AmpConf | null {
  let stdout: string;
  try {
    stdout = execFileSync(php, ['-d', 'display_errors=0', '-d', 'log_errors=0', '-r', PHP_READER, '--', path, JSON.stringify(KEYS)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 15_000,
    });
  } catch (err) {
    // A fatal error in bootstrap.php exits non-zero after our shutdown function printed.
    stdout = String((err as { stdout?: unknown }).stdout ?? '');
  }
  const line = stdout.split('\n').reverse().find((l) => l.startsWith('SMC_AMP_CONF='));
  if (!line) return null;
  try {
    const parsed = JSON.parse(line.slice('SMC_AMP_CONF='.length)) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    return parsed as AmpConf;
  } catch {
    return null;
  }
}

const PHP_ASSIGNMENT = /^\s*\$amp_conf\s*\[\s*(['"])(\w+)\1\s*\]\s*=\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(\d+))\s*;/;

/** `$amp_conf['KEY'] = 'value';` lines, as FreePBX's installer writes them. */
export function parseFreepbxConf(text: string): AmpConf {
  const conf: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = PHP_ASSIGNMENT.exec(line);
    if (!m) continue;
    const [, , key, single, double, number] = m;
    if (!(KEYS as readonly string[]).includes(key!)) continue;
    if (single !== undefined) conf[key!] = single.replace(/\\(['\\])/g, '$1');
    else if (double !== undefined) conf[key!] = double.replace(/\\(["\\$])/g, '$1');
    else conf[key!] = number!;
  }
  return conf as AmpConf;
}

/** amportal.conf: KEY=VALUE lines, # comments, spaces in values written as "\ ". */
export function parseAmportalConf(text: string): AmpConf {
  const conf: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*(\w+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || !(KEYS as readonly string[]).includes(m[1]!)) continue;
    conf[m[1]!] = m[2]!.replace(/\\ /g, ' ');
  }
  return conf as AmpConf;
}

function toDbConfig(conf: AmpConf, localSockets: string[]): Partial<DbConfig> {
  const db: Partial<DbConfig> = {};
  if (conf.AMPDBUSER) db.user = conf.AMPDBUSER;
  if (conf.AMPDBPASS !== undefined) db.password = conf.AMPDBPASS;
  if (conf.AMPDBHOST) db.host = conf.AMPDBHOST;
  if (conf.AMPDBPORT && /^\d+$/.test(conf.AMPDBPORT)) db.port = Number(conf.AMPDBPORT);
  if (conf.AMPDBNAME) {
    db.database = conf.AMPDBNAME;
    db.pbxDatabase = conf.AMPDBNAME;
  }
  db.cdrDatabase = conf.CDRDBNAME || 'asteriskcdrdb';
  db.cdrTable = conf.CDRDBTABLENAME || 'cdr';
  // PHP's PDO reaches "localhost" through the unix socket; Node's driver would try TCP,
  // which FreePBX boxes with skip-networking refuse. Use the socket PHP would.
  if (conf.AMPDBSOCK) db.socket = conf.AMPDBSOCK;
  else if (!conf.AMPDBHOST || conf.AMPDBHOST === 'localhost') {
    const socket = localSockets.find((path) => existsSync(path));
    if (socket) db.socket = socket;
  }
  return db;
}
