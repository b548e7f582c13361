import type { Express, Request, Response } from 'express';
import { requireCsrf } from './csrf.js';
import type { WebContext } from './context.js';
import { negotiateLang } from './i18n.js';
import { identify, viewerOf } from './auth.js';
import { clearedSessionCookie, findUser, sessionCookieHeader } from './session.js';
import { renderFile } from './render.js';

/** Only our own pages may be the target after login (no open redirect). */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?!\/)[\w\-./?=&%]*$/.test(value) ? value : '/dashboard';
}

/** Standalone/demo mode: a login form against config.server.users. */
export function loginRoutes(app: Express, ctx: WebContext, opts: { logins: boolean; now: () => number }): void {
  if (!opts.logins) return;
  const page = async (req: Request, res: Response, status: number, error: string) => {
    const lang = negotiateLang(req.get('accept-language'));
    const t = ctx.catalogues.translator(lang);
    const body = await renderFile(ctx, 'login', { t, lang, error, next: safeNext(req.query.next ?? (req.body as { next?: string } | undefined)?.next) });
    res.status(status).type('text/html').send(body);
  };

  app.get('/login', (req, res) => page(req, res, 200, ''));

  app.post('/login', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const user = findUser(ctx.config.server.users, String(body.user ?? ''), String(body.password ?? ''));
    if (!user) {
      const t = ctx.catalogues.translator(negotiateLang(req.get('accept-language')));
      await page(req, res, 401, t('Wrong user name or password.'));
      return;
    }
    // req.secure: HTTPS here, or at a proxy server.trust_proxy names (X-Forwarded-Proto).
    res.set('Set-Cookie', sessionCookieHeader(ctx.sessions.open(user, Math.floor(opts.now() / 1000)), req.secure));
    res.redirect(303, safeNext(body.next));
  });

  app.post(
    '/logout',
    identify({ pool: ctx.pool, secret: ctx.secret, catalogues: ctx.catalogues, logins: true, users: ctx.config.server.users, sessions: ctx.sessions, now: opts.now }),
    requireCsrf(ctx.secret),
    (req, res) => {
      const sid = viewerOf(res).sessionId;
      if (sid) ctx.sessions.end(sid);
      res.set('Set-Cookie', clearedSessionCookie(req.secure));
      res.redirect(303, '/login');
    },
  );
}
