import type { RouteLabels } from '../detect/explain.js';
import type { RoutePath, RouteStep, RouteStepKind, RouteStepVia } from '../detect/verdict.js';

/**
 * Where FreePBX's own configuration sends a call that came in on a DID: the inbound route's
 * destination, and from there each queue's, ring group's, IVR's and follow-me's failover, and
 * both branches of a time condition. Pure: the tables are read elsewhere (freepbx-directory.ts,
 * or a JSON export for `smc explain --pbx-config`).
 *
 * FreePBX stores every destination as a dialplan goto, `context,exten,priority`
 * (`ext-queues,400,1`, `ext-local,vmu104,1`, `app-blackhole,hangup,1`, `timeconditions,1,1`),
 * the strings each module's `*_destinations()` offers the GUI.
 */

export interface ConfiguredQueue {
  name: string;
  failover: string;
  /** Max Wait Time (queues_config.maxwait); 0 = unlimited. */
  maxWaitSeconds: number;
  /**
   * The caller leaves for the failover only when maxwait runs out: joins even when no agent
   * is there (joinempty yes, Asterisk's default), is not pulled out when agents go
   * (leavewhenempty no, the default), and no max length turns callers away.
   */
  leavesOnlyAtMaxWait: boolean;
}

/** The routing part of a FreePBX configuration. */
export interface PbxRoutes {
  /** incoming: DID ('' = any DID) and caller ID ('' = any caller) → destination. */
  inbound: { did: string; cid: string; destination: string; name: string }[];
  queues: Map<string, ConfiguredQueue>;
  ringGroups: Map<string, { name: string; failover: string }>;
  ivrs: Map<string, { name: string; timeout: string; invalid: string; choices: { digit: string; destination: string }[] }>;
  timeConditions: Map<string, { name: string; matched: string; unmatched: string }>;
  /** findmefollow: the extension's follow-me and the destination when nobody answered it. */
  followMe: Map<string, { failover: string }>;
  /** users: extension → name. */
  extensionNames: Map<string, string>;
}

export const NO_ROUTES: PbxRoutes = {
  inbound: [], queues: new Map(), ringGroups: new Map(), ivrs: new Map(), timeConditions: new Map(), followMe: new Map(), extensionNames: new Map(),
};

/** A call is followed through at most this many steps and this many ways; configurations are small, loops are cut earlier. */
const MAX_STEPS = 8;
const MAX_PATHS = 16;

/** The step a FreePBX goto string names, before its name and next steps are known. */
export function parseDestination(destination: string): Pick<RouteStep, 'kind' | 'id'> {
  const [context = '', exten = '', priority = ''] = destination.trim().split(',');
  const ivr = /^ivr-(\d+)$/.exec(context);
  if (ivr) return { kind: 'ivr', id: ivr[1]! };
  switch (context) {
    case 'ext-queues':
      return { kind: 'queue', id: exten };
    case 'ext-group':
      return { kind: 'ringgroup', id: exten };
    case 'from-did-direct':
      return { kind: 'extension', id: exten };
    case 'ext-findmefollow':
      return { kind: 'extension', id: exten.replace(/^FM/, '') };
    case 'timeconditions':
      return { kind: 'timecondition', id: exten };
    case 'app-blackhole':
      return { kind: 'hangup', id: exten };
    case 'ext-local': {
      const box = /^vm[ubsi](\d+)$/.exec(exten);
      if (box) return { kind: 'voicemail', id: box[1]! };
      // `ext-local,105,dest` is follow-me's "normal extension behavior"; `ext-local,105,1` the extension.
      if (/^\d+$/.test(exten) && (priority === 'dest' || priority === '1')) return { kind: 'extension', id: exten };
      break;
    }
  }
  return { kind: 'other', id: destination.trim() };
}

