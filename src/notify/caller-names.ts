import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config, TenantSettings } from '../config/schema.js';
import { loadSettings } from '../config/settings-store.js';
import { normaliseNumber } from '../clear/numbers.js';
import { ident } from '../db/pool.js';
import { poolsOf, type DbPools } from '../db/ledger-pool.js';
import { numberRules } from '../ledger/entries.js';
import { readState, writeState } from '../sync/state.js';
import { OutboundError, outboundRequest, type OutboundResponse } from './outbound.js';
import { parseNetworks, type Network } from '../config/networks.js';
import { cachedCrmName, type CrmNameFill } from './crm-names.js';

export type NameSource = 'contactmanager' | 'csv' | 'crm' | 'http' | 'cnam';

export interface CallerName {
  name: string;
  source: NameSource;
}

/** HTTP lookups are cached: a found name for a day, "not found" for an hour. */
const FOUND_TTL_SECONDS = 86_400;
const MISSING_TTL_SECONDS = 3_600;
const HTTP_TIMEOUT_MS = 2_000;
const HTTP_MAX_REDIRECTS = 3;
/** A name, or a small JSON object holding one: a bigger answer is not a name lookup's. */
const NAME_MAX_BYTES = 4_096;
/**
 * How far back the CDR is searched for a caller-id name. `src LIKE '%…'` cannot use an
 * index, so every row of the window is read: on a PBX with 30 M rows a year, 30 days
 * would be millions of rows per lookup. The names wanted are of callers who just missed,
 * whose own calls are recent.
 */
const CNAM_DAYS = 2;

const digitsOnly = (s: string) => /^[\s+\d().-]*$/.test(s);

/**
 * The caller's name from, in order: FreePBX contact manager, the imported CSV contacts,
 * the tenant's CRM (its cached answer; `crmNames` fetches a missing or stale one in the
 * background: src/notify/crm-names.ts), the tenant's HTTP lookup URL, and the caller-id
 * name (CNAM) the trunk sent.
 */
export async function resolveCallerName(
  pools: Pool | DbPools, config: Config, tenant: string, number: string, settings?: TenantSettings, crmNames?: CrmNameFill | null,
): Promise<CallerName | null> {
  const { ledger: pool, cdr } = poolsOf(pools);
  const s = settings ?? (await loadSettings(pool, tenant));
  const caller = normaliseNumber(number, numberRules(s));
  if (caller.anonymous || caller.key.length < 3) return null;
  return (
    (await namedBeforeCrm(pools, config, tenant, caller.key, s)) ??
    (await fromCrm(pool, tenant, caller.key, number, s, crmNames ?? null)) ??
    (await fromHttp(pool, config, tenant, caller.key, number, s.lookupUrlTemplate)) ??
    (await fromCnam(cdr, config, caller.key, s))
  );
}

/** The sources the chain puts before the CRM: the PBX's contact manager, then the CSV contacts. */
async function namedBeforeCrm(pools: Pool | DbPools, config: Config, tenant: string, key: string, s: TenantSettings): Promise<CallerName | null> {
  const { ledger: pool, cdr } = poolsOf(pools);
  return (await fromContactManager(cdr, config, key, s)) ?? (await fromContacts(pool, tenant, key));
}

async function fromCrm(pool: Pool, tenant: string, key: string, number: string, s: TenantSettings, crmNames: CrmNameFill | null): Promise<CallerName | null> {
  if (s.crm.kind === '') return null;
  const cached = await cachedCrmName(pool, tenant, s.crm.kind, key);
  if (!cached?.fresh) crmNames?.request(tenant, number, key, s);
  // A stale name is still the CRM's: shown until the background answer replaces it.
  return cached?.name ? { name: cached.name, source: 'crm' } : null;
}

/**
 * The CRM's answer for a caller came (in the background): the caller's entries take its
 * name — over the HTTP lookup's, CNAM's or the trunk's — unless the contact manager or the
 * CSV contacts name the caller, which come before the CRM.
 */
export async function applyCrmName(pools: Pool | DbPools, config: Config, tenant: string, key: string, name: string, settings: TenantSettings): Promise<number> {
  if (await namedBeforeCrm(pools, config, tenant, key, settings)) return 0;
  const [res] = await poolsOf(pools).ledger.query<import('mysql2').ResultSetHeader>(
    'UPDATE smart_missed_calls SET caller_name = ? WHERE tenant = ? AND pbx = @smc_pbx AND caller_key = ? AND anonymous = 0 AND caller_name <> ?',
    [name, tenant, key, name],
  );
  return res.affectedRows;
}

