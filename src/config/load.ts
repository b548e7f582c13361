import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { applyConfig, checkGroup, ConfigError, DEFAULT_CONFIG, type Config } from './schema.js';
import { discoverFreepbxDb } from './freepbx.js';
import { vitalpbxDbDefaults } from './vitalpbx.js';

export const DEFAULT_CONFIG_PATH = '/etc/smartmissedcalls/config.yaml';
/**
 * Where a FreePBX install done from the web UI puts it: Module Admin runs as the asterisk
 * user, which may not create /etc/smartmissedcalls, but owns the Asterisk config folder.
 */
export const FREEPBX_CONFIG_PATH = '/etc/asterisk/smartmissedcalls.yaml';

/** The audit key's file name when config.yaml does not name one: next to config.yaml. */
export const AUDIT_KEY_NAME = 'smartmissedcalls-audit.key';

export interface LoadOptions {
  /**
   * --config; else SMC_CONFIG; else the first that exists of SMC_CONFIG_SEARCH (paths
   * separated by ':'; empty = none, which keeps our own test and bench runs from picking
   * up a PBX's config on a developer's machine), by default
   * /etc/smartmissedcalls/config.yaml and /etc/asterisk/smartmissedcalls.yaml.
   */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

function searchPaths(env: NodeJS.ProcessEnv): string[] {
  if (env.SMC_CONFIG_SEARCH === undefined) return [DEFAULT_CONFIG_PATH, FREEPBX_CONFIG_PATH];
  return env.SMC_CONFIG_SEARCH.split(':').filter((p) => p !== '');
}

/** The settings that say which server to reach and as whom. */
const CONNECTION_FIELDS = ['host', 'port', 'socket', 'user', 'password'] as const;

/**
 * Defaults, then the PBX's layer, then config.yaml, then SMC_* environment overrides
 * (SMC_DB_SOCKET, SMC_DB_PASSWORD, SMC_SERVER_LISTEN...). Every layer is validated; the
 * error names the field and file.
 *
 * The connection comes from one source as a whole. When config.yaml or the environment
 * names any of db.host/port/socket/user/password, FreePBX's credentials are not read at
 * all: mixing them would pair an admin's own (least-privilege) user with FreePBX's
 * password, or a private test server's root with it. Only a config silent about the
 * connection borrows FreePBX's, from /etc/freepbx.conf, whole.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const path = options.path ?? env.SMC_CONFIG ?? searchPaths(env).find((p) => existsSync(p));
  const doc = path ? readConfigFile(path) : {};
  const overrides = envOverrides(env);
  const fileNames = namesConnection(doc.db);
  const envNames = namesConnection(overrides.db);
  let config = DEFAULT_CONFIG;
  const pbx = env.SMC_PBX ?? (doc.pbx as string | undefined) ?? DEFAULT_CONFIG.pbx;
  if (pbx === 'freepbx' && !fileNames && !envNames) {
    const discovered = discoverFreepbxDb(env);
    if (discovered) {
      const { credentialsFrom, ...db } = discovered;
      config = withCredentialsFrom(applyConfig(config, { db }), credentialsFrom ?? 'FreePBX');
    }
  } else if (pbx === 'vitalpbx') {
    // Not credentials but VitalPBX's layout (our own user's name, its MariaDB socket):
    // install.sh writes the password into config.yaml.
    config = withCredentialsFrom(applyConfig(config, { pbx, db: vitalpbxDbDefaults() }), 'VitalPBX defaults');
  }
  try {
    config = applyConfig(config, doc);
    config = applyConfig(config, overrides);
    checkGroup(config);
  } catch (err) {
    if (err instanceof ConfigError && path) throw new ConfigError(err.field, '{problem} (in {path})', { problem: err.problem, path });
    throw err;
  }
  if (config.auditKeyFile === '') config = { ...config, auditKeyFile: join(dirname(path ?? DEFAULT_CONFIG_PATH), AUDIT_KEY_NAME) };
  if (fileNames && envNames) return withCredentialsFrom(config, `${path} and SMC_DB_* environment variables`);
  if (fileNames) return withCredentialsFrom(config, path!);
  if (envNames) return withCredentialsFrom(config, 'SMC_DB_* environment variables');
  return config;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config', 'cannot read {path}: {reason}', { path, reason: (err as Error).message });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError('config', '{path} is not valid YAML: {reason}', { path, reason: (err as Error).message });
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('config', '{path} must be a mapping of settings', { path });
  return doc as Record<string, unknown>;
}

function namesConnection(db: unknown): boolean {
  if (typeof db !== 'object' || db === null) return false;
  return CONNECTION_FIELDS.some((field) => Object.hasOwn(db, field));
}

function withCredentialsFrom(config: Config, credentialsFrom: string): Config {
  return { ...config, db: { ...config.db, credentialsFrom } };
}

/** SMC_DB_CDR_DATABASE=x → { db: { cdr_database: 'x' } }; only SMC_<SECTION>_<FIELD> forms. */
function envOverrides(env: NodeJS.ProcessEnv): { db?: Record<string, unknown> } & Record<string, unknown> {
  const sections = ['db', 'group', 'server', 'sync', 'mail', 'ami', 'notify'];
  const out: Record<string, Record<string, unknown>> = {};
  const top: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SMC_') || value === undefined || name.startsWith('SMC_CONFIG') || name.startsWith('SMC_TEST_')) continue;
    const rest = name.slice(4).toLowerCase();
    const section = sections.find((s) => rest.startsWith(s + '_'));
    if (section) (out[section] ??= {})[rest.slice(section.length + 1)] = value;
    else if (rest === 'pbx' || rest === 'pbx_id' || rest === 'log_level' || rest === 'voicemail_spool' || rest === 'audit_key_file') top[rest] = value;
  }
  return { ...top, ...out };
}
