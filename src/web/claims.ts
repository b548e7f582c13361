import type { Request, Response, Router } from 'express';
import type { RowDataPacket } from 'mysql2/promise';
import { loadSettings } from '../config/settings-store.js';
import { NotFound } from '../ledger/not-found.js';
import { activeClaim, ClaimHeld, claimEntry, claimRowOf, EntryCleared, releaseClaim, type Claim } from '../ledger/claims.js';
import { requireChange, viewerOf, type Viewer } from './auth.js';
import type { WebContext } from './context.js';
import { findEntry, type PbxEntry } from './entry-queries.js';
import { decimal } from './filters.js';
import { renderFile } from './render.js';
import type { TenantScope } from './tenant-scope.js';

/** An extension as the PBX numbers them; anything else is left out of the claim. */
const EXTENSION = /^\d{1,20}$/;

const keyOf = (pbx: string, id: number) => `${pbx}\n${id}`;

/** The claims holding these entries now, by pbx and id; expired ones and those of a past episode are none. */
export async function claimsOf(scope: TenantScope, entries: PbxEntry[], now: string): Promise<Map<string, Claim>> {
  const held = new Map<string, Claim>();
  const open = entries.filter((e) => e.status === 'open' && e.id !== null);
  if (open.length === 0) return held;
  const rows = await scope.rows<RowDataPacket>(
    'SELECT * FROM smart_missed_calls_claims WHERE tenant = @tenant AND entry_id IN (?) AND expires_at > ?',
    [open.map((e) => e.id), now],
  );
  const byKey = new Map(rows.map((r) => [keyOf(String(r.pbx), Number(r.entry_id)), claimRowOf(r)]));
  for (const e of open) {
    const claim = activeClaim(byKey.get(keyOf(e.pbx, e.id!)) ?? null, e, now);
    if (claim) held.set(keyOf(e.pbx, e.id!), claim);
  }
  return held;
}

export function claimOf(claims: Map<string, Claim>, e: PbxEntry): Claim | null {
  return claims.get(keyOf(e.pbx, e.id!)) ?? null;
}

/** What the list and the detail page show of an entry's claim, and which buttons. */
export function claimModel(viewer: Viewer, e: PbxEntry, claim: Claim | null, own: boolean, now: string) {
  const { t, fmt } = viewer;
  const seconds = (a: string, b: string) => (Date.parse(b.replace(' ', 'T') + 'Z') - Date.parse(a.replace(' ', 'T') + 'Z')) / 1000;
  const actions = own && viewer.canChange && e.status === 'open';
  const mine = claim !== null && claim.user === viewer.user;
  return {
    open: e.status === 'open',
    holder: claim?.user ?? null,
    ext: claim?.ext ?? null,
    mine,
    /** Who holds it and since when, in the reader's words. */
    text: claim
      ? claim.ext
        ? t('{user} (ext. {ext}) is calling back since {time}', { user: claim.user, ext: claim.ext, time: fmt.datetime(claim.claimedAt) })
        : t('{user} is calling back since {time}', { user: claim.user, time: fmt.datetime(claim.claimedAt) })
      : '',
    sinceAgo: claim ? fmt.duration(seconds(claim.claimedAt, now)) : '',
    /** Seconds until the claim lapses: the page looks again then. */
    expiresIn: claim ? Math.max(1, Math.ceil(seconds(now, claim.expiresAt))) : null,
    claimUrl: actions && !mine ? viewer.links.api(`/api/entries/${e.id}/claim`) : null,
    releaseUrl: actions && mine ? viewer.links.api(`/api/entries/${e.id}/release`) : null,
    takeOverWarning: claim && !mine ? t('{user} is already calling this caller back (since {time}). Take the call-back over?', { user: claim.user, time: fmt.datetime(claim.claimedAt) }) : '',
  };
}

export type ClaimView = ReturnType<typeof claimModel>;

async function dbNow(ctx: WebContext): Promise<string> {
  const [rows] = await ctx.pool.query<RowDataPacket[]>('SELECT NOW() AS now');
  return String(rows[0]!.now).slice(0, 19);
}

function heldAnswer(viewer: Viewer, holder: Claim) {
  return {
    error: 'claimed',
    holder: { user: holder.user, ext: holder.ext, since: holder.claimedAt, until: holder.expiresAt },
    message: viewer.t('{user} is already calling this caller back (since {time}). Take the call-back over?', { user: holder.user, time: viewer.fmt.datetime(holder.claimedAt) }),
  };
}