async function fromContactManager(pool: Pool, config: Config, key: string, settings: TenantSettings): Promise<CallerName | null> {
  if (config.pbx !== 'freepbx') return null;
  const db = ident(config.db.pbxDatabase);
  try {
    const [rows] = await pool.query<RowDataPacket[]>(
      `SELECT n.number, n.E164 AS e164, g.displayname, g.fname, g.lname, g.company
         FROM ${db}.contactmanager_entry_numbers n JOIN ${db}.contactmanager_group_entries g ON g.id = n.entryid
        WHERE n.number LIKE ? OR n.E164 LIKE ? ORDER BY g.id LIMIT 20`,
      [`%${key}`, `%${key}`],
    );
    const rules = numberRules(settings);
    for (const r of rows) {
      const matches = [r.number, r.e164].some((n) => typeof n === 'string' && n !== '' && normaliseNumber(n, rules).key === key);
      const name = String(r.displayname || [r.fname, r.lname].filter(Boolean).join(' ') || r.company || '').trim();
      if (matches && name) return { name, source: 'contactmanager' };
    }
  } catch (err) {
    // A PBX without the contact manager module: no such tables, no names from there.
    if ((err as { code?: string }).code !== 'ER_NO_SUCH_TABLE') throw err;
  }
  return null;
}

async function fromContacts(pool: Pool, tenant: string, key: string): Promise<CallerName | null> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT name FROM smart_missed_calls_contacts WHERE tenant = ? AND pbx = @smc_pbx AND caller_key = ?', [tenant, key]);
  return rows[0]?.name ? { name: String(rows[0].name), source: 'csv' } : null;
}

async function fromHttp(pool: Pool, config: Config, tenant: string, key: string, number: string, template: string): Promise<CallerName | null> {
  if (!template) return null;
  const [cached] = await pool.query<RowDataPacket[]>(
    `SELECT name FROM smart_missed_calls_lookups
      WHERE tenant = ? AND pbx = @smc_pbx AND caller_key = ? AND source = 'http'
        AND fetched_at >= NOW() - INTERVAL IF(name = '', ?, ?) SECOND`,
    [tenant, key, MISSING_TTL_SECONDS, FOUND_TTL_SECONDS],
  );
  if (cached[0]) return cached[0].name ? { name: String(cached[0].name), source: 'http' } : null;
  const outcome = await httpLookup(template, number, parseNetworks(config.notify.allowPrivateNetworks));
  await noteLookupProblem(pool, tenant, 'problem' in outcome ? withoutNumber(outcome.problem, number) : null);
  if ('problem' in outcome) return null;
  const name = outcome.name.slice(0, 160);
  await pool.query(
    `INSERT INTO smart_missed_calls_lookups (pbx, tenant, caller_key, name, source, fetched_at) VALUES (@smc_pbx, ?, ?, ?, 'http', NOW())
     ON DUPLICATE KEY UPDATE name = VALUES(name), source = VALUES(source), fetched_at = VALUES(fetched_at)`,
    [tenant, key, name],
  );
  return name ? { name, source: 'http' } : null;
}

/** name '' when the service answered "not found"; a problem when it could not be asked (nothing is cached then). */
export type LookupOutcome = { name: string } | { problem: OutboundError };

/**
 * Asks the tenant's lookup URL. The URL is typed by a tenant admin and its answer is shown
 * as the caller's name, so it goes through outboundRequest: internal targets are refused
 * unless config.yaml allows them, each redirect hop is checked again, and only a few KB
 * are read.
 */
export async function httpLookup(template: string, number: string, allowedNetworks: readonly Network[]): Promise<LookupOutcome> {
  const url = template.replace(/\{number\}/g, encodeURIComponent(number.trim()));
  let res: OutboundResponse;
  try {
    res = await outboundRequest({
      url,
      method: 'GET',
      headers: { accept: 'application/json, text/plain', 'user-agent': 'SmartMissedCalls' },
      timeoutMs: HTTP_TIMEOUT_MS,
      maxRedirects: HTTP_MAX_REDIRECTS,
      maxBodyBytes: NAME_MAX_BYTES,
      allowedNetworks,
    });
  } catch (err) {
    return { problem: err as OutboundError };
  }
  if (res.status === 404) return { name: '' };
  if (res.status < 200 || res.status >= 300) return { problem: new OutboundError('network', 'HTTP {status}', { status: res.status }) };
  const body = res.body.toString('utf8').trim();
  if (String(res.headers['content-type'] ?? '').includes('json') || body.startsWith('{')) {
    try {
      const parsed = JSON.parse(body) as { name?: unknown };
      return { name: typeof parsed.name === 'string' ? parsed.name.trim() : '' };
    } catch {
      return { problem: new OutboundError('network', 'the answer is not valid JSON') };
    }
  }
  return { name: body.split(/\r?\n/)[0]!.trim() };
}

