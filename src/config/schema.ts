
/**
 * The service's configuration (config.yaml) and every tenant's settings (stored in
 * smart_missed_calls_settings, edited on the settings page). Both are validated field by
 * field; an invalid value is refused with a message that names the field, and nothing
 * of a refused change is applied.
 */

import { parseNetwork } from './networks.js';
import { businessHoursText, HoursError, parseBusinessHours } from '../ledger/callback-target.js';

export class ConfigError extends Error {
  /** What is wrong with the field, in English with the values filled in. */
  readonly problem: string;

  /**
   * @param problem a gettext msgid; {name} placeholders take `params`, so a page can show
   *   the same problem in its reader's language (t(err.template, err.params)).
   */
  constructor(readonly field: string, readonly template: string, readonly params: Record<string, string | number> = {}) {
    const problem = template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in params ? String(params[key]) : whole));
    super(`${field}: ${problem}`);
    this.problem = problem;
  }
}

export interface DbConfig {
  host: string;
  port: number;
  socket: string;
  user: string;
  password: string;
  /** Database holding our own smart_missed_calls_* tables (FreePBX: asterisk). */
  database: string;
  /** Where the PBX's CDR lives (FreePBX: asteriskcdrdb.cdr / cel). */
  cdrDatabase: string;
  cdrTable: string;
  celTable: string;
  /** FreePBX configuration tables (users, queues_config, ...). */
  pbxDatabase: string;
  /**
   * Where the connection settings (host, port, socket, user, password) came from, for
   * `smc doctor`, the log and connection errors; never settable from config.yaml.
   */
  credentialsFrom: string;
}

/** One node of the group's Galera cluster: host and port, or a socket on this machine. */
export interface GroupNode {
  host: string;
  port: number;
  socket: string;
}

/**
 * Group mode (docs/group.md): the ledger (our tables) lives in the group's Galera cluster,
 * reached through the first node that answers; the CDR stays in `db`, read only. No nodes:
 * no group, and the ledger is in `db` as on a single PBX.
 */
export interface GroupConfig {
  nodes: GroupNode[];
  user: string;
  password: string;
  database: string;
  /**
   * How long a service's cluster lease (sync, notify) lasts without a renewal: after a
   * holder dies or is cut off, another instance of the same PBX takes over within this.
   * Renewed every sync interval, so it must be well above sync.interval_seconds.
   */
  leaseSeconds: number;
  tls: {
    /** PEM files; all empty: no TLS (a node on this machine or a private network). */
    ca: string;
    cert: string;
    key: string;
    rejectUnauthorized: boolean;
  };
}

export interface IdentityUser {
  user: string;
  password: string;
  tenant: string;
  role: 'admin' | 'viewer' | 'superadmin';
}

export interface Config {
  pbx: 'freepbx' | 'vitalpbx';
  /**
   * This PBX's stable name in the ledger: every row of ours carries it next to the tenant,
   * so the PBXs of a group write one database without seeing or merging each other's rows.
   * A single PBX keeps DEFAULT_PBX_ID; a group member must be given its own.
   */
  pbxId: string;
  /**
   * The IANA zone calldate is written in; '' takes the service's own zone, which on a PBX is
   * the PBX's. A group compares calls of PBXs in different zones by instant (docs/group.md).
   */
  timezone: string;
  db: DbConfig;
  group: GroupConfig;
  server: {
    /** host:port on loopback, or unix:/path/to.sock. Never a public address. */
    listen: string;
    /** Shared secret of the signed identity header the PHP glue sends. */
    secret: string;
    /** Link put in mails and digests. */
    baseUrl: string;
    /** Standalone/demo logins; empty behind the PBX. */
    users: IdentityUser[];
    /**
     * Which proxies in front of a standalone service are believed about X-Forwarded-Proto
     * (and -For): false (none), true (any: the service listens on loopback or a socket
     * only, so any peer is a local process) or addresses / networks / "loopback". Behind
     * a TLS proxy it is what makes the session cookie Secure.
     */
    trustProxy: boolean | string[];
  };
  sync: {
    intervalSeconds: number;
    settleSeconds: number;
    hotWindowSeconds: number;
    maxCallSeconds: number;
    fullScanEverySeconds: number;
    /**
     * How much calldate one step of the background history covers. A live cycle waits for
     * at most one step, so a very busy PBX may want smaller steps (they cost more queries).
     */
    historyChunkSeconds: number;
    /** Extension ranges used when the PBX tables cannot be read, e.g. "100-199,2000". */
    extensions: string;
  };
  mail: {
    transport: 'smtp' | 'sendmail' | 'none';
    host: string;
    port: number;
    secure: boolean;
    user: string;
    password: string;
    sendmailPath: string;
    from: string;
    replyTo: string;
  };
  ami: { host: string; port: number; user: string; secret: string };
  notify: {
    /**
     * Internal networks (CIDR, or one address) that webhooks and the caller-name lookup may
     * reach. Empty by default: loopback, private, link-local, unspecified and multicast
     * targets are refused. Only the PBX administrator edits this file; tenant settings
     * cannot widen it.
     */
    allowPrivateNetworks: string[];
  };
  voicemailSpool: string;
  logLevel: 'error' | 'warn' | 'info' | 'debug';
  /**
   * The key of the audit journal's HMAC chain and of `forget`'s erasure proofs: a file, never
   * the database, so a database user cannot rewrite the journal and recompute its chain.
   * '' in DEFAULT_CONFIG; loadConfig puts it next to the config file.
   */
  auditKeyFile: string;
}

