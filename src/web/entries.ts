import type { Request, Response, Router } from 'express';
import type { RouteLabels } from '../detect/explain.js';
import { routePaths, type PbxRoutes } from '../cdr/pbx-routes.js';
import { pathsThrough } from '../detect/configured-route.js';
import { explain } from '../detect/explain.js';
import type { Verdict } from '../detect/verdict.js';
import { resolveEntry } from '../ledger/actions.js';
import { NotFound } from '../ledger/not-found.js';
import { AmiError, amiConfigured, dialableNumber, originateCallback } from '../pbx/ami.js';
import { NOTE_MAX_CHARS, numberRules, type Entry } from '../ledger/entries.js';
import { loadSettings } from '../config/settings-store.js';
import type { TenantSettings } from '../config/schema.js';
import { BusinessClock } from '../ledger/callback-target.js';
import { ledgerZone } from '../notify/escalation.js';
import { requireChange, viewerOf, type Viewer } from './auth.js';
import type { WebContext } from './context.js';
import { csvLine } from './csv.js';
import { filterChoices, todayOf } from './dashboard-queries.js';
import { currentHistory } from './history.js';
import { reasonNames } from './dashboard.js';
import {
  anyEntries, callsOfEntry, cdrRowsOf, CDR_REPORT_COLUMNS, crmOwnersOf, CSV_LIMIT, findEntry, journalOf, listEntries, ownerKey, PAGE_SIZE, type PbxEntry, type StoredCall,
} from './entry-queries.js';
import { TenantScope } from './tenant-scope.js';
import { claimFields, claimFor, claimModel, claimOf, claimsOf } from './claims.js';
import type { Claim } from '../ledger/claims.js';
import { decimal, listFilter, type ListFilter } from './filters.js';
import { renderFile, renderPage } from './render.js';
import { extensionLabel, routeLabel } from '../detect/explain.js';

/** The attempts shown with their raw CDR rows; older ones show the verdict only. */
const CDR_SHOWN = 20;

/**
 * The names this PBX's configuration gives its routes and extensions; another PBX's rows (a
 * group's pages) show bare numbers: queue 400 there is not queue 400 here.
 */
function labelsFor(e: PbxEntry, ctx: WebContext, directory: RouteLabels): RouteLabels {
  return e.pbx === ctx.config.pbxId ? directory : {};
}

/**
 * Whether this page may act on the entry (resolve it, call the caller back): only on this
 * PBX's entries. The journal of another PBX's entries is chained with that PBX's audit key,
 * which only its own service holds; the ledger's resolve reads `pbx = @smc_pbx` too.
 */
function ownEntry(ctx: WebContext, e: PbxEntry): boolean {
  return e.pbx === ctx.config.pbxId;
}

function otherPbxRefusal(viewer: Viewer, e: PbxEntry) {
  return { error: 'other_pbx', message: viewer.t('This entry is on the list of PBX {pbx}: it is resolved and called back from that PBX’s page.', { pbx: e.pbx }) };
}

/** What places an entry against its callback target: the tenant's business clock and the ledger's zone. */
interface TargetContext {
  clock: BusinessClock;
  zone: string;
}

function targetContext(ctx: WebContext, settings: TenantSettings): TargetContext {
  return { clock: new BusinessClock(settings), zone: ledgerZone(ctx.config) };
}

/**
 * "Past target by 25 min" for an open entry of this PBX whose callback target has passed,
 * else ''. Another PBX's entries are measured by that PBX (its settings, its escalations).
 */
function pastTargetOf(e: PbxEntry, viewer: Viewer, now: number, own: boolean, target: TargetContext): string {
  if (!own || e.status !== 'open') return '';
  const late = target.clock.lateBy(e, naiveOf(now), target.zone);
  return late === null ? '' : viewer.t('Past target by {time}', { time: viewer.fmt.duration(Math.max(60, late / 1000)) });
}