/** The inbound route FreePBX picks for a DID and caller: DID and CID, DID alone, CID alone, then the catch-all. */
export function inboundRouteOf(routes: PbxRoutes, did: string, caller: string): PbxRoutes['inbound'][number] | null {
  const find = (d: string, c: string) => routes.inbound.find((r) => r.did === d && r.cid === c);
  return (caller ? find(did, caller) : undefined) ?? find(did, '') ?? (caller ? find('', caller) : undefined) ?? find('', '') ?? null;
}

/**
 * Every way the configuration can take a call on `did` from `caller`, each from the inbound
 * route to where it stops. Cycle-safe and bounded; [] when no inbound route matches.
 */
export function routePaths(routes: PbxRoutes, did: string, caller: string): RoutePath[] {
  const inbound = inboundRouteOf(routes, did, caller);
  if (!inbound) return [];
  const paths: RoutePath[] = [];
  const start: RouteStep = { kind: 'did', id: did, name: inbound.name, via: 'start' };
  const walk = (before: RouteStep[], destination: string, via: RouteStepVia, choice?: string): void => {
    if (paths.length >= MAX_PATHS) return;
    if (before.length >= MAX_STEPS) {
      paths.push({ steps: before, ends: 'limit' });
      return;
    }
    const { kind, id } = parseDestination(destination);
    const node = nextOf(routes, kind, id);
    const step: RouteStep = { kind, id, name: node.name, via, ...(choice === undefined ? {} : { choice }) };
    const steps = [...before, step];
    if (kind !== 'other' && before.some((s) => s.kind === kind && s.id === id)) {
      paths.push({ steps, ends: 'loop' });
      return;
    }
    if (node.missing) {
      paths.push({ steps, ends: 'missing' });
      return;
    }
    // Follow-me's "normal extension behavior" is the extension itself: nothing further to follow.
    const next = node.next.filter((n) => n.destination && !(kind === 'extension' && sameStep(parseDestination(n.destination), step)));
    if (next.length === 0) paths.push({ steps, ends: 'end' });
    for (const n of next) walk(steps, n.destination, n.via, n.choice);
  };
  walk([start], inbound.destination, 'destination');
  return paths;
}

function sameStep(a: Pick<RouteStep, 'kind' | 'id'>, b: Pick<RouteStep, 'kind' | 'id'>): boolean {
  return a.kind === b.kind && a.id === b.id;
}

interface Next {
  destination: string;
  via: RouteStepVia;
  choice?: string;
}

/** A step's name and where the configuration sends the caller from it. */
function nextOf(routes: PbxRoutes, kind: RouteStepKind, id: string): { name: string; next: Next[]; missing: boolean } {
  const none = (name = '') => ({ name, next: [], missing: false });
  const missing = { name: '', next: [], missing: true };
  switch (kind) {
    case 'queue': {
      const q = routes.queues.get(id);
      return q ? { name: q.name, next: [{ destination: q.failover, via: 'failover' }], missing: false } : missing;
    }
    case 'ringgroup': {
      const g = routes.ringGroups.get(id);
      return g ? { name: g.name, next: [{ destination: g.failover, via: 'failover' }], missing: false } : missing;
    }
    case 'ivr': {
      const ivr = routes.ivrs.get(id);
      if (!ivr) return missing;
      const next: Next[] = ivr.choices.map((c) => ({ destination: c.destination, via: 'choice', choice: c.digit }));
      next.push({ destination: ivr.timeout, via: 'timeout' });
      if (ivr.invalid !== ivr.timeout) next.push({ destination: ivr.invalid, via: 'invalid' });
      return { name: ivr.name, next, missing: false };
    }
    case 'timecondition': {
      const tc = routes.timeConditions.get(id);
      return tc ? { name: tc.name, next: [{ destination: tc.matched, via: 'matched' }, { destination: tc.unmatched, via: 'unmatched' }], missing: false } : missing;
    }
    case 'extension': {
      const followMe = routes.followMe.get(id);
      return { name: routes.extensionNames.get(id) ?? '', next: followMe ? [{ destination: followMe.failover, via: 'failover' }] : [], missing: false };
    }
    case 'voicemail':
      return none(routes.extensionNames.get(id) ?? '');
    default:
      return none();
  }
}