/** The group view's `pbx` parameter for every PBX of the group: no PBX may be called so. */
export const ALL_PBXS = 'all';

/** The pbx id of a single-PBX install, and of every row written before pbx ids existed (migration 10). */
export const DEFAULT_PBX_ID = 'local';

export const DEFAULT_CONFIG: Config = {
  pbx: 'freepbx',
  pbxId: DEFAULT_PBX_ID,
  timezone: '',
  db: {
    host: 'localhost',
    port: 3306,
    socket: '',
    user: 'root',
    password: '',
    database: 'asterisk',
    cdrDatabase: 'asteriskcdrdb',
    cdrTable: 'cdr',
    celTable: 'cel',
    pbxDatabase: 'asterisk',
    credentialsFrom: 'built-in defaults',
  },
  group: { nodes: [], user: '', password: '', database: 'smartmissedcalls', leaseSeconds: 30, tls: { ca: '', cert: '', key: '', rejectUnauthorized: true } },
  server: { listen: '127.0.0.1:8093', secret: '', baseUrl: '', users: [], trustProxy: false },
  sync: {
    intervalSeconds: 1,
    // Asterisk writes all of a call's remaining rows within milliseconds once the caller's
    // own (root) row is written — 2.4 ms at most in the lab's insert log — so 2 s of quiet
    // after the root row is ample, and keeps a miss on the list within 5 s of the hang-up.
    settleSeconds: 2,
    hotWindowSeconds: 900,
    maxCallSeconds: 14_400,
    fullScanEverySeconds: 60,
    historyChunkSeconds: 3600,
    extensions: '',
  },
  mail: {
    transport: 'sendmail',
    host: 'localhost',
    port: 25,
    secure: false,
    user: '',
    password: '',
    sendmailPath: '/usr/sbin/sendmail',
    from: 'Smart Missed Calls <pbx@localhost>',
    replyTo: '',
  },
  ami: { host: '', port: 5038, user: '', secret: '' },
  notify: { allowPrivateNetworks: [] },
  voicemailSpool: '/var/spool/asterisk/voicemail',
  logLevel: 'info',
  auditKeyFile: '',
};

type Shape = { [key: string]: Shape | FieldCheck };
type FieldCheck = (value: unknown, field: string) => unknown;

export const str = (opts: { oneOf?: readonly string[]; pattern?: RegExp; max?: number } = {}): FieldCheck =>
  (value, field) => {
    if (typeof value === 'number') value = String(value);
    if (typeof value !== 'string') throw new ConfigError(field, 'must be text');
    if (opts.max !== undefined && value.length > opts.max) throw new ConfigError(field, 'must be at most {max} characters', { max: opts.max });
    if (opts.oneOf && !opts.oneOf.includes(value)) throw new ConfigError(field, 'must be one of {choices}', { choices: opts.oneOf.join(', ') });
    if (opts.pattern && value !== '' && !opts.pattern.test(value)) throw new ConfigError(field, "'{value}' is not valid", { value });
    return value;
  };

export const int = (min: number, max: number): FieldCheck => (value, field) => {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new ConfigError(field, 'must be a whole number');
  if (n < min || n > max) throw new ConfigError(field, 'must be between {min} and {max}', { min, max });
  return n;
};

export const bool: FieldCheck = (value, field) => {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1' || value === 1 || value === 'on') return true;
  if (value === 'false' || value === '0' || value === 0 || value === 'off' || value === '') return false;
  throw new ConfigError(field, 'must be true or false');
};

const users: FieldCheck = (value, field) => {
  if (!Array.isArray(value)) throw new ConfigError(field, 'must be a list');
  return value.map((u, i) => {
    const at = `${field}[${i}]`;
    if (typeof u !== 'object' || u === null) throw new ConfigError(at, 'must be a mapping');
    const rec = u as Record<string, unknown>;
    return {
      user: str({ pattern: /^[\w.@-]{1,64}$/ })(rec.user ?? '', `${at}.user`),
      password: str()(rec.password ?? '', `${at}.password`),
      tenant: str({ pattern: /^[\w.-]{1,64}$/ })(rec.tenant ?? 'default', `${at}.tenant`),
      role: str({ oneOf: ['admin', 'viewer', 'superadmin'] })(rec.role ?? 'viewer', `${at}.role`),
    };
  });
};