/** One list row, every field already formatted for the reader; `owner`: the caller's owner in the tenant's CRM, or ''. */
function rowModel(
  e: PbxEntry, viewer: Viewer, directory: RouteLabels, now: number, claim: Claim | null, own: boolean, target: TargetContext, owner: string,
) {
  const { t, fmt } = viewer;
  const reasons = reasonNames(t);
  const lastSeconds = (now - Date.parse(e.lastAttempt.replace(' ', 'T') + 'Z')) / 1000;
  return {
    id: e.id!,
    pbx: e.pbx,
    caller: e.anonymous ? t('Withheld number') : e.caller,
    name: e.callerName && e.callerName !== e.callerRaw && e.callerName !== e.caller ? e.callerName : '',
    owner,
    did: e.did,
    route: routeLabel({ kind: e.routeKind, id: e.routeId }, directory, t),
    missedCount: e.missedCount,
    totalMissed: e.totalMissed,
    rang: Object.entries(e.rang).map(([ext, n]) => ({ ext, n, label: extensionLabel(ext, directory) })),
    firstAttempt: fmt.datetime(e.firstAttempt),
    lastAttempt: fmt.datetime(e.lastAttempt),
    age: fmt.duration(lastSeconds),
    open: e.status === 'open',
    /** The reason's code (returned, answered_later, manual, expired) for API readers; status is its label. */
    clearedBy: e.clearedBy,
    clearedExt: e.clearedExt,
    status: e.status === 'open' ? t('Open') : reasons[e.clearedBy ?? ''] ?? e.clearedBy ?? '',
    clearedDetail: e.status === 'open' ? '' : [e.clearedExt ? t('ext. {ext}', { ext: e.clearedExt }) : '', e.clearedUser ?? ''].filter(Boolean).join(', '),
    voicemailLeft: e.voicemailLeft,
    href: viewer.links.page('entry', {}, e.id!),
    claim: claimModel(viewer, e, claim, own, naiveOf(now)),
    pastTarget: pastTargetOf(e, viewer, now, own, target),
  };
}

