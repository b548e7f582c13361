import type { NextFunction, Request, Response } from 'express';

/**
 * Headers on every answer of the service. Behind the PBX the glue copies none of them (it
 * embeds our fragments in the admin page it serves); they guard the standalone and demo
 * pages and any direct request. The pages run only our own script file and chart.js from
 * /assets (no inline script or handler, no eval), style only from our CSS, talk only to
 * this origin, and are framed by no one.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'same-origin',
  });
  next();
}
