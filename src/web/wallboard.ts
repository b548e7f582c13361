import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response, Router } from 'express';
import type { RowDataPacket } from 'mysql2/promise';
import { activeClaim, claimRowOf } from '../ledger/claims.js';
import { entryFromRow } from '../ledger/store.js';
import type { Translate } from '../detect/explain.js';
import { requireChange, viewerOf } from './auth.js';
import type { WebContext } from './context.js';
import { todayOf, withinTarget, type TargetInputs } from './dashboard-queries.js';
import { BusinessClock } from '../ledger/callback-target.js';
import { loadSettings } from '../config/settings-store.js';
import { ledgerZone } from '../notify/escalation.js';
import type { EventStreams } from './events.js';
import { Formats, LANGS, negotiateLang, type Lang } from './i18n.js';
import { decimal } from './filters.js';
import { renderFile } from './render.js';
import { TenantScope } from './tenant-scope.js';
import { linkOfToken, liveLinks, tokenHash, type WallboardLink } from './wallboard-links.js';

/**
 * The wallboard: a read-only, full-screen view of one tenant's open list for a TV in the
 * room, opened with a revocable link instead of a session (no admin login sits on a TV).
 * The link's token is the credential: 256 random bits in the path, stored only as its
 * SHA-256, never logged (app.ts cuts it out of its log lines).
 */

/** The open entries the board lists: the longest waiting first. */
export const WALLBOARD_TOP = 10;
const LABEL_MAX = 80;
export interface WallboardData {
  openNow: number;
  /** Seconds since the last attempt of the longest-waiting open entry; null when none is open. */
  oldestOpenSeconds: number | null;
  missedToday: number;
  /** Today's entries called back within their callback target (the dashboard's share over today); null: no target set. */
  withinTarget: { within: number; counted: number; share: number | null } | null;
  top: { id: number; caller: string; missedCount: number; ageSeconds: number; pastTarget: boolean; claim: { user: string; ext: string | null; since: string } | null }[];
}

/** The board's figures, read through the tenant's scope like every page. */
export async function wallboardData(scope: TenantScope, target: TargetInputs): Promise<WallboardData> {
  const today = await todayOf(scope);
  const within = await withinTarget(scope, 'tenant = @tenant AND last_attempt >= ?', [`${today} 00:00:00`], target);
  const clock = new BusinessClock(target.settings);
  const [[{ now }]] = (await scope.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  const [open] = await scope.rows<{ n: number; oldest: string | null }>(
    "SELECT COUNT(*) AS n, MIN(last_attempt) AS oldest FROM smart_missed_calls WHERE tenant = @tenant AND status = 'open'",
  );
  const [missed] = await scope.rows<{ n: number }>(
    "SELECT COUNT(*) AS n FROM smart_missed_calls_calls WHERE tenant = @tenant AND started_at >= ? AND verdict = 'missed'",
    [`${today} 00:00:00`],
  );
  const rows = await scope.rows<RowDataPacket>(
    `SELECT * FROM smart_missed_calls WHERE tenant = @tenant AND status = 'open' ORDER BY last_attempt ASC, id ASC LIMIT ${WALLBOARD_TOP}`,
  );
  const entries = rows.map(entryFromRow);
  const claims = entries.length
    ? await scope.rows<RowDataPacket>('SELECT * FROM smart_missed_calls_claims WHERE tenant = @tenant AND entry_id IN (?)', [entries.map((e) => e.id)])
    : [];
  const claimOf = new Map(claims.map((c) => [Number(c.entry_id), claimRowOf(c)]));
  const naiveNow = String(now).slice(0, 19);
  const since = (at: string) => Math.max(0, Math.round((Date.parse(naiveNow.replace(' ', 'T') + 'Z') - Date.parse(String(at).slice(0, 19).replace(' ', 'T') + 'Z')) / 1000));
  return {
    openNow: Number(open?.n ?? 0),
    oldestOpenSeconds: open?.oldest ? since(open.oldest) : null,
    missedToday: Number(missed?.n ?? 0),
    withinTarget: within,
    top: entries.map((e) => {
      const claim = activeClaim(claimOf.get(e.id!) ?? null, e, naiveNow);
      return {
        id: e.id!,
        caller: e.anonymous ? '' : e.callerName && e.callerName !== e.callerRaw ? `${e.callerName} · ${e.caller}` : e.caller,
        missedCount: e.missedCount,
        ageSeconds: since(e.lastAttempt),
        pastTarget: clock.lateBy(e, naiveNow, target.zone) !== null,
        claim: claim && { user: claim.user, ext: claim.ext, since: claim.claimedAt },
      };
    }),
  };
}

/** The figures as the board shows them, in the reader's language: the page and its refreshes use this one shape. */
export function wallboardView(data: WallboardData, t: Translate, fmt: Formats) {
  return {
    openNow: fmt.int(data.openNow),
    oldestOpen: data.oldestOpenSeconds === null ? '–' : fmt.duration(data.oldestOpenSeconds),
    missedToday: fmt.int(data.missedToday),
    withinTarget: data.withinTarget?.share === null || !data.withinTarget ? '–' : fmt.percent(data.withinTarget.share),
    rows: data.top.map((r) => ({
      id: r.id,
      pastTarget: r.pastTarget,
      caller: r.caller || t('Withheld number'),
      missed: r.missedCount > 1 ? t('×{n}', { n: fmt.int(r.missedCount) }) : '',
      age: fmt.duration(r.ageSeconds),
      claim: r.claim ? (r.claim.ext ? t('{user} (ext. {ext})', { user: r.claim.user, ext: r.claim.ext }) : r.claim.user) : '',
      claimSince: r.claim ? fmt.time(r.claim.since) : '',
    })),
    empty: t('Nobody is waiting for a call back.'),
  };
}

async function targetInputs(ctx: WebContext, tenant: string): Promise<TargetInputs> {
  return { settings: await loadSettings(ctx.pool, tenant), zone: ledgerZone(ctx.config) };
}

function langOf(req: Request): Lang {
  const asked = typeof req.query.lang === 'string' ? req.query.lang : '';
  return (LANGS as readonly string[]).includes(asked) ? (asked as Lang) : negotiateLang(req.get('accept-language'));
}

/** The token is the credential: the answer is not cached, and no page it links to learns the address. */
function wallboardHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'X-Robots-Tag': 'noindex' });
  next();
}