/** FreePBX's tables as rows (only the columns we use): what the directory reads, and what `--pbx-config` holds. */
export interface FreepbxRouteTables {
  incoming?: { extension: string; cidnum?: string | null; destination?: string | null; description?: string | null }[];
  queues_config?: { extension: string; descr?: string | null; maxwait?: string | null; dest?: string | null }[];
  queues_details?: { id: string; keyword: string; data: string }[];
  ringgroups?: { grpnum: string; description?: string | null; postdest?: string | null }[];
  ivr_details?: { id: string | number; name?: string | null; timeout_destination?: string | null; invalid_destination?: string | null }[];
  ivr_entries?: { ivr_id: string | number; selection?: string | null; dest?: string | null }[];
  timeconditions?: { timeconditions_id: string | number; displayname?: string | null; truegoto?: string | null; falsegoto?: string | null }[];
  findmefollow?: { grpnum: string; postdest?: string | null }[];
  users?: { extension: string; name?: string | null }[];
}

/** The names the configuration gives its routes, as the classifier and the page label them. */
export function routeLabelsOf(routes: PbxRoutes): RouteLabels {
  const names = (entries: Iterable<[string, { name: string }]>) => Object.fromEntries([...entries].map(([id, { name }]) => [id, name]));
  return {
    queue: names(routes.queues),
    ringgroup: names(routes.ringGroups),
    ivr: names(routes.ivrs),
    extension: Object.fromEntries(routes.extensionNames),
    route: Object.fromEntries(routes.inbound.filter((r) => r.did !== '').map((r) => [r.did, r.name])),
  };
}

export function routesFromTables(tables: FreepbxRouteTables): PbxRoutes {
  const text = (v: string | number | null | undefined) => (v === null || v === undefined ? '' : String(v).trim());
  const details = new Map<string, Map<string, string>>();
  for (const d of tables.queues_details ?? []) {
    const of = details.get(text(d.id)) ?? new Map<string, string>();
    of.set(text(d.keyword), text(d.data));
    details.set(text(d.id), of);
  }
  const queues = new Map<string, ConfiguredQueue>();
  for (const q of tables.queues_config ?? []) {
    const id = text(q.extension);
    const keyword = (k: string) => details.get(id)?.get(k) ?? '';
    const maxWaitSeconds = Number(text(q.maxwait)) || 0;
    queues.set(id, {
      name: text(q.descr),
      failover: text(q.dest),
      maxWaitSeconds,
      leavesOnlyAtMaxWait:
        maxWaitSeconds > 0 && ['', 'yes'].includes(keyword('joinempty')) && ['', 'no'].includes(keyword('leavewhenempty')) && ['', '0'].includes(keyword('maxlen')),
    });
  }
  const ivrs: PbxRoutes['ivrs'] = new Map();
  for (const i of tables.ivr_details ?? []) {
    ivrs.set(text(i.id), { name: text(i.name), timeout: text(i.timeout_destination), invalid: text(i.invalid_destination), choices: [] });
  }
  for (const e of tables.ivr_entries ?? []) {
    ivrs.get(text(e.ivr_id))?.choices.push({ digit: text(e.selection), destination: text(e.dest) });
  }
  return {
    inbound: (tables.incoming ?? []).map((r) => ({ did: text(r.extension), cid: text(r.cidnum), destination: text(r.destination), name: text(r.description) })),
    queues,
    ringGroups: new Map((tables.ringgroups ?? []).map((g) => [text(g.grpnum), { name: text(g.description), failover: text(g.postdest) }])),
    ivrs,
    timeConditions: new Map(
      (tables.timeconditions ?? []).map((t) => [text(t.timeconditions_id), { name: text(t.displayname), matched: text(t.truegoto), unmatched: text(t.falsegoto) }]),
    ),
    followMe: new Map((tables.findmefollow ?? []).map((f) => [text(f.grpnum), { failover: text(f.postdest) }])),
    extensionNames: new Map((tables.users ?? []).map((u) => [text(u.extension), text(u.name)])),
  };
}