const listen: FieldCheck = (value, field) => {
  const text = str()(value, field) as string;
  if (text.startsWith('unix:') && text.length > 5) return text;
  const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]|::1):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) {
    throw new ConfigError(field, "'{value}' must be a loopback host:port (127.0.0.1:8093) or unix:/path; the service never listens publicly", { value: text });
  }
  return text;
};

/** A YAML list, or (from the environment) one string separated by commas or spaces. */
const networkList: FieldCheck = (value, field) => {
  const items = typeof value === 'string' ? value.split(/[\s,]+/).filter(Boolean) : value;
  if (!Array.isArray(items)) throw new ConfigError(field, 'must be a list');
  return items.map((item, i) => {
    const text = str()(item, `${field}[${i}]`) as string;
    if (!parseNetwork(text)) throw new ConfigError(`${field}[${i}]`, "'{value}' is not a network (10.0.0.0/8, fd00::/8 or one address)", { value: text });
    return text.trim();
  });
};

const trustProxy: FieldCheck = (value, field) => {
  if (typeof value === 'boolean' || ['true', 'false', 'on', 'off', '0', '1', ''].includes(String(value).trim())) {
    return bool(typeof value === 'string' ? value.trim() : value, field);
  }
  let items: unknown[];
  if (Array.isArray(value)) items = value;
  else if (typeof value === 'string') items = value.split(',');
  else throw new ConfigError(field, 'must be true, false or a list of proxy addresses');
  return items.map((item, i) => {
    const text = (str({ max: 64 })(item, `${field}[${i}]`) as string).trim();
    if (text !== 'loopback' && !parseNetwork(text)) {
      throw new ConfigError(`${field}[${i}]`, "'{value}' is not an IP address, a network (10.0.0.0/8) or loopback", { value: text });
    }
    return text;
  });
};

/** Galera nodes, in the order they are tried: each a mapping (host, port or socket) or "host:port" text. */
const groupNodes: FieldCheck = (value, field) => {
  const items = typeof value === 'string' ? value.split(/[\s,]+/).filter(Boolean) : value;
  if (!Array.isArray(items)) throw new ConfigError(field, 'must be a list');
  return items.map((item, i) => {
    const at = `${field}[${i}]`;
    if (typeof item !== 'string' && (typeof item !== 'object' || item === null || Array.isArray(item))) throw new ConfigError(at, 'must be a mapping');
    const rec = typeof item === 'string' ? hostPort(item, at) : (item as Record<string, unknown>);
    for (const key of Object.keys(rec)) if (!['host', 'port', 'socket'].includes(key)) throw new ConfigError(`${at}.${key}`, 'is not a known setting');
    const node: GroupNode = {
      host: str({ pattern: /^[\w.:-]{1,255}$/ })(rec.host ?? '', `${at}.host`) as string,
      port: int(1, 65535)(rec.port ?? 3306, `${at}.port`) as number,
      socket: str({ pattern: /^\/./ })(rec.socket ?? '', `${at}.socket`) as string,
    };
    if (node.host === '' && node.socket === '') throw new ConfigError(`${at}.host`, 'must name the node (a host, or a socket on this machine)');
    return node;
  });
};

function hostPort(text: string, field: string): Record<string, unknown> {
  if (text.startsWith('/')) return { socket: text };
  const m = /^\[?([^\]]+?)\]?(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) throw new ConfigError(field, "'{value}' is not valid", { value: text });
  return m[2] === undefined ? { host: m[1] } : { host: m[1], port: m[2] };
}

