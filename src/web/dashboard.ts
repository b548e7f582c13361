import type { Request, Response, Router } from 'express';
import { viewerOf, type Viewer } from './auth.js';
import type { WebContext } from './context.js';
import { pbxFigures } from './pbx-figures.js';
import { anyCalls, dashboardData, filterChoices, todayOf } from './dashboard-queries.js';
import { currentHistory } from './history.js';
import { MAX_RANGE_DAYS, rangeFilter } from './filters.js';
import { renderPage } from './render.js';
import { loadSettings } from '../config/settings-store.js';
import { ledgerZone } from '../notify/escalation.js';
import { extensionLabel, routeLabel } from '../detect/explain.js';

export function reasonNames(t: Viewer['t']): Record<string, string> {
  return {
    open: t('Open'), returned: t('Called back'), answered_later: t('Answered later'), manual: t('Resolved by hand'),
    expired: t('Expired'), reclassified: t('Reclassified'),
  };
}

/** Everything the dashboard shows, with labels already in the reader's language. */
async function dashboardModel(ctx: WebContext, req: Request, viewer: Viewer) {
  const { t, fmt } = viewer;
  const today = await todayOf(viewer.scope);
  const { range, shortened } = rangeFilter(req, today);
  const [data, perPbx] = await Promise.all([
    dashboardData(viewer.scope, range, today, { settings: await loadSettings(ctx.pool, viewer.tenant), zone: ledgerZone(ctx.config) }),
    // A group view of several PBXs shows each one's figures beside the total.
    viewer.pbx?.several ? pbxFigures(viewer.scope, range) : Promise.resolve([]),
  ]);
  const directory = await ctx.labels.current(viewer.tenant);
  const reasons = reasonNames(t);
  const weekdays = [t('Mon'), t('Tue'), t('Wed'), t('Thu'), t('Fri'), t('Sat'), t('Sun')];
  return {
    data,
    notice: shortened
      ? t('The dashboard shows at most {days} days at once: from {from} to {to}.', { days: fmt.int(MAX_RANGE_DAYS), from: fmt.day(`${range.from} 00:00:00`), to: fmt.day(`${range.to} 00:00:00`) })
      : '',
    kpis: {
      openNow: fmt.int(data.kpis.openNow),
      missedToday: fmt.int(data.kpis.missedToday),
      missRate: fmt.percent(data.kpis.missRate),
      missRateDetail: t.plural('{missed} of {n} inbound call', '{missed} of {n} inbound calls', data.kpis.inbound, { missed: fmt.int(data.kpis.missed), n: fmt.int(data.kpis.inbound) }),
      medianCallback: fmt.duration(data.kpis.medianCallbackSeconds),
      withinTarget: data.kpis.withinTarget?.share === null || !data.kpis.withinTarget ? '–' : fmt.percent(data.kpis.withinTarget.share),
      withinTargetDetail: data.kpis.withinTarget
        ? t.plural('{within} of {n} entry whose target has passed', '{within} of {n} entries whose target has passed', data.kpis.withinTarget.counted, { within: fmt.int(data.kpis.withinTarget.within), n: fmt.int(data.kpis.withinTarget.counted) })
        : t('No callback target is set (Settings).'),
      oldestOpen: data.kpis.oldestOpenSeconds === null ? '–' : fmt.duration(data.kpis.oldestOpenSeconds),
      cleared: Object.entries(data.kpis.clearedByReason).map(([k, n]) => ({ label: reasons[k] ?? k, value: fmt.int(n) })),
    },
    perPbx: perPbx.map((p) => ({
      pbx: p.pbx,
      href: viewer.links.withPbx(p.pbx).page('entries'),
      openNow: fmt.int(p.openNow),
      missed: fmt.int(p.missed),
      inbound: fmt.int(p.inbound),
      missRate: fmt.percent(p.missRate),
      calledBack: fmt.int(p.calledBack),
      medianCallback: fmt.duration(p.medianCallbackSeconds),
    })),
    unknownPbx: viewer.pbx?.unknown ?? false,
    charts: {
      daily: {
        labels: data.daily.map((d) => fmt.day(`${d.day} 00:00:00`)),
        series: [
          { label: t('Missed'), data: data.daily.map((d) => d.missed) },
          { label: t('Answered'), data: data.daily.map((d) => d.answered) },
        ],
      },
      resolution: {
        keys: Object.keys(data.resolution),
        labels: Object.keys(data.resolution).map((k) => reasons[k] ?? k),
        series: [{ label: t('Entries'), data: Object.values(data.resolution) }],
      },
      hours: {
        labels: data.hours.map((_, h) => String(h).padStart(2, '0')),
        series: [{ label: t('Missed calls'), data: data.hours }],
      },
      heatmap: { rows: weekdays, columns: data.hours.map((_, h) => String(h).padStart(2, '0')), values: data.heatmap, label: t('Missed calls') },
      frequent: {
        labels: data.frequent.map((f) => (f.name && f.name !== f.caller ? `${f.caller} (${f.name})` : f.caller)),
        series: [{ label: t('Missed calls'), data: data.frequent.map((f) => f.missed) }],
      },
      routes: {
        labels: data.routes.map((r) => routeLabel({ kind: r.kind, id: r.id }, directory, t)),
        series: [{ label: t('Miss rate (%)'), data: data.routes.map((r) => (r.inbound ? Math.round((1000 * r.missed) / r.inbound) / 10 : 0)) }],
      },
      callbacks: {
        labels: data.callbacks.map((c) => extensionLabel(c.ext, directory)),
        series: [
          { label: t('Called back and answered'), data: data.callbacks.map((c) => c.returned) },
          { label: t('Call-back attempts not answered'), data: data.callbacks.map((c) => c.attempts) },
        ],
      },
    },
  };
}

export function dashboardRoutes(router: Router, ctx: WebContext): void {
  router.get('/dashboard', async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const model = await dashboardModel(ctx, req, viewer);
    const choices = await filterChoices(viewer.scope);
    const directory = await ctx.labels.current(viewer.tenant);
    await renderPage(ctx, res, 'dashboard', {
      view: 'dashboard',
      ...model,
      history: await currentHistory(ctx, viewer, await todayOf(viewer.scope)),
      firstVisit: !(await anyCalls(viewer.scope)),
      routeChoices: choices.routes.map((r) => ({ value: `${r.kind}:${r.id}`, label: routeLabel({ kind: r.kind, id: r.id }, directory, viewer.t) })),
      didChoices: choices.dids,
      apiUrl: viewer.links.api('/api/dashboard', { ...model.data.range }),
    });
  });

  router.get('/api/dashboard', async (req: Request, res: Response) => {
    const model = await dashboardModel(ctx, req, viewerOf(res));
    res.json({ notice: model.notice, kpis: model.kpis, perPbx: model.perPbx, charts: model.charts, raw: model.data });
  });
}
