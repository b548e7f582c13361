import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { DbConfig } from '../config/schema.js';
import { ident } from '../db/pool.js';
import { extensionTest, type ExtensionTest } from '../detect/channels.js';
import type { RouteLabels } from '../detect/explain.js';
import { explain } from '../detect/explain.js';
import { byExtension, type RangExtension, type Verdict } from '../detect/verdict.js';
import type { CallDirectory, OwnedRow } from './call-directory.js';
import { NO_ROUTES } from './pbx-routes.js';
import type { CdrRow } from './row.js';

/**
 * VitalPBX 4 multi-tenant: one Asterisk, one cdr table, many tenants. Every object of a
 * tenant is named with the tenant's prefix (ombu_tenants.prefix, else `T<tenant_id>_`):
 * endpoints PJSIP/T2_101, contexts T2_ext-queues, queues T2_Q750. Trunks are shared and
 * named by trunk, so an inbound call's trunk channel says nothing about the tenant.
 */
export interface VitalTenant {
  id: number;
  /** Our tenant key: ombu_tenants.name, which is also what the dialplan stamps in CDR(tenant). */
  key: string;
  name: string;
  prefix: string;
  /** The main tenant (ombu_tenants.default = 'yes', else tenant 1): its objects may carry no prefix. */
  main: boolean;
  extensions: Set<string>;
  /** Device user (the endpoint name without prefix, e.g. 105_1) → extension number. */
  devices: Map<string, string>;
  labels: RouteLabels;
}

export interface VitalDirectoryData {
  tenants: VitalTenant[];
  /** ombu_inbound_routes: DID (exact, or an Asterisk pattern like 4055XX) → tenant id. */
  dids: { did: string; tenantId: number }[];
}

const TENANT_KEY = /^[\w.-]{1,64}$/;

/** Our key for a VitalPBX tenant: its name when that is a safe identifier, else tenant-<id>. */
export function tenantKey(id: number, name: string): string {
  return TENANT_KEY.test(name) ? name : `tenant-${id}`;
}

/**
 * Per call: the tenant column the dialplan stamps (CDR(tenant) = tenant name), else the
 * tenant prefix on a channel or context, else the DID through ombu_inbound_routes, else
 * the main tenant. The root row (uniqueid = linkedid) is asked first, then the others.
 */
export function resolveTenant(data: VitalDirectoryData, rows: CdrRow[]): VitalTenant {
  const main = data.tenants.find((t) => t.main) ?? data.tenants[0];
  if (!main) throw new Error('VitalPBX has no tenants (ombu_tenants is empty)');
  const root = rows.find((r) => r.uniqueid === r.linkedid);
  const ordered = root ? [root, ...rows.filter((r) => r !== root)] : rows;

  for (const row of ordered) {
    const stamped = row.tenant?.trim();
    if (!stamped) continue;
    const known = data.tenants.find((t) => t.name === stamped || t.key === stamped);
    if (known) return known;
  }
  for (const row of ordered) {
    for (const text of [row.channel, row.dcontext, row.dstchannel]) {
      const found = tenantByPrefix(data.tenants, text);
      if (found) return found;
    }
  }
  for (const row of ordered) {
    if (!row.did) continue;
    const route = data.dids.find((d) => didMatches(d.did, row.did));
    const tenant = route && data.tenants.find((t) => t.id === route.tenantId);
    if (tenant) return tenant;
  }
  return main;
}

/**
 * Whether a row of a call given to `tenant` is that tenant's own leg: a row stamped with
 * another tenant (or with no tenant we know), or whose channel or context carries another
 * tenant's prefix, is the other tenant's. Unstamped rows without a foreign prefix (the
 * shared trunk's leg) belong to the call.
 */
export function ownsRow(tenants: VitalTenant[], tenant: VitalTenant, row: OwnedRow): boolean {
  const stamped = row.tenant?.trim();
  if (stamped) return stamped === tenant.name || stamped === tenant.key;
  return [row.channel, row.dstchannel, row.dcontext].every((text) => {
    const owner = tenantByPrefix(tenants, text);
    return owner === null || owner === tenant;
  });
}

/** The tenant whose prefix starts a channel's endpoint, a Local channel's context, or a context. */
export function tenantByPrefix(tenants: VitalTenant[], text: string): VitalTenant | null {
  if (!text) return null;
  const slash = text.indexOf('/');
  const resource = slash >= 0 ? text.slice(slash + 1) : text;
  const at = resource.indexOf('@');
  const candidates = at >= 0 ? [resource.slice(at + 1), resource] : [resource];
  let best: VitalTenant | null = null;
  for (const tenant of tenants) {
    if (!tenant.prefix) continue;
    if (candidates.some((c) => c.startsWith(tenant.prefix)) && (!best || tenant.prefix.length > best.prefix.length)) best = tenant;
  }
  return best;
}