const CONFIG_SHAPE: Shape = {
  pbx: str({ oneOf: ['freepbx', 'vitalpbx'] }),
  pbxId: str({ pattern: /^[\w.-]{1,64}$/ }),
  timezone: (v, f) => {
    const tz = str({ max: 64 })(v, f) as string;
    if (tz !== '' && !validTimezone(tz)) throw new ConfigError(f, "'{value}' is not a time zone", { value: tz });
    return tz;
  },
  db: {
    host: str(), port: int(1, 65535), socket: str(), user: str(), password: str(),
    database: str({ pattern: /^\w{1,64}$/ }), cdrDatabase: str({ pattern: /^\w{1,64}$/ }),
    cdrTable: str({ pattern: /^\w{1,64}$/ }), celTable: str({ pattern: /^\w{1,64}$/ }),
    pbxDatabase: str({ pattern: /^\w{1,64}$/ }),
  },
  group: {
    nodes: groupNodes, user: str({ max: 80 }), password: str(), database: str({ pattern: /^\w{1,64}$/ }), leaseSeconds: int(2, 600),
    tls: { ca: str({ pattern: /^\/./ }), cert: str({ pattern: /^\/./ }), key: str({ pattern: /^\/./ }), rejectUnauthorized: bool },
  },
  server: { listen, secret: str(), baseUrl: str(), users, trustProxy },
  sync: {
    intervalSeconds: int(1, 3600), settleSeconds: int(0, 600), hotWindowSeconds: int(60, 86_400),
    maxCallSeconds: int(600, 7 * 86_400), fullScanEverySeconds: int(5, 3600),
    historyChunkSeconds: int(60, 86_400),
    extensions: str({ pattern: /^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$/ }),
  },
  mail: {
    transport: str({ oneOf: ['smtp', 'sendmail', 'none'] }), host: str(), port: int(1, 65535), secure: bool,
    user: str(), password: str(), sendmailPath: str(), from: str(), replyTo: str(),
  },
  ami: { host: str(), port: int(1, 65535), user: str(), secret: str() },
  notify: { allowPrivateNetworks: networkList },
  voicemailSpool: str(),
  logLevel: str({ oneOf: ['error', 'warn', 'info', 'debug'] }),
  auditKeyFile: str({ pattern: /^\/./ }),
};

/**
 * What the fields cannot say one by one: a group member needs its own pbx id (two PBXs left
 * at the default would write one list), a user and a database to reach, and TLS as a whole.
 */
export function checkGroup(config: Config): void {
  const g = config.group;
  if (g.nodes.length === 0) return;
  // `all` is the group view's word for every PBX of the group (the pages' ?pbx=all).
  if (config.pbxId === DEFAULT_PBX_ID || config.pbxId === ALL_PBXS) {
    throw new ConfigError('pbx_id', "must name this PBX in its group (each PBX of a group its own id, not '{value}')", { value: config.pbxId });
  }
  if (g.user === '') throw new ConfigError('group.user', 'must be set when group.nodes lists the cluster');
  if (g.database === '') throw new ConfigError('group.database', 'must be set when group.nodes lists the cluster');
  if (g.leaseSeconds < 2 * config.sync.intervalSeconds) {
    throw new ConfigError('group.lease_seconds', 'must be at least twice sync.interval_seconds ({interval}), or the holder cannot renew it in time', { interval: config.sync.intervalSeconds });
  }
  if ((g.tls.cert === '') !== (g.tls.key === '')) throw new ConfigError(g.tls.cert === '' ? 'group.tls.cert' : 'group.tls.key', 'must be set together with group.tls.cert and group.tls.key');
}

