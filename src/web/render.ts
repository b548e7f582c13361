import { join } from 'node:path';
import ejs from 'ejs';
import type { Response } from 'express';
import { viewerOf } from './auth.js';
import type { WebContext } from './context.js';

/**
 * Renders a page. Behind the PBX the answer is a fragment that FreePBX's admin page
 * wraps (its own header, menu and Bootstrap); standalone, views/layout.ejs wraps it with a
 * small copy of that look.
 */
export async function renderPage(ctx: WebContext, res: Response, view: string, locals: Record<string, unknown>, status = 200): Promise<void> {
  const viewer = viewerOf(res);
  const all = {
    ...locals,
    viewer,
    t: viewer.t,
    fmt: viewer.fmt,
    links: viewer.links,
    csrf: viewer.csrf,
    healthy: ctx.sync.healthy,
    chartSrc: viewer.links.asset('/assets/vendor/chart.umd.js'),
  };
  const body = await renderFile(ctx, view, all);
  const html = viewer.mode === 'pbx' ? body : await renderFile(ctx, 'layout', { ...all, body });
  res.status(status).type('text/html').send(html);
}

export function renderFile(ctx: WebContext, view: string, locals: Record<string, unknown>): Promise<string> {
  return ejs.renderFile(join(ctx.viewsDir, `${view}.ejs`), locals, { cache: true, async: false, rmWhitespace: false });
}
