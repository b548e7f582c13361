import type { Request, Response, Router } from 'express';
import { historyProgress, requestHistory, type HistoryProgress } from '../sync/history.js';
import { requireChange, viewerOf, type Viewer } from './auth.js';
import type { WebContext } from './context.js';

/** A finished history's summary stays on the pages this long, then the pages are as usual. */
const SUMMARY_SHOWN_DAYS = 7;
const EARLIEST_YEARS = 10;

/** What the progress bar shows, in the reader's language; null when there is nothing to show. */
export interface HistoryView {
  running: boolean;
  percent: number;
  percentText: string;
  calls: number;
  text: string;
  eta: string;
  note: string;
  summary: string;
}

export function historyView(p: HistoryProgress | null, viewer: Pick<Viewer, 't' | 'fmt'>, today: string): HistoryView | null {
  if (!p) return null;
  const { t, fmt } = viewer;
  if (!p.running && p.finishedAt && daysBetween(p.finishedAt.slice(0, 10), today) > SUMMARY_SHOWN_DAYS) return null;
  return {
    running: p.running,
    percent: Math.floor(p.fraction * 1000) / 10,
    percentText: fmt.percent(Math.floor(p.fraction * 1000) / 1000),
    calls: p.calls,
    text: t('{done} of {days}, {calls} classified', { done: fmt.int(p.daysDone), days: daysText(p.daysTotal, viewer), calls: callsText(p.calls, viewer) }),
    eta: p.etaSeconds === null ? t('estimating the time left…') : t('about {time} left', { time: fmt.duration(Math.max(p.etaSeconds, 1)) }),
    note: t('The figures are still growing: the PBX’s call history is being classified, oldest day first.'),
    summary: t('Call history classified: {days}, {calls}, {missed} missed by the team.', {
      days: daysText(p.daysTotal, viewer), calls: callsText(p.calls, viewer), missed: fmt.int(p.missed),
    }),
  };
}

function daysText(n: number, { t, fmt }: Pick<Viewer, 't' | 'fmt'>): string {
  return t.plural('{n} day', '{n} days', n, { n: fmt.int(n) });
}

function callsText(n: number, { t, fmt }: Pick<Viewer, 't' | 'fmt'>): string {
  return t.plural('{n} call', '{n} calls', n, { n: fmt.int(n) });
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** The viewer's tenant's history, as the pages show it. */
export async function currentHistory(ctx: WebContext, viewer: Viewer, today: string): Promise<HistoryView | null> {
  return historyView(await historyProgress(ctx.pool, viewer.tenant, (job) => ctx.sync.history.etaSeconds(job)), viewer, today);
}

export function historyRoutes(router: Router, ctx: WebContext): void {
  router.get('/api/history', async (_req: Request, res: Response) => {
    const viewer = viewerOf(res);
    res.json({ history: await currentHistory(ctx, viewer, await todayOf(ctx)) });
  });

  /** "Classify history since …": this tenant's calls from that day up to now, in the background. */
  router.post('/api/history', requireChange, async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const since = String((req.body as Record<string, unknown> | undefined)?.since ?? '').trim();
    const today = await todayOf(ctx);
    const earliest = `${Number(today.slice(0, 4)) - EARLIEST_YEARS}${today.slice(4)}`;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(since) || Number.isNaN(Date.parse(`${since}T00:00:00Z`)) || since > today || since < earliest) {
      res.status(422).json({ errors: { since: viewer.t('A day between {earliest} and today.', { earliest }) } });
      return;
    }
    await requestHistory(ctx.pool, ctx.config, viewer.tenant, since, `user:${viewer.user}`);
    ctx.sync.history.wake();
    res.json({ ok: true, message: viewer.t('The calls since {day} are being classified in the background; the dashboard shows the progress.', { day: since }) });
  });
}

async function todayOf(ctx: WebContext): Promise<string> {
  const [rows] = await ctx.pool.query("SELECT DATE_FORMAT(CURDATE(), '%Y-%m-%d') AS today");
  return String((rows as { today: string }[])[0]!.today);
}