/** An epoch of the naive clock as the rows write it. */
function naiveOf(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** The PBX's clock, as the naive epoch the rows use: ages are computed against it. */
async function dbNow(ctx: WebContext): Promise<number> {
  const [rows] = await ctx.pool.query('SELECT NOW() AS now');
  return Date.parse(String((rows as { now: string }[])[0]!.now).replace(' ', 'T') + 'Z');
}

async function listModel(ctx: WebContext, req: Request, viewer: Viewer) {
  const f = listFilter(req);
  const settings = await loadSettings(ctx.pool, viewer.tenant);
  const { entries, total } = await listEntries(viewer.scope, f, numberRules(settings));
  const target = targetContext(ctx, settings);
  const directory = await ctx.labels.current(viewer.tenant);
  const now = await dbNow(ctx);
  const claims = await claimsOf(viewer.scope, entries, naiveOf(now));
  const owners = await crmOwnersOf(viewer.scope, settings.crm.kind, entries);
  const rows = entries.map((e) => rowModel(e, viewer, labelsFor(e, ctx, directory), now, claimOf(claims, e), ownEntry(ctx, e), target, owners.get(ownerKey(e)) ?? ''));
  return { filter: f, total, pages: Math.max(1, Math.ceil(total / PAGE_SIZE)), rows, unknownPbx: viewer.pbx?.unknown ?? false };
}

function filterParams(f: ListFilter): Record<string, string | number> {
  return { status: f.status, from: f.from, to: f.to, route: f.route, did: f.did, ext: f.ext, q: f.q, sort: f.sort, dir: f.dir };
}

/**
 * A stored call as the Verdict explain() reads, so its lines can be written in the reader's
 * language. A route the PBX's configuration named is traced again through today's configuration.
 */
function verdictOf(c: StoredCall, directory: RouteLabels, routes: PbxRoutes | null, viewer: Viewer): Verdict {
  const route = { kind: c.routeKind as Verdict['route']['kind'], id: c.routeId };
  const configured = routes && c.reasons.includes('route_from_config') ? pathsThrough(routePaths(routes, c.did, c.caller), route, c.voicemail?.box ?? null) : [];
  return {
    linkedid: c.linkedid, verdict: c.verdict as Verdict['verdict'], direction: c.direction as Verdict['direction'], caller: c.caller,
    callerName: '', anonymous: c.callerKey === 'anonymous', did: c.did, dialled: c.dialled, startedAt: c.startedAt, endedAt: c.endedAt,
    waitSeconds: c.waitSeconds, rang: c.rang as Verdict['rang'], answeredBy: c.answeredBy,
    route: { ...route, label: routeLabel(route, directory, viewer.t) },
    voicemail: c.voicemail, reasons: c.reasons as Verdict['reasons'], explanation: [], rowCount: c.rowCount,
    ...(configured.length ? { configuredRoute: configured } : {}),
  };
}

export function entryRoutes(router: Router, ctx: WebContext): void {
  router.get('/entries', async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const model = await listModel(ctx, req, viewer);
    const choices = await filterChoices(viewer.scope);
    const directory = await ctx.labels.current(viewer.tenant);
    const params = filterParams(model.filter);
    await renderPage(ctx, res, 'entries', {
      view: 'entries',
      ...model,
      history: await currentHistory(ctx, viewer, await todayOf(viewer.scope)),
      firstVisit: !(await anyEntries(viewer.scope)),
      params,
      routeChoices: choices.routes.map((r) => ({ value: `${r.kind}:${r.id}`, label: routeLabel({ kind: r.kind, id: r.id }, directory, viewer.t) })),
      didChoices: choices.dids,
      rowsUrl: viewer.links.api('/api/entries.html', { ...params, page: model.filter.page }),
      csvUrl: viewer.links.api('/api/entries.csv', params),
    });
  });

  /** The list's rows alone: the page swaps them in when the event stream says something changed. */
  router.get('/api/entries.html', async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const model = await listModel(ctx, req, viewer);
    const html = await renderFile(ctx, 'partials/entry-rows', { ...model, viewer, t: viewer.t, links: viewer.links });
    res.type('text/html').send(html);
  });

  router.get('/api/entries', async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const model = await listModel(ctx, req, viewer);
    res.json({ total: model.total, page: model.filter.page, pages: model.pages, entries: model.rows });
  });

  router.get('/api/entries.csv', async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const f = { ...listFilter(req), page: 1 };
    const { entries } = await listEntries(viewer.scope, f, numberRules(await loadSettings(ctx.pool, viewer.tenant)), CSV_LIMIT);
    const directory = await ctx.labels.current(viewer.tenant);
    const { t } = viewer;
    // In a group the export says each row's PBX, whichever PBXs it holds.
    const pbxColumn = viewer.pbx !== null;
    let out = '\uFEFF' + csvLine([
      ...(pbxColumn ? [t('PBX')] : []), t('Caller'), t('Name'), t('DID'), t('Route'), t('Missed'), t('Total missed'), t('Extensions rung'), t('First attempt'),
      t('Last attempt'), t('Status'), t('Cleared by'), t('Cleared at'), t('Extension'), t('User'), t('Note'),
    ]);
    for (const e of entries) {
      out += csvLine([
        ...(pbxColumn ? [e.pbx] : []), e.caller, e.callerName, e.did, routeLabel({ kind: e.routeKind, id: e.routeId }, labelsFor(e, ctx, directory), t), e.missedCount, e.totalMissed,
        Object.keys(e.rang).join(' '), e.firstAttempt, e.lastAttempt, e.status, e.clearedBy ?? '', e.clearedAt ?? '',
        e.clearedExt ?? '', e.clearedUser ?? '', e.note ?? '',
      ]);
    }
    res.type('text/csv; charset=utf-8').attachment('missed-calls.csv').send(out);
  });

  router.get('/entries/:id', async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const id = decimal(String(req.params.id));
    const entry = id !== null ? await findEntry(viewer.scope, id) : null;
    if (!entry) {
      await renderPage(ctx, res, 'not-found', { view: 'entries' }, 404);
      return;
    }
    // Its calls and journal are read on its own PBX's rows (linkedids are each PBX's).
    const own = ownEntry(ctx, entry);
    const scope = own ? new TenantScope(ctx.pool, viewer.tenant) : new TenantScope(ctx.pool, viewer.tenant, { ids: [entry.pbx] });
    const directory = labelsFor(entry, ctx, await ctx.labels.current(viewer.tenant));
    const calls = await callsOfEntry(scope, entry);
    // Another PBX's configuration and CDR are on that PBX, not here.
    const routes = own ? await ctx.labels.routes(viewer.tenant) : null;
    const owns = await ctx.labels.rowFilter(viewer.tenant);
    const attempts = [];
    for (const [i, c] of calls.entries()) {
      const recent = i >= calls.length - CDR_SHOWN;
      attempts.push({
        linkedid: c.linkedid,
        startedAt: viewer.fmt.datetime(c.startedAt),
        verdict: c.verdict,
        verdictLabel: verdictName(viewer, c.verdict, c.direction),
        explanation: explain(verdictOf(c, directory, routes, viewer), viewer.t),
        reasons: c.reasons,
        rang: c.rang.map((r) => ({ ...r, label: extensionLabel(r.ext, directory), outcomeLabel: outcomeName(viewer, r.outcome) })),
        cdr: recent && own ? await cdrRowsOf(ctx.cdrPool, ctx.config.db, c, owns) : null,
      });
    }
    const now = await dbNow(ctx);
    const settings = await loadSettings(ctx.pool, viewer.tenant);
    const journal = (await journalOf(scope, entry.id!)).map((a) => ({
      ...a,
      eventLabel: eventName(viewer, a.event),
      reasonLabel: a.reason ? reasonNames(viewer.t)[a.reason] ?? a.reason : '',
      at: viewer.fmt.datetime(a.createdAt),
      actorLabel: a.actor === 'agent' ? viewer.t('detector') : a.actor === 'cron' ? viewer.t('scheduler') : a.actor.replace(/^user:/, ''),
    }));
    await renderPage(ctx, res, 'entry', {
      view: 'entries',
      entry,
      row: rowModel(
        entry, viewer, directory, now, claimOf(await claimsOf(scope, [entry], naiveOf(now)), entry), own, targetContext(ctx, settings),
        (await crmOwnersOf(scope, settings.crm.kind, [entry])).get(ownerKey(entry)) ?? '',
      ),
      claimBoxUrl: viewer.links.api(`/api/entries/${entry.id}/claim.html`),
      attempts: attempts.reverse(),
      journal,
      cdrColumns: CDR_REPORT_COLUMNS,
      own,
      resolveUrl: viewer.links.api(`/api/entries/${entry.id}/resolve`),
      callbackUrl: own && amiConfigured(ctx.config.ami) && viewer.canChange && !entry.anonymous && dialableNumber(callbackNumber(entry)) !== null
        ? viewer.links.api(`/api/entries/${entry.id}/callback`) : null,
      callbackExt: entry.lastCallbackExt ?? Object.keys(entry.rang)[0] ?? '',
      backUrl: viewer.links.page('entries'),
      noteMax: NOTE_MAX_CHARS,
    });
  });

  router.post('/api/entries/:id/resolve', requireChange, async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const id = decimal(String(req.params.id));
    const note = typeof (req.body as { note?: unknown })?.note === 'string' ? String((req.body as { note: string }).note) : '';
    if (!note.trim()) {
      res.status(422).json({ errors: { note: viewer.t('Write a note: it says why the entry is closed.') } });
      return;
    }
    // Refused, never cut: the ledger would otherwise store less than the user wrote.
    if (note.trim().length > NOTE_MAX_CHARS) {
      res.status(422).json({ errors: { note: viewer.t('A note has at most {max} characters.', { max: viewer.fmt.int(NOTE_MAX_CHARS) }) } });
      return;
    }
    const found = id !== null ? await findEntry(viewer.scope, id) : null;
    if (id === null || !found) {
      res.status(404).json({ error: 'not_found', message: viewer.t('No such entry.') });
      return;
    }
    if (!ownEntry(ctx, found)) {
      res.status(403).json(otherPbxRefusal(viewer, found));
      return;
    }
    try {
      const entry = await resolveEntry(ctx.pool, ctx.auditKey, viewer.tenant, id, viewer.user, note);
      res.json({ ok: true, id: entry.id, status: entry.status });
    } catch (err) {
      if (err instanceof NotFound) res.status(404).json({ error: 'not_found', message: viewer.t('No such entry.') });
      else if (/already cleared/.test((err as Error).message)) res.status(409).json({ error: 'cleared', message: viewer.t('This entry is already cleared.') });
      else throw err;
    }
  });
}

