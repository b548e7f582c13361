import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/**
 * A per-session token (HMAC of the session, or behind the PBX of the identity's user,
 * tenant and role), put in a meta tag and required on every state-changing request as
 * the X-CSRF-Token header or the _csrf form field. A page of another site can make the
 * browser send the cookie, but it cannot read the token.
 */
export function csrfToken(secret: string, subject: string): string {
  return createHmac('sha256', secret).update('csrf:').update(subject).digest('hex');
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function requireCsrf(secret: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (SAFE.has(req.method)) return next();
    const expected = res.locals.csrf as string | undefined;
    const body = req.body as Record<string, unknown> | undefined;
    const sent = req.get('x-csrf-token') ?? (typeof body?._csrf === 'string' ? body._csrf : '');
    if (!expected || !secret || !/^[0-9a-f]{64}$/.test(sent) || !timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(sent, 'hex'))) {
      res.status(403).json({ error: 'csrf', message: res.locals.t ? res.locals.t('The form expired or did not come from this page. Reload the page and try again.') : 'CSRF token missing or wrong' });
      return;
    }
    next();
  };
}