/** An inbound route's DID: exact digits, or an Asterisk pattern (X, Z, N, [..], . and !). */
export function didMatches(routeDid: string, did: string): boolean {
  const pattern = routeDid.trim().replace(/^_/, '');
  if (!pattern) return false;
  if (!/[XZN.![\]]/i.test(pattern)) return pattern === did;
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === 'X' || c === 'x') source += '[0-9]';
    else if (c === 'Z' || c === 'z') source += '[1-9]';
    else if (c === 'N' || c === 'n') source += '[2-9]';
    else if (c === '.') source += '.+';
    else if (c === '!') source += '.*';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) return false;
      source += `[${pattern.slice(i + 1, end).replace(/[^0-9-]/g, '')}]`;
      i = end;
    } else source += c.replace(/[^0-9*#+]/g, '').replace(/[*+]/g, '\\$&');
  }
  return new RegExp(`^${source}$`).test(did);
}

/** Strips the tenant's own prefix from an endpoint or context name; a foreign prefix stays. */
function ownName(tenant: VitalTenant, name: string): string {
  return tenant.prefix && name.startsWith(tenant.prefix) ? name.slice(tenant.prefix.length) : name;
}

function foreignPrefixed(tenants: VitalTenant[], tenant: VitalTenant, name: string): boolean {
  if (tenant.prefix && name.startsWith(tenant.prefix)) return false;
  return /^T\d+_/.test(name) || tenants.some((t) => t !== tenant && t.prefix !== '' && name.startsWith(t.prefix));
}

/**
 * Whether an endpoint is one of THIS tenant's extensions: T2_101 and the bare 101 of a
 * Local channel are tenant 2's 101; T3_101 is never tenant 2's, whatever 101 is there.
 */
export function vitalExtensionTest(tenants: VitalTenant[], tenant: VitalTenant, ranges: string): ExtensionTest {
  const fallback = tenant.extensions.size === 0 ? extensionTest(ranges) : null;
  return (endpoint: string) => {
    if (foreignPrefixed(tenants, tenant, endpoint)) return false;
    const name = ownName(tenant, endpoint);
    if (tenant.extensions.has(name) || tenant.devices.has(name)) return true;
    return fallback !== null && fallback(name);
  };
}

// VitalPBX's context names (after the tenant prefix) → the FreePBX names the classifier knows.
const CONTEXTS: [RegExp, string][] = [
  [/^ext-ringgroups$/, 'ext-group'],
  [/^ring-group-dial$/, 'from-internal'],
  [/^queue-call-to-agents$/, 'from-queue'],
  [/^cos-.*$/, 'from-internal'],
  [/^ext-followme$/, 'ext-findmefollow'],
];

function classifierContext(tenant: VitalTenant, context: string, dst: string): string {
  const own = context.startsWith(tenant.prefix) || (tenant.main && !/^T\d+_/.test(context));
  if (!own) return context;
  const bare = ownName(tenant, context);
  const ivr = /^IVR-(\d+)$/.exec(dst);
  if (bare === 'app-ivr' && ivr) return `ivr-${ivr[1]}`;
  for (const [pattern, freepbx] of CONTEXTS) if (pattern.test(bare)) return freepbx;
  return bare;
}

/** Local/101@T2_queue-call-to-agents-0000000a;1 → Local/101@from-queue-0000000a;1 */
function classifierChannel(tenant: VitalTenant, channel: string): string {
  const m = /^(Local\/[^@]*@)(.+?)(-[0-9a-f]+)?(;[12])?$/i.exec(channel);
  if (!m) return channel;
  return `${m[1]}${classifierContext(tenant, m[2]!, '')}${m[3] ?? ''}${m[4] ?? ''}`;
}

export function adaptRows(tenant: VitalTenant, rows: CdrRow[]): CdrRow[] {
  return rows.map((row) => ({
    ...row,
    dcontext: classifierContext(tenant, row.dcontext, row.dst),
    channel: classifierChannel(tenant, row.channel),
    dstchannel: classifierChannel(tenant, row.dstchannel),
  }));
}

/** An endpoint of the tenant as its users know it: T2_105_1 → 105. */
function extensionOf(tenant: VitalTenant, endpoint: string): string {
  const name = ownName(tenant, endpoint);
  return tenant.devices.get(name) ?? name;
}

const OUTCOME_RANK: Record<RangExtension['outcome'], number> = { unavailable: 0, no_answer: 1, busy: 2, answered: 3 };

export function presentVerdict(tenant: VitalTenant, verdict: Verdict): Verdict {
  const rang = new Map<string, RangExtension>();
  for (const r of verdict.rang) {
    const ext = extensionOf(tenant, r.ext);
    const seen = rang.get(ext);
    if (!seen) rang.set(ext, { ...r, ext });
    else {
      seen.tries += r.tries;
      seen.ringSeconds += r.ringSeconds;
      if (OUTCOME_RANK[r.outcome] > OUTCOME_RANK[seen.outcome]) seen.outcome = r.outcome;
    }
  }
  const answeredBy = verdict.answeredBy && !verdict.answeredBy.startsWith('external:') ? extensionOf(tenant, verdict.answeredBy) : verdict.answeredBy;
  const presented: Verdict = {
    ...verdict,
    rang: [...rang.values()].sort(byExtension),
    answeredBy,
    caller: verdict.direction === 'inbound' ? verdict.caller : extensionOf(tenant, verdict.caller),
    route: verdict.route.kind === 'extension' ? { ...verdict.route, id: extensionOf(tenant, verdict.route.id) } : verdict.route,
  };
  presented.explanation = explain(presented);
  return presented;
}