/** YAML keys are snake_case (cdr_database); the code's are camelCase. Both are accepted. */
function camel(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function mergeShape(shape: Shape, base: Record<string, unknown>, input: unknown, path: string): Record<string, unknown> {
  if (input === undefined || input === null) return base;
  if (typeof input !== 'object' || Array.isArray(input)) throw new ConfigError(path || '(top)', 'must be a mapping');
  const out: Record<string, unknown> = { ...base };
  for (const [rawKey, value] of Object.entries(input as Record<string, unknown>)) {
    const key = camel(rawKey);
    const field = path ? `${path}.${rawKey}` : rawKey;
    // Own keys only: "toString" or "__proto__" in a YAML file is an unknown setting, not Object's.
    const check = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (!check) throw new ConfigError(field, 'is not a known setting');
    if (typeof check === 'function') out[key] = check(value, field);
    else out[key] = mergeShape(check, base[key] as Record<string, unknown>, value, field);
  }
  return out;
}

/** Applies a parsed YAML document (or env overrides) over a base config, validating each field. */
export function applyConfig(base: Config, input: unknown): Config {
  return mergeShape(CONFIG_SHAPE, base as unknown as Record<string, unknown>, input, '') as unknown as Config;
}

// ---------------------------------------------------------------------------------------
// Tenant settings

export const CADENCES = ['off', 'realtime', 'hourly', 'daily', 'weekly', 'monthly'] as const;
export type Cadence = (typeof CADENCES)[number];

export interface Webhook {
  url: string;
  secret: string;
  events: string[];
}

/**
 * The CRMs a tenant can connect; '' is none. Odoo and Salesforce join this list with their
 * connectors (src/notify/crm/registry.ts).
 */
export const CRM_KINDS = ['', 'hubspot', 'odoo', 'salesforce'] as const;
export type CrmKind = Exclude<(typeof CRM_KINDS)[number], ''>;

export interface CrmSettings {
  kind: CrmKind | '';
  /**
   * The CRM's API base URL. Required, with no built-in default: the address is the tenant's
   * to give (docs/crm.md says where the vendor's docs name it), which also lets a test or a
   * proxy stand in for the CRM.
   */
  baseUrl: string;
  /**
   * Write-only (src/web/settings-secrets.ts): HubSpot's private app token, Odoo's API key,
   * Salesforce's OAuth refresh token.
   */
  token: string;
  /** Odoo only (present when kind is 'odoo'): the database and the login the API key belongs to. */
  database?: string;
  login?: string;
  /** Salesforce only: the Connected App's consumer key (not a secret, shown back). */
  clientId?: string;
  /** Salesforce only, write-only like the token: the Connected App's consumer secret. */
  clientSecret?: string;
  /** When no contact has the caller's number, create one (else the task is on no contact). */
  createContact: boolean;
}

export const LAMP_SCOPES = ['tenant', 'route', 'both'] as const;
export type LampScope = (typeof LAMP_SCOPES)[number];

export interface TenantSettings {
  cadence: Cadence;
  recipients: string[];
  realtimeDedupeMinutes: number;
  maxEmailsPerHour: number;
  /** Days after the last attempt an entry expires; null keeps entries for ever. */
  retentionDays: number | null;
  clearAcrossDids: boolean;
  /** In a group: an answered call with the caller at another PBX of the group clears this PBX's entry too. */
  clearAcrossPbxs: boolean;
  queueAbandonMinWait: number;
  countIvrAbandon: boolean;
  defaultCountry: string;
  outboundPrefixes: string[];
  matchDigits: number;
  timezone: string;
  language: 'en' | 'ro';
  webhooks: Webhook[];
  lookupUrlTemplate: string;
  /** Days of the PBX's call history a fresh install classifies in the background. */
  historyDays: number;
  /** Minutes an "I'm calling back" claim holds an entry before it lapses by itself. */
  claimMinutes: number;
  /**
   * Minutes (of business hours, when set) within which a missed caller should be called
   * back; 0: no target, no escalation (docs/team.md).
   */
  callbackTargetMinutes: number;
  /** Routes ("queue:400", "route:0215550000", …) with their own target; 0 minutes: none for that route. */
  callbackTargetRoutes: { route: string; minutes: number }[];
  /** The weekly hours the target counts, in `timezone` ("mon-fri 09:00-17:00; sat 10:00-13:00"); '' counts every hour. */
  businessHours: string;
  /** Escalate once at each of these multiples of the target: [1, 2] is at the target and at twice it. */
  escalationThresholds: number[];
  /** Who is mailed an escalation; empty: the notification recipients. */
  escalationRecipients: string[];
  /**
   * "Missed calls waiting" on a BLF key: an Asterisk custom device state set over AMI while
   * the tenant has open unclaimed entries (src/pbx/lamp.ts, docs/team.md). Off by default.
   */
  lampEnabled: boolean;
  /** One lamp for the whole tenant, one per route (queue, ring group, IVR, extension, DID), or both. */
  lampScope: LampScope;
  crm: CrmSettings;
}

export const DEFAULT_SETTINGS: TenantSettings = {
  cadence: 'daily',
  recipients: [],
  realtimeDedupeMinutes: 5,
  maxEmailsPerHour: 50,
  retentionDays: null,
  clearAcrossDids: true,
  clearAcrossPbxs: true,
  queueAbandonMinWait: 10,
  countIvrAbandon: false,
  defaultCountry: '',
  outboundPrefixes: [],
  matchDigits: 9,
  timezone: 'UTC',
  language: 'en',
  webhooks: [],
  lookupUrlTemplate: '',
  historyDays: 30,
  claimMinutes: 15,
  callbackTargetMinutes: 0,
  callbackTargetRoutes: [],
  businessHours: '',
  escalationThresholds: [1, 2],
  escalationRecipients: [],
  lampEnabled: false,
  lampScope: 'tenant',
  crm: { kind: '', baseUrl: '', token: '', createContact: false },
};

export const WEBHOOK_EVENTS = ['entry.created', 'entry.incremented', 'entry.cleared', 'entry.reopened', 'entry.escalated'] as const;

const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$|^[^\s@<>"]+@localhost$/;

/**
 * Limits that keep one tenant's settings well inside the TEXT column they are stored in
 * (64 KB) and every check cheap: past them a change is refused by field name.
 */
export const SETTING_LIMITS = {
  recipients: 100,
  /** RFC 5321's longest usable address. */
  addressLength: 254,
  outboundPrefixes: 20,
  webhooks: 10,
  urlLength: 2000,
  secretLength: 256,
  timezoneLength: 64,
  callbackTargetRoutes: 100,
  escalationThresholds: 5,
  /** A week: a longer target is no callback target. */
  targetMinutes: 10_080,
  businessHoursLength: 500,
  /** The stored JSON; the column holds 65,535 bytes. */
  storedBytes: 60_000,
} as const;

/** A list as an array or as text separated by spaces, commas or semicolons; at most `max` items. */
function list(value: unknown, field: string, max: number, itemLength: number = SETTING_LIMITS.urlLength): string[] {
  let items: string[];
  if (Array.isArray(value)) {
    if (value.length > max) throw new ConfigError(field, 'must have at most {max} entries', { max });
    items = value.map((v, i) => (str({ max: itemLength })(v, `${field}[${i}]`) as string).trim());
  } else if (typeof value === 'string') {
    items = value.split(/[\s,;]+/).map((s) => s.trim());
    items.forEach((item, i) => str({ max: itemLength })(item, `${field}[${i}]`));
  } else {
    throw new ConfigError(field, 'must be a list');
  }
  items = items.filter(Boolean);
  if (items.length > max) throw new ConfigError(field, 'must have at most {max} entries', { max });
  return items;
}

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function httpUrl(value: string, field: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(field, "'{value}' is not a URL", { value });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(field, 'must be an http or https URL');
  return value;
}

function emailList(v: unknown, f: string): string[] {
  return list(v, f, SETTING_LIMITS.recipients, SETTING_LIMITS.addressLength).map((address, i) => {
    if (!EMAIL.test(address)) throw new ConfigError(`${f}[${i}]`, "'{value}' is not an email address", { value: address });
    return address;
  });
}

const ROUTE = /^(queue|ringgroup|ivr|extension|route):[\w.+*#-]{1,64}$/;

/** Route targets as a list of {route, minutes}, or text: one "queue:400 = 10" per line (or separated by ';' or ','). */
function routeTargets(v: unknown, f: string): { route: string; minutes: number }[] {
  let items: unknown[];
  if (typeof v === 'string') {
    items = v.split(/[\n;,]+/).map((s) => s.trim()).filter(Boolean).map((line) => {
      const m = /^(\S+?)\s*(?:=\s*|\s+)(\d+)$/.exec(line);
      return m ? { route: m[1], minutes: m[2] } : { route: line, minutes: undefined };
    });
  } else if (Array.isArray(v)) {
    items = v;
  } else {
    throw new ConfigError(f, 'must be a list');
  }
  if (items.length > SETTING_LIMITS.callbackTargetRoutes) throw new ConfigError(f, 'must have at most {max} entries', { max: SETTING_LIMITS.callbackTargetRoutes });
  const seen = new Set<string>();
  return items.map((item, i) => {
    const at = `${f}[${i}]`;
    if (typeof item !== 'object' || item === null) throw new ConfigError(at, 'must be a mapping');
    const r = item as Record<string, unknown>;
    const route = (str({ max: 80 })(r.route ?? '', `${at}.route`) as string).trim();
    if (!ROUTE.test(route)) throw new ConfigError(`${at}.route`, "'{value}' is not a route such as queue:400 or route:0215550000", { value: route });
    if (seen.has(route)) throw new ConfigError(`${at}.route`, "'{value}' is listed twice", { value: route });
    seen.add(route);
    if (r.minutes === undefined) throw new ConfigError(`${at}.minutes`, "'{value}' must name a route and its minutes, e.g. queue:400 = 10", { value: route });
    return { route, minutes: int(0, SETTING_LIMITS.targetMinutes)(r.minutes, `${at}.minutes`) as number };
  });
}

const SETTING_CHECKS: { [K in keyof TenantSettings]: (value: unknown, field: string) => TenantSettings[K] } = {
  cadence: (v, f) => str({ oneOf: CADENCES })(v, f) as Cadence,
  recipients: emailList,
  realtimeDedupeMinutes: (v, f) => int(0, 1440)(v, f) as number,
  maxEmailsPerHour: (v, f) => int(1, 10_000)(v, f) as number,
  retentionDays: (v, f) => (v === null || v === '' || v === undefined ? null : (int(1, 36_500)(v, f) as number)),
  clearAcrossDids: (v, f) => bool(v, f) as boolean,
  clearAcrossPbxs: (v, f) => bool(v, f) as boolean,
  queueAbandonMinWait: (v, f) => int(0, 3600)(v, f) as number,
  countIvrAbandon: (v, f) => bool(v, f) as boolean,
  defaultCountry: (v, f) => (str({ pattern: /^[A-Z]{2}$/ })(typeof v === 'string' ? v.toUpperCase() : v, f) as string),
  outboundPrefixes: (v, f) =>
    list(v, f, SETTING_LIMITS.outboundPrefixes).map((p, i) => {
      if (!/^\d{1,6}$/.test(p)) throw new ConfigError(`${f}[${i}]`, "'{value}' must be 1 to 6 digits", { value: p });
      return p;
    }),
  matchDigits: (v, f) => int(6, 15)(v, f) as number,
  timezone: (v, f) => {
    const tz = str({ max: SETTING_LIMITS.timezoneLength })(v, f) as string;
    if (!validTimezone(tz)) throw new ConfigError(f, "'{value}' is not a time zone", { value: tz });
    return tz;
  },
  language: (v, f) => str({ oneOf: ['en', 'ro'] })(v, f) as 'en' | 'ro',
  webhooks: (v, f) => {
    if (!Array.isArray(v)) throw new ConfigError(f, 'must be a list');
    if (v.length > SETTING_LIMITS.webhooks) throw new ConfigError(f, 'must have at most {max} entries', { max: SETTING_LIMITS.webhooks });
    return v.map((hook, i) => {
      const at = `${f}[${i}]`;
      if (typeof hook !== 'object' || hook === null) throw new ConfigError(at, 'must be a mapping');
      const h = hook as Record<string, unknown>;
      const events = h.events === undefined ? [...WEBHOOK_EVENTS] : list(h.events, `${at}.events`, WEBHOOK_EVENTS.length);
      events.forEach((e, j) => {
        if (!(WEBHOOK_EVENTS as readonly string[]).includes(e)) throw new ConfigError(`${at}.events[${j}]`, "'{value}' is not an event", { value: e });
      });
      const secret = str({ max: SETTING_LIMITS.secretLength })(h.secret ?? '', `${at}.secret`) as string;
      if (secret.length < 16) throw new ConfigError(`${at}.secret`, 'must be at least {min} characters', { min: 16 });
      return { url: httpUrl(str({ max: SETTING_LIMITS.urlLength })(h.url ?? '', `${at}.url`) as string, `${at}.url`), secret, events };
    });
  },
  historyDays: (v, f) => int(1, 3660)(v, f) as number,
  claimMinutes: (v, f) => int(1, 480)(v, f) as number,
  callbackTargetMinutes: (v, f) => (v === '' || v === null ? 0 : (int(0, SETTING_LIMITS.targetMinutes)(v, f) as number)),
  callbackTargetRoutes: routeTargets,
  businessHours: (v, f) => {
    const text = str({ max: SETTING_LIMITS.businessHoursLength })(v, f) as string;
    try {
      return businessHoursText(parseBusinessHours(text));
    } catch (err) {
      if (err instanceof HoursError) throw new ConfigError(f, err.template, err.params);
      throw err;
    }
  },
  escalationThresholds: (v, f) => {
    const items = list(v, f, SETTING_LIMITS.escalationThresholds, 8);
    if (items.length === 0) throw new ConfigError(f, 'must have at least one multiple of the target, e.g. 1');
    const multiples = items.map((m, i) => int(1, 20)(m, `${f}[${i}]`) as number);
    return [...new Set(multiples)].sort((a, b) => a - b);
  },
  escalationRecipients: emailList,
  lampEnabled: (v, f) => bool(v, f) as boolean,
  lampScope: (v, f) => str({ oneOf: LAMP_SCOPES })(v, f) as LampScope,
  crm: (v, f) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(f, 'must be a mapping');
    const c = v as Record<string, unknown>;
    for (const key of Object.keys(c)) {
      if (!['kind', 'baseUrl', 'base_url', 'token', 'createContact', 'create_contact', 'database', 'login', ...SALESFORCE_KEYS].includes(key)) throw new ConfigError(`${f}.${key}`, 'is not a known setting');
    }
    const kind = str({ oneOf: CRM_KINDS })(c.kind ?? '', `${f}.kind`) as CrmKind | '';
    const rawUrl = str({ max: SETTING_LIMITS.urlLength })(c.baseUrl ?? c.base_url ?? '', `${f}.baseUrl`) as string;
    const token = str({ max: SETTING_LIMITS.secretLength })(c.token ?? '', `${f}.token`) as string;
    const createContact = bool(c.createContact ?? c.create_contact ?? false, `${f}.createContact`) as boolean;
    if (kind !== '') {
      if (rawUrl.trim() === '') throw new ConfigError(`${f}.baseUrl`, 'is required for a CRM: the API base URL from its documentation');
      if (token.trim() === '') throw new ConfigError(`${f}.token`, 'is required for a CRM');
    }
    const baseUrl = rawUrl.trim() === '' ? '' : httpUrl(rawUrl.trim().replace(/\/+$/, ''), `${f}.baseUrl`);
    if (kind === 'salesforce') return { kind, baseUrl, token: token.trim(), createContact, ...salesforceKeys(c, f) };
    if (kind !== 'odoo') return { kind, baseUrl, token: token.trim(), createContact };
    const database = (str({ max: 128 })(c.database ?? '', `${f}.database`) as string).trim();
    const login = (str({ max: SETTING_LIMITS.addressLength })(c.login ?? '', `${f}.login`) as string).trim();
    if (database === '') throw new ConfigError(`${f}.database`, 'is required for Odoo: the name of the Odoo database');
    if (login === '') throw new ConfigError(`${f}.login`, 'is required for Odoo: the login of the user the API key belongs to');
    return { kind, baseUrl, token: token.trim(), createContact, database, login };
  },
  lookupUrlTemplate: (v, f) => {
    const t = str({ max: SETTING_LIMITS.urlLength })(v, f) as string;
    if (t === '') return t;
    if (!t.includes('{number}')) throw new ConfigError(f, 'must contain {placeholder}', { placeholder: '{number}' });
    return httpUrl(t.replace('{number}', '0'), f) && t;
  },
};

const SALESFORCE_KEYS = ['clientId', 'client_id', 'clientSecret', 'client_secret'];

/** The Connected App's consumer key and secret: both needed to refresh the access token. */
function salesforceKeys(c: Record<string, unknown>, f: string): { clientId: string; clientSecret: string } {
  const clientId = (str({ max: SETTING_LIMITS.secretLength })(c.clientId ?? c.client_id ?? '', `${f}.clientId`) as string).trim();
  const clientSecret = (str({ max: SETTING_LIMITS.secretLength })(c.clientSecret ?? c.client_secret ?? '', `${f}.clientSecret`) as string).trim();
  if (clientId === '') throw new ConfigError(`${f}.clientId`, "is required for Salesforce: the Connected App's consumer key");
  if (clientSecret === '') throw new ConfigError(`${f}.clientSecret`, "is required for Salesforce: the Connected App's consumer secret");
  return { clientId, clientSecret };
}

/** camelCase and snake_case names of every setting; a null prototype, so "toString" is no setting. */
const SETTING_ALIASES: Readonly<Record<string, keyof TenantSettings>> = Object.assign(
  Object.create(null) as Record<string, keyof TenantSettings>,
  Object.fromEntries(
    (Object.keys(DEFAULT_SETTINGS) as (keyof TenantSettings)[]).flatMap((k) => [
      [k, k],
      [k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()), k],
    ]),
  ),
);

/** The setting a key of a change names (either spelling), or undefined for an unknown key. */
export function settingKeyOf(rawKey: string): keyof TenantSettings | undefined {
  return Object.hasOwn(SETTING_ALIASES, rawKey) ? SETTING_ALIASES[rawKey] : undefined;
}

function validateSettings(current: TenantSettings, change: Record<string, unknown>): { next: TenantSettings; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const next = { ...current } as Record<string, unknown>;
  for (const [rawKey, value] of Object.entries(change)) {
    const key = settingKeyOf(rawKey);
    if (!key) {
      errors.push(new ConfigError(rawKey, 'is not a known setting'));
      continue;
    }
    try {
      next[key] = SETTING_CHECKS[key](value, rawKey);
    } catch (err) {
      if (err instanceof ConfigError) errors.push(err);
      else throw err;
    }
  }
  if (errors.length === 0) {
    // Each field is within its limit, yet non-ASCII text counts up to 4 bytes a character.
    const bytes = Buffer.byteLength(JSON.stringify(next), 'utf8');
    if (bytes > SETTING_LIMITS.storedBytes) {
      errors.push(new ConfigError('settings', 'are too large to store: {size} bytes, at most {max}', { size: bytes, max: SETTING_LIMITS.storedBytes }));
    }
  }
  return { next: next as unknown as TenantSettings, errors };
}

/**
 * Validates a (partial) change of tenant settings against the current ones. Either the
 * whole change is valid and the merged settings come back, or it throws for the first bad
 * field (use collectSettingErrors to show every bad field at once).
 */
export function applySettings(current: TenantSettings, change: Record<string, unknown>): TenantSettings {
  const { next, errors } = validateSettings(current, change);
  if (errors.length) throw errors[0];
  return next;
}

export function collectSettingErrors(current: TenantSettings, change: Record<string, unknown>): ConfigError[] {
  return validateSettings(current, change).errors;
}

/** Settings as stored: unknown keys from a newer version are ignored, bad ones fall back to defaults. */
export function settingsFromStored(json: string | null | undefined): TenantSettings {
  if (!json) return { ...DEFAULT_SETTINGS };
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
  let settings = { ...DEFAULT_SETTINGS };
  for (const [key, value] of Object.entries(parsed)) {
    if (!settingKeyOf(key)) continue;
    try {
      settings = applySettings(settings, { [key]: value });
    } catch {
      /* a value an older version accepted but this one does not: keep the default */
    }
  }
  return settings;
}