/**
 * The board's own routes, before any identity: the token in the path opens one tenant's
 * board, read only. A revoked or unknown token is 403, as is every later request of a
 * board whose link was revoked.
 */
export function wallboardRoutes(router: Router, ctx: WebContext, streams: EventStreams): void {
  async function opened(req: Request, res: Response): Promise<{ link: WallboardLink; t: Translate; fmt: Formats; lang: Lang } | null> {
    const lang = langOf(req);
    const t = ctx.catalogues.translator(lang);
    const link = await linkOfToken(ctx.pool, String(req.params.token));
    if (!link) {
      res.status(403).type('text/plain').send(t('This wallboard link is not valid: it was revoked, or it is mistyped. Ask an administrator for a new one.'));
      return null;
    }
    return { link, t, fmt: new Formats(lang, t), lang };
  }

  router.get('/wallboard/:token', wallboardHeaders, async (req: Request, res: Response) => {
    const open = await opened(req, res);
    if (!open) return;
    const { link, t, fmt, lang } = open;
    const board = wallboardView(await wallboardData(new TenantScope(ctx.pool, link.tenant), await targetInputs(ctx, link.tenant)), t, fmt);
    const base = `/wallboard/${String(req.params.token)}`;
    const html = await renderFile(ctx, 'wallboard', {
      board, t, lang, dataUrl: `${base}/data?lang=${lang}`, eventsUrl: `${base}/events`,
    });
    res.type('text/html').send(html);
  });

  router.get('/wallboard/:token/data', wallboardHeaders, async (req: Request, res: Response) => {
    const open = await opened(req, res);
    if (!open) return;
    const data = await wallboardData(new TenantScope(ctx.pool, open.link.tenant), await targetInputs(ctx, open.link.tenant));
    res.json({ ...data, shown: wallboardView(data, open.t, open.fmt) });
  });

  router.get('/wallboard/:token/events', wallboardHeaders, async (req: Request, res: Response) => {
    const open = await opened(req, res);
    if (!open) return;
    streams.serve(req, res, {
      tenant: open.link.tenant,
      owner: `wallboard\n${open.link.id}`,
      wallboard: open.link.id,
      describe: () => null,
      healthy: ctx.sync.healthy,
      refused: (why) => (why === 'user' ? open.t('Too many pages with live updates are open for you: close some tabs, then reload this page.') : open.t('Too many pages with live updates are open on this PBX: reload this page later.')),
    });
  });
}

/** The links an admin made and has not revoked, for the settings page. */
/** Creating and revoking links: admins only, with CSRF like every change; the session API's JSON of the board for comparison. */
export function wallboardAdminRoutes(router: Router, ctx: WebContext, streams: EventStreams): void {
  router.get('/api/wallboard', async (_req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const data = await wallboardData(new TenantScope(ctx.pool, viewer.tenant), await targetInputs(ctx, viewer.tenant));
    res.json({ ...data, shown: wallboardView(data, viewer.t, viewer.fmt) });
  });

  router.get('/api/wallboards', requireChange, async (_req: Request, res: Response) => {
    res.json({ links: await liveLinks(new TenantScope(ctx.pool, viewerOf(res).tenant)) });
  });

  router.post('/api/wallboards', requireChange, async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const raw = (req.body as { label?: unknown } | undefined)?.label;
    const label = typeof raw === 'string' ? raw.trim() : '';
    if (!label || [...label].length > LABEL_MAX) {
      res.status(422).json({ errors: { label: viewer.t('Name the screen (at most {max} characters), e.g. “Support room TV”.', { max: LABEL_MAX }) } });
      return;
    }
    const token = randomBytes(32).toString('base64url');
    const [result] = await ctx.pool.query(
      'INSERT INTO smart_missed_calls_wallboards (tenant, pbx, label, token_hash, created_at, created_by) VALUES (?, @smc_pbx, ?, ?, NOW(), ?)',
      [viewer.tenant, label, tokenHash(token), viewer.user],
    );
    // The token is shown this once: only its hash is kept.
    res.json({ ok: true, id: Number((result as { insertId: number }).insertId), path: `/wallboard/${token}`, message: viewer.t('Open this address on the screen; it is shown only now.') });
  });

  router.post('/api/wallboards/:id/revoke', requireChange, async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const id = decimal(String(req.params.id));
    const [result] = await ctx.pool.query(
      'UPDATE smart_missed_calls_wallboards SET revoked_at = NOW(), revoked_by = ? WHERE id = ? AND tenant = ? AND pbx = @smc_pbx AND revoked_at IS NULL',
      [viewer.user, id ?? 0, viewer.tenant],
    );
    if ((result as { affectedRows: number }).affectedRows === 0) {
      res.status(404).json({ error: 'not_found', message: viewer.t('No such wallboard link.') });
      return;
    }
    streams.closeWallboards([id!]);
    res.json({ ok: true });
  });
}
