import type { NextFunction, Request, Response } from 'express';
import type { Pool } from 'mysql2/promise';
import type { Translate } from '../detect/explain.js';
import { csrfToken } from './csrf.js';
import { Formats, negotiateLang, type Catalogues, type Lang } from './i18n.js';
import { IDENTITY_HEADER, SIGNATURE_HEADER, verifyIdentity, type Identity } from './identity.js';
import { Links, type Mode } from './links.js';
import { groupMode, pbxView, tenantPbxIds, type PbxView } from './pbx-view.js';
import type { Config, IdentityUser } from '../config/schema.js';
import { cookieOf, SESSION_COOKIE, type SessionStore } from './session.js';
import { TenantScope } from './tenant-scope.js';

/** Who is asking, resolved once per request; every route reads it from res.locals.viewer. */
export interface Viewer {
  user: string;
  role: Identity['role'];
  /** The tenant every query of this request is restricted to. */
  tenant: string;
  mode: Mode;
  lang: Lang;
  /** Admins and superadmins may resolve entries and change settings; viewers only look. */
  canChange: boolean;
  scope: TenantScope;
  /** In a group, which PBXs the pages show (set by groupView); null on a single PBX. */
  pbx: PbxView | null;
  t: Translate;
  fmt: Formats;
  links: Links;
  csrf: string;
  /** The standalone session's id (logout ends it); null behind the PBX. */
  sessionId: string | null;
}

export interface AuthOptions {
  pool: Pool;
  secret: string;
  catalogues: Catalogues;
  /** Whether standalone logins exist (config.server.users). */
  logins: boolean;
  /** config.server.users: each request's session is checked against them. */
  users: readonly IdentityUser[];
  sessions: SessionStore;
  now: () => number;
}

const TENANT = /^[\w.-]{1,64}$/;

/**
 * Identity on every route. A request carrying the PBX's signed header is judged by it
 * alone (a bad or stale header is 401, never a fallback to a cookie); otherwise a
 * standalone session cookie; otherwise the login page (pages) or 401 (API).
 */
export function identify(opts: AuthOptions) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const now = Math.floor(opts.now() / 1000);
    const header = req.get(IDENTITY_HEADER);
    const signature = req.get(SIGNATURE_HEADER);
    let who: { user: string; tenant: string; role: Identity['role']; lang: Lang | null; mode: Mode; csrfSubject: string; sessionId: string | null } | null = null;
    if (header !== undefined || signature !== undefined) {
      const check = verifyIdentity(opts.secret, header, signature, now);
      if (!check.ok) {
        res.status(401).type('text/plain').send(`identity refused: ${check.reason}`);
        return;
      }
      const id = check.identity;
      who = { user: id.user, tenant: id.tenant, role: id.role, lang: id.lang, mode: 'pbx', csrfSubject: `pbx\n${id.user}\n${id.tenant}\n${id.role}`, sessionId: null };
    } else {
      const session = opts.sessions.read(cookieOf(req.get('cookie'), SESSION_COOKIE), opts.users, now);
      if (session) {
        who = { user: session.user, tenant: session.tenant, role: session.role, lang: null, mode: 'standalone', csrfSubject: `session\n${session.sid}`, sessionId: session.sid };
      }
    }
    const lang = who?.lang ?? negotiateLang(req.get('accept-language'));
    const t = opts.catalogues.translator(lang);
    res.locals.t = t;
    res.locals.lang = lang;
    if (!who) {
      if (opts.logins && req.method === 'GET' && !req.path.startsWith('/api/')) {
        res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
        return;
      }
      res.status(401).type('text/plain').send(opts.logins ? 'not logged in' : 'identity header missing');
      return;
    }
    const asked = typeof req.query.tenant === 'string' ? req.query.tenant : '';
    const switched = who.role === 'superadmin' && TENANT.test(asked) && asked !== who.tenant ? asked : null;
    const tenant = switched ?? who.tenant;
    const viewer: Viewer = {
      user: who.user,
      role: who.role,
      tenant,
      mode: who.mode,
      lang,
      canChange: who.role !== 'viewer',
      scope: new TenantScope(opts.pool, tenant),
      pbx: null,
      t,
      fmt: new Formats(lang, t),
      links: new Links(who.mode, switched),
      csrf: csrfToken(opts.secret, who.csrfSubject),
      sessionId: who.sessionId,
    };
    res.locals.viewer = viewer;
    res.locals.csrf = viewer.csrf;
    next();
  };
}

/**
 * In a group, the PBXs this request's pages show (src/web/pbx-view.ts): the viewer's scope
 * reads their rows, and its links carry the choice. The tenant's own pbx ids are read first,
 * so a requested id is only ever one of them.
 */
export function groupView(pool: Pool, config: Config) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const viewer = res.locals.viewer as Viewer | undefined;
    if (!viewer || !groupMode(config)) {
      next();
      return;
    }
    const view = pbxView(req.query.pbx, viewer.mode, config.pbxId, await tenantPbxIds(pool, viewer.tenant, config.pbxId), viewer.t);
    viewer.pbx = view;
    viewer.scope = new TenantScope(pool, viewer.tenant, view.selection);
    viewer.links = viewer.links.withPbx(view.param);
    next();
  };
}

export function viewerOf(res: Response): Viewer {
  return res.locals.viewer as Viewer;
}

/** 403 for viewers: the page shows them no buttons, and the API refuses them too. */
export function requireChange(_req: Request, res: Response, next: NextFunction): void {
  const viewer = viewerOf(res);
  if (!viewer.canChange) {
    res.status(403).json({ error: 'forbidden', message: viewer.t('Your role can look but not change anything here.') });
    return;
  }
  next();
}