/** The last failed lookup of each tenant, for the settings page; cleared by the next success. */
const LOOKUP_PROBLEMS_KEY = 'name_lookup_problems';

export interface LookupProblem {
  /** A gettext msgid with {name} placeholders (see OutboundError). */
  template: string;
  params: Record<string, string | number>;
}

/**
 * The problem with the caller's number taken out of it (a redirect's location may carry
 * it): the stored problem outlives `smc forget` of that number.
 */
function withoutNumber(problem: OutboundError, number: string): LookupProblem {
  const forms = [...new Set([number.trim(), encodeURIComponent(number.trim())])].filter(Boolean);
  const scrub = (v: string | number) => (typeof v === 'string' ? forms.reduce((text, form) => text.split(form).join('{number}'), v) : v);
  return { template: problem.template, params: Object.fromEntries(Object.entries(problem.params).map(([k, v]) => [k, scrub(v)])) };
}

async function readLookupProblems(pool: Pool): Promise<Record<string, LookupProblem>> {
  try {
    return JSON.parse((await readState(pool, LOOKUP_PROBLEMS_KEY)) ?? '{}') as Record<string, LookupProblem>;
  } catch {
    return {};
  }
}

export async function lookupProblemOf(pool: Pool, tenant: string): Promise<LookupProblem | null> {
  const problems = await readLookupProblems(pool);
  return Object.hasOwn(problems, tenant) ? problems[tenant]! : null;
}

async function noteLookupProblem(pool: Pool, tenant: string, problem: LookupProblem | null): Promise<void> {
  const problems = await readLookupProblems(pool);
  if (!problem && !Object.hasOwn(problems, tenant)) return;
  // fromEntries, not problems[tenant] = …: a tenant named __proto__ must stay a plain key.
  const others = Object.entries(problems).filter(([t]) => t !== tenant);
  const mine = problem ? [[tenant, problem] as const] : [];
  await writeState(pool, { [LOOKUP_PROBLEMS_KEY]: JSON.stringify(Object.fromEntries([...others, ...mine])) });
}

async function fromCnam(pool: Pool, config: Config, key: string, settings: TenantSettings): Promise<CallerName | null> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT src, cnam FROM ${ident(config.db.cdrDatabase)}.${ident(config.db.cdrTable)}
      WHERE calldate >= NOW() - INTERVAL ? DAY AND src LIKE ? AND cnam <> '' ORDER BY calldate DESC LIMIT 20`,
    [CNAM_DAYS, `%${key}`],
  );
  const rules = numberRules(settings);
  for (const r of rows) {
    const name = String(r.cnam).trim();
    if (name && !digitsOnly(name) && normaliseNumber(String(r.src), rules).key === key) return { name, source: 'cnam' };
  }
  return null;
}

/**
 * Fills the names of these entries when they have none, or only the number as a name; with
 * a CRM connected, a name the trunk sent gives way to the CRM's too (the CRM comes before
 * CNAM in the chain). A name is not an audited fact, so this writes no journal rows.
 */
export async function fillCallerNames(
  pools: Pool | DbPools, config: Config, tenant: string, entryIds: number[], settings?: TenantSettings, crmNames?: CrmNameFill | null,
): Promise<number> {
  if (entryIds.length === 0) return 0;
  const pool = poolsOf(pools).ledger;
  const s = settings ?? (await loadSettings(pool, tenant));
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT id, caller, caller_raw, caller_name FROM smart_missed_calls WHERE tenant = ? AND pbx = @smc_pbx AND id IN (?) AND anonymous = 0`,
    [tenant, entryIds],
  );
  let filled = 0;
  for (const r of rows) {
    const number = String(r.caller_raw || r.caller);
    let found: CallerName | null;
    if (r.caller_name && !digitsOnly(String(r.caller_name))) {
      if (s.crm.kind === '') continue;
      const key = normaliseNumber(number, numberRules(s)).key;
      found = await fromCrm(pool, tenant, key, number, s, crmNames ?? null);
      if (!found || found.name === r.caller_name || (await namedBeforeCrm(pools, config, tenant, key, s))) continue;
    } else {
      found = await resolveCallerName(pools, config, tenant, number, s, crmNames);
    }
    if (!found) continue;
    const [res] = await pool.query<import('mysql2').ResultSetHeader>(
      'UPDATE smart_missed_calls SET caller_name = ? WHERE id = ? AND caller_name = ?',
      [found.name, r.id, r.caller_name],
    );
    filled += res.affectedRows;
  }
  return filled;
}
