import type { Request, Response, Router } from 'express';
import type { LedgerEvent } from '../ledger/entries.js';
import { viewerOf } from './auth.js';
import type { WebContext } from './context.js';

const KEEPALIVE_MS = 15_000;

/**
 * Server-sent events: after each sync commit, the ids of this tenant's entries that
 * changed (the page then re-reads what it shows, through the same tenant-scoped routes),
 * and the sync's health. Nothing about another tenant is ever written to the stream.
 */
export function eventRoutes(router: Router, ctx: WebContext): void {
  router.get('/api/events', (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    res.flushHeaders();
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send('health', { ok: ctx.sync.healthy });

    const onChanges = (events: LedgerEvent[]) => {
      const mine = events.filter((e) => e.entry.tenant === viewer.tenant);
      if (mine.length === 0) return;
      send('changes', { entries: [...new Set(mine.map((e) => e.entry.id))], events: mine.map((e) => e.event) });
    };
    const onHealth = (health: { ok: boolean }) => send('health', { ok: health.ok });
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    ctx.sync.on('changes', onChanges);
    ctx.sync.on('health', onHealth);
    const stop = () => {
      clearInterval(keepalive);
      ctx.sync.off('changes', onChanges);
      ctx.sync.off('health', onHealth);
    };
    req.on('close', stop);
    res.on('close', stop);
  });

  router.get('/api/health', (_req: Request, res: Response) => {
    const viewer = viewerOf(res);
    if (ctx.sync.healthy) res.json({ ok: true });
    else res.status(503).json({ ok: false, message: viewer.t('The database is unavailable. The list shows what was known before; it catches up when the database is back.') });
  });
}