/**
 * Click-to-call-back: AMI rings the user's extension and, when it answers, dials the
 * caller. What happens next is an ordinary outbound call, which the sync sees in the CDR
 * and journals (callback_attempted, or cleared as returned).
 */
export function callbackRoute(router: Router, ctx: WebContext): void {
  router.post('/api/entries/:id/callback', requireChange, async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const { t } = viewer;
    if (!amiConfigured(ctx.config.ami)) {
      res.status(409).json({ error: 'no_ami', message: t('Calling back needs the Asterisk Manager Interface (ami.host) configured.') });
      return;
    }
    const ext = String((req.body as { ext?: unknown })?.ext ?? '').trim();
    if (!/^\d{1,20}$/.test(ext)) {
      res.status(422).json({ errors: { ext: t('Enter the extension that should ring first.') } });
      return;
    }
    const id = decimal(String(req.params.id));
    const entry = id !== null ? await findEntry(viewer.scope, id) : null;
    if (!entry) {
      res.status(404).json({ error: 'not_found', message: t('No such entry.') });
      return;
    }
    if (!ownEntry(ctx, entry)) {
      res.status(403).json(otherPbxRefusal(viewer, entry));
      return;
    }
    if (entry.anonymous) {
      res.status(422).json({ errors: { ext: t('A withheld number cannot be called back.') } });
      return;
    }
    if (dialableNumber(callbackNumber(entry)) === null) {
      res.status(422).json({ errors: { ext: t('This caller ID is not a phone number (only digits and a leading + can be dialled): call back by hand.') } });
      return;
    }
    // Calling back claims the entry (the team sees who is calling), and is refused like a
    // claim while someone else holds it, unless the user agreed to take it over.
    const claimed = await claimFor(ctx, viewer, entry, ext, claimFields(req.body).takeOverFrom);
    if (!claimed.ok) {
      res.status(claimed.status).json(claimed.body);
      return;
    }
    try {
      await originateCallback({ ami: ctx.config.ami, ext, number: callbackNumber(entry) });
      res.json({ ok: true, message: t('Extension {ext} is ringing; when it answers, the caller is dialled.', { ext }) });
    } catch (err) {
      if (!(err instanceof AmiError) && !(err as NodeJS.ErrnoException).code) throw err;
      res.status(502).json({ error: 'ami', message: t('The PBX did not place the call: {reason}', { reason: (err as Error).message }) });
    }
  });
}