export function vitalCallDirectory(data: VitalDirectoryData): CallDirectory {
  const byKey = (key: string): VitalTenant => {
    const tenant = data.tenants.find((t) => t.key === key);
    if (!tenant) throw new Error(`tenant '${key}' is not a VitalPBX tenant`);
    return tenant;
  };
  return {
    tenantOf: (rows) => resolveTenant(data, rows).key,
    isExtension: (key, ranges) => vitalExtensionTest(data.tenants, byKey(key), ranges),
    labels: (key) => byKey(key).labels,
    // VitalPBX's route tables are not read yet: its calls are judged by their rows alone.
    routes: () => NO_ROUTES,
    adapt: (key, rows) => adaptRows(byKey(key), rows),
    present: (key, verdict) => presentVerdict(byKey(key), verdict),
    ownsRow: (key, row) => {
      const tenant = data.tenants.find((t) => t.key === key);
      return tenant !== undefined && ownsRow(data.tenants, tenant, row);
    },
  };
}

/**
 * Reads ombutel's ombu_tenants, ombu_extensions, ombu_devices, ombu_queues,
 * ombu_ring_groups, ombu_ivrs and ombu_inbound_routes. Without ombu_tenants no call can
 * be given a tenant safely, so that failure stops the cycle (it is retried); the other
 * tables only lose labels or fall back to the configured extension ranges.
 */
export async function loadVitalpbxDirectory(pool: Pool, db: DbConfig): Promise<CallDirectory> {
  return vitalCallDirectory(await readVitalpbxDirectory(pool, db));
}

export async function readVitalpbxDirectory(pool: Pool, db: DbConfig): Promise<VitalDirectoryData> {
  const schema = ident(db.pbxDatabase);
  const [tenantRows] = await pool.query<RowDataPacket[]>(
    `SELECT tenant_id, name, prefix, \`default\` AS main FROM ${schema}.ombu_tenants ORDER BY tenant_id`,
  );
  const optional = async (sql: string): Promise<RowDataPacket[]> => {
    try {
      const [rows] = await pool.query<RowDataPacket[]>(sql.replaceAll('{db}', schema));
      return rows;
    } catch {
      return [];
    }
  };
  const extensions = await optional('SELECT extension_id, extension, name, tenant_id FROM {db}.ombu_extensions');
  const devices = await optional('SELECT d.user, e.extension, COALESCE(d.tenant_id, e.tenant_id) AS tenant_id FROM {db}.ombu_devices d JOIN {db}.ombu_extensions e ON e.extension_id = d.extension_id');
  const queues = await optional('SELECT extension, description, tenant_id FROM {db}.ombu_queues');
  const groups = await optional('SELECT extension, description, tenant_id FROM {db}.ombu_ring_groups');
  const ivrs = await optional('SELECT ivr_id, description, tenant_id FROM {db}.ombu_ivrs');
  const routes = await optional("SELECT did, description, tenant_id FROM {db}.ombu_inbound_routes WHERE did IS NOT NULL AND did <> ''");

  const hasMain = tenantRows.some((r) => r.main === 'yes');
  // Objects with a NULL tenant_id are the main tenant's (VitalPBX's single-tenant shape).
  const mainId = Number(tenantRows.find((r) => r.main === 'yes')?.tenant_id ?? tenantRows[0]?.tenant_id ?? 1);
  const of = (rows: RowDataPacket[], id: number) => rows.filter((r) => Number(r.tenant_id ?? mainId) === id);
  const pairs = (rows: RowDataPacket[], k: string, v: string) =>
    Object.fromEntries(rows.filter((r) => r[k] !== null && r[k] !== '').map((r) => [String(r[k]), String(r[v] ?? '')]));

  const tenants = tenantRows.map((r): VitalTenant => {
    const id = Number(r.tenant_id);
    const name = String(r.name);
    const own = { extensions: of(extensions, id), devices: of(devices, id) };
    return {
      id,
      key: tenantKey(id, name),
      name,
      prefix: r.prefix ? String(r.prefix) : `T${id}_`,
      main: hasMain ? r.main === 'yes' : id === mainId,
      extensions: new Set(own.extensions.map((e) => String(e.extension))),
      devices: new Map(own.devices.filter((d) => d.user).map((d) => [String(d.user), String(d.extension)])),
      labels: {
        queue: pairs(of(queues, id), 'extension', 'description'),
        ringgroup: pairs(of(groups, id), 'extension', 'description'),
        ivr: pairs(of(ivrs, id), 'ivr_id', 'description'),
        extension: pairs(own.extensions, 'extension', 'name'),
        route: pairs(of(routes, id), 'did', 'description'),
      },
    };
  });
  return {
    tenants,
    dids: routes.map((r) => ({ did: String(r.did), tenantId: Number(r.tenant_id ?? mainId) })),
  };
}
