import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { applyConfig, ConfigError, DEFAULT_CONFIG, type Config } from './schema.js';
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
  /** --config; else SMC_CONFIG; else /etc/smartmissedcalls/config.yaml or /etc/asterisk/smartmissedcalls.yaml, the first that exists. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Defaults, then (on FreePBX) the database credentials FreePBX itself uses or (on
 * VitalPBX, `pbx: vitalpbx`) VitalPBX's database layout, then
 * config.yaml, then SMC_* environment overrides (SMC_DB_SOCKET, SMC_DB_PASSWORD,
 * SMC_SERVER_LISTEN...). Every layer is validated; the error names the field and file.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const path = options.path ?? env.SMC_CONFIG ?? [DEFAULT_CONFIG_PATH, FREEPBX_CONFIG_PATH].find((p) => existsSync(p));
  let doc: Record<string, unknown> = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError('config', 'cannot read {path}: {reason}', { path, reason: (err as Error).message });
    }
    try {
      doc = (parseYaml(text) as Record<string, unknown>) ?? {};
    } catch (err) {
      throw new ConfigError('config', '{path} is not valid YAML: {reason}', { path, reason: (err as Error).message });
    }
  }
  let config = DEFAULT_CONFIG;
  const pbx = env.SMC_PBX ?? (doc.pbx as string | undefined) ?? DEFAULT_CONFIG.pbx;
  if (pbx === 'freepbx') {
    const discovered = discoverFreepbxDb(env);
    if (discovered) config = applyConfig(config, { db: discovered });
  } else if (pbx === 'vitalpbx') {
    config = applyConfig(config, { pbx, db: vitalpbxDbDefaults() });
  }
  try {
    config = applyConfig(config, doc);
    config = applyConfig(config, envOverrides(env));
  } catch (err) {
    if (err instanceof ConfigError && path) throw new ConfigError(err.field, '{problem} (in {path})', { problem: err.problem, path });
    throw err;
  }
  if (config.auditKeyFile === '') config = { ...config, auditKeyFile: join(dirname(path ?? DEFAULT_CONFIG_PATH), AUDIT_KEY_NAME) };
  return config;
}

/** SMC_DB_CDR_DATABASE=x → { db: { cdr_database: 'x' } }; only SMC_<SECTION>_<FIELD> forms. */
function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const sections = ['db', 'server', 'sync', 'mail', 'ami'];
  const out: Record<string, Record<string, unknown>> = {};
  const top: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('SMC_') || value === undefined || name === 'SMC_CONFIG' || name.startsWith('SMC_TEST_')) continue;
    const rest = name.slice(4).toLowerCase();
    const section = sections.find((s) => rest.startsWith(s + '_'));
    if (section) (out[section] ??= {})[rest.slice(section.length + 1)] = value;
    else if (rest === 'pbx' || rest === 'log_level' || rest === 'voicemail_spool' || rest === 'audit_key_file') top[rest] = value;
  }
  return { ...top, ...out };
}