/** The number as the caller ID gave it (what the trunk expects), else the normalised one. */
function callbackNumber(entry: Entry): string {
  return entry.callerRaw || entry.caller;
}

function verdictName(viewer: Viewer, verdict: string, direction: string): string {
  const { t } = viewer;
  if (direction === 'outbound') return t('Outbound call');
  const names: Record<string, string> = { missed: t('Missed call'), answered: t('Answered call'), abandoned: t('Abandoned'), internal: t('Internal call'), other: t('Other call') };
  return names[verdict] ?? verdict;
}

function outcomeName(viewer: Viewer, outcome: string): string {
  const { t } = viewer;
  const names: Record<string, string> = { answered: t('answered'), no_answer: t('no answer'), busy: t('busy'), unavailable: t('unavailable') };
  return names[outcome] ?? outcome;
}

function eventName(viewer: Viewer, event: string): string {
  const { t } = viewer;
  const names: Record<string, string> = {
    created: t('created'), incremented: t('missed again'), notified: t('notified'), callback_attempted: t('call-back attempted'),
    cleared: t('cleared'), reopened: t('reopened'), reclassified: t('reclassified'), forgotten: t('forgotten'),
    claimed: t('claimed (calling back)'), claim_released: t('claim released'), claim_taken_over: t('claim taken over'),
    escalated: t('escalated (past the callback target)'),
    crm_forgotten: t('removed from the CRM'),
  };
  return names[event] ?? event;
}
