import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import { verifyLogin } from '../config/accounts.js';
import { requireCsrf } from './csrf.js';
import type { WebContext } from './context.js';
import { negotiateLang } from './i18n.js';
import { identify, viewerOf } from './auth.js';
import { MAX_IDENTITY_AGE_SECONDS } from './identity.js';
import { LoginThrottle, type AttemptResult } from './login-throttle.js';
import { clearedSessionCookie, findUser, sessionCookieHeader } from './session.js';
import { renderFile } from './render.js';

/** Where the PHP glue asks whether a VitalPBX account's password is right (docs/identity.md). */
export const ACCOUNT_LOGIN_PATH = '/internal/login';
export const LOGIN_SIGNATURE_HEADER = 'x-smc-login-signature';

/** Only our own pages may be the target after login (no open redirect). */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?!\/)[\w\-./?=&%]*$/.test(value) ? value : '/dashboard';
}

/**
 * Every login the service checks, all through one throttle: the standalone form against
 * config.server.users, and the account check the VitalPBX glue makes for its own form.
 */
export function loginRoutes(app: Express, ctx: WebContext, opts: { logins: boolean; now: () => number }): void {
  const throttle = new LoginThrottle({ now: opts.now });
  if (ctx.secret) accountLoginRoute(app, ctx, throttle, opts.now);
  if (opts.logins) standaloneLoginRoutes(app, ctx, throttle, opts.now);
}

/** What the glue signs: no field can run into the next (user names have no newline; the password is last). */
export function accountLoginMessage(ts: number, address: string, user: string, password: string): string {
  return `smc-login\n${ts}\n${address}\n${user}\n${password}`;
}

/**
 * POST {user, password, address, ts} signed with server.secret, from the VitalPBX glue only:
 * the service listens on loopback or a unix socket, and without the secret the signature
 * cannot be made. 200 {user, tenant, role}; 401 wrong; 429 wait (Retry-After); 503 busy.
 */
function accountLoginRoute(app: Express, ctx: WebContext, throttle: LoginThrottle, now: () => number): void {
  app.post(ACCOUNT_LOGIN_PATH, async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { user, password, address, ts } = body;
    if (typeof user !== 'string' || typeof password !== 'string' || typeof address !== 'string' || typeof ts !== 'number' || !Number.isInteger(ts)
      || user.length > 128 || password.length > 1024 || address.length > 64) {
      res.status(400).json({ error: 'bad_request' });
      return;
    }
    const signature = req.get(LOGIN_SIGNATURE_HEADER) ?? '';
    const expected = createHmac('sha256', ctx.secret).update(accountLoginMessage(ts, address, user, password), 'utf8').digest();
    const given = /^[0-9a-f]{64}$/i.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)
      || Math.abs(Math.floor(now() / 1000) - ts) > MAX_IDENTITY_AGE_SECONDS) {
      res.status(403).json({ error: 'forbidden' });
      return;
    }
    const result = await throttle.attempt(user, address, () => verifyLogin(ctx.pool, user, password));
    if (result.outcome === 'accepted') res.json(result.value);
    else refuse(res, result).json({ error: result.outcome });
  });
}

/** The status and Retry-After of a login that did not get in. */
function refuse(res: Response, result: Exclude<AttemptResult<unknown>, { outcome: 'accepted' }>): Response {
  if (result.outcome === 'wait') return res.status(429).set('Retry-After', String(result.retryAfterSeconds));
  if (result.outcome === 'busy') return res.status(503).set('Retry-After', '1');
  return res.status(401);
}

/** Standalone/demo mode: a login form against config.server.users. */
function standaloneLoginRoutes(app: Express, ctx: WebContext, throttle: LoginThrottle, now: () => number): void {
  const page = async (req: Request, res: Response, status: number, error: string) => {
    const lang = negotiateLang(req.get('accept-language'));
    const t = ctx.catalogues.translator(lang);
    const body = await renderFile(ctx, 'login', { t, lang, error, next: safeNext(req.query.next ?? (req.body as { next?: string } | undefined)?.next) });
    res.status(status).type('text/html').send(body);
  };

  app.get('/login', (req, res) => page(req, res, 200, ''));

  app.post('/login', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const name = String(body.user ?? '');
    const result = await throttle.attempt(name, req.ip ?? '', () => findUser(ctx.config.server.users, name, String(body.password ?? '')));
    if (result.outcome !== 'accepted') {
      const t = ctx.catalogues.translator(negotiateLang(req.get('accept-language')));
      const message = result.outcome === 'wait'
        ? t('Too many failed logins. Try again in {seconds} seconds.', { seconds: result.retryAfterSeconds })
        : result.outcome === 'busy' ? t('Too many logins at once. Try again in a moment.') : t('Wrong user name or password.');
      refuse(res, result);
      await page(req, res, res.statusCode, message);
      return;
    }
    // req.secure: HTTPS here, or at a proxy server.trust_proxy names (X-Forwarded-Proto).
    res.set('Set-Cookie', sessionCookieHeader(ctx.sessions.open(result.value, Math.floor(now() / 1000)), req.secure));
    res.redirect(303, safeNext(body.next));
  });

  app.post(
    '/logout',
    identify({ pool: ctx.pool, secret: ctx.secret, catalogues: ctx.catalogues, logins: true, users: ctx.config.server.users, sessions: ctx.sessions, now }),
    requireCsrf(ctx.secret),
    (req, res) => {
      const sid = viewerOf(res).sessionId;
      if (sid) ctx.sessions.end(sid);
      res.set('Set-Cookie', clearedSessionCookie(req.secure));
      res.redirect(303, '/login');
    },
  );
}