/** The entry a claim route names, when this viewer may act on it; otherwise the answer is sent. */
async function actionableEntry(ctx: WebContext, req: Request, res: Response): Promise<PbxEntry | null> {
  const viewer = viewerOf(res);
  const id = decimal(String(req.params.id));
  const entry = id !== null ? await findEntry(viewer.scope, id) : null;
  if (!entry) {
    res.status(404).json({ error: 'not_found', message: viewer.t('No such entry.') });
    return null;
  }
  // Another PBX's entry: its journal is chained with that PBX's key (docs/group.md).
  if (entry.pbx !== ctx.config.pbxId) {
    res.status(403).json({ error: 'other_pbx', message: viewer.t('This entry is on the list of PBX {pbx}: it is resolved and called back from that PBX’s page.', { pbx: entry.pbx }) });
    return null;
  }
  return entry;
}

export type ClaimOutcome = { ok: true; claim: Claim; event: string } | { ok: false; status: number; body: unknown };

/**
 * Claims the entry for the viewer, as the button and the call-back route do. The outcome is
 * the answer to send when the claim is refused: held by someone the user was not warned
 * about (409 naming them), or cleared meanwhile (409).
 */
export async function claimFor(ctx: WebContext, viewer: Viewer, entry: PbxEntry, ext: string | null, takeOverFrom: string | null): Promise<ClaimOutcome> {
  const minutes = (await loadSettings(ctx.pool, viewer.tenant)).claimMinutes;
  try {
    const done = await claimEntry(ctx.pool, ctx.auditKey, { tenant: viewer.tenant, entryId: entry.id!, user: viewer.user, ext, minutes, takeOverFrom });
    return { ok: true, ...done };
  } catch (err) {
    if (err instanceof ClaimHeld) return { ok: false, status: 409, body: heldAnswer(viewer, err.holder) };
    if (err instanceof EntryCleared) return { ok: false, status: 409, body: { error: 'cleared', message: viewer.t('This entry is already cleared.') } };
    if (err instanceof NotFound) return { ok: false, status: 404, body: { error: 'not_found', message: viewer.t('No such entry.') } };
    throw err;
  }
}

/** The optional fields of a claim request: the user's extension, and whom they agreed to take over from. */
export function claimFields(body: unknown): { ext: string | null; takeOverFrom: string | null } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const ext = typeof b.ext === 'string' && EXTENSION.test(b.ext.trim()) ? b.ext.trim() : null;
  const takeOverFrom = typeof b.takeOverFrom === 'string' && b.takeOverFrom !== '' ? b.takeOverFrom : null;
  return { ext, takeOverFrom };
}

export function claimRoutes(router: Router, ctx: WebContext): void {
  router.post('/api/entries/:id/claim', requireChange, async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const entry = await actionableEntry(ctx, req, res);
    if (!entry) return;
    const { ext, takeOverFrom } = claimFields(req.body);
    const outcome = await claimFor(ctx, viewer, entry, ext, takeOverFrom);
    if (!outcome.ok) {
      res.status(outcome.status).json(outcome.body);
      return;
    }
    const { claim, event } = outcome;
    res.json({ ok: true, event, claim: { user: claim.user, ext: claim.ext, since: claim.claimedAt, until: claim.expiresAt } });
  });

  router.post('/api/entries/:id/release', requireChange, async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const entry = await actionableEntry(ctx, req, res);
    if (!entry) return;
    try {
      const released = await releaseClaim(ctx.pool, ctx.auditKey, viewer.tenant, entry.id!, viewer.user);
      res.json({ ok: true, released });
    } catch (err) {
      if (err instanceof ClaimHeld) res.status(409).json(heldAnswer(viewer, err.holder));
      else if (err instanceof NotFound) res.status(404).json({ error: 'not_found', message: viewer.t('No such entry.') });
      else throw err;
    }
  });

  /** The detail page's claim box alone: swapped in when the event stream says the entry changed. */
  router.get('/api/entries/:id/claim.html', async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const id = decimal(String(req.params.id));
    const entry = id !== null ? await findEntry(viewer.scope, id) : null;
    if (!entry) {
      res.status(404).json({ error: 'not_found', message: viewer.t('No such entry.') });
      return;
    }
    const now = await dbNow(ctx);
    const claim = claimOf(await claimsOf(viewer.scope, [entry], now), entry);
    const html = await renderFile(ctx, 'partials/claim', { claim: claimModel(viewer, entry, claim, entry.pbx === ctx.config.pbxId, now), t: viewer.t });
    res.type('text/html').send(html);
  });
}
