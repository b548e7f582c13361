import type { Request, Response, Router } from 'express';
import type { Translate } from '../detect/explain.js';
import { healthFor, type HealthView, type Tally } from '../health/report.js';
import { requireChange, viewerOf, type Viewer } from './auth.js';
import type { WebContext } from './context.js';

function labelOf(id: string, t: Translate): string {
  const labels: Record<string, string> = {
    node: t('Node.js'),
    database: t('Database connection'),
    grants: t('Database privileges'),
    'cdr table': t('CDR table'),
    'cdr columns': t('CDR columns'),
    'cdr indexes': t('CDR indexes'),
    cel: t('CEL (channel events)'),
    schema: t('Our tables'),
    vitalpbx: t('VitalPBX'),
    'cdr location': t('Where the CDR is'),
    'vitalpbx tenants': t('VitalPBX tenants'),
    'cdr tenant column': t('CDR tenant column'),
    clock: t('Clock and time zone'),
    'group clock': t('Clock against the group\'s cluster'),
    sync: t('Sync'),
    'last cycle': t('Last sync cycle'),
    'sync lag': t('Sync lag'),
    notifications: t('Notifications'),
    ami: t('AMI (click-to-call-back)'),
    mail: t('Mail'),
    service: t('Service (pm2 / systemd)'),
  };
  return labels[id] ?? id;
}

/** One sentence: how many checks need attention, or that all pass. */
function summaryOf(tally: Tally, t: Translate): string {
  const attention = tally.fail + tally.warn;
  return attention === 0
    ? t('All {total} checks pass.', { total: tally.total })
    : t('Checks that need attention: {count} of {total} ({fail} red, {warn} amber).', { count: attention, total: tally.total, fail: tally.fail, warn: tally.warn });
}

/** What the API answers and the panel shows, in the reader's language. */
export function shownHealth(view: HealthView, checkedAt: number, viewer: Viewer) {
  const t = viewer.t;
  return {
    status: view.worst,
    attention: view.tally.fail + view.tally.warn,
    fail: view.tally.fail,
    warn: view.tally.warn,
    total: view.tally.total,
    summary: summaryOf(view.tally, t),
    checkedAt: new Date(checkedAt).toISOString(),
    checks: view.checks?.map((r) => ({
      id: r.check,
      label: labelOf(r.check, t),
      status: r.level,
      summary: t(r.says.message.template, r.says.message.params),
      fix: r.says.fix ? t(r.says.fix.template, r.says.fix.params) : '',
    })) ?? null,
    pbxOnly: view.pbxOnly && (view.pbxOnly.fail + view.pbxOnly.warn > 0
      ? t('PBX-wide checks that need attention: {count}. The PBX administrator sees them in full.', { count: view.pbxOnly.fail + view.pbxOnly.warn })
      : t('The PBX-wide checks pass.')),
  };
}

export type ShownHealth = ReturnType<typeof shownHealth>;

export async function healthOf(ctx: WebContext, viewer: Viewer): Promise<ShownHealth> {
  const { checkedAt, results } = await ctx.health.results(viewer.tenant);
  return shownHealth(healthFor(results, { role: viewer.role, pbx: ctx.config.pbx }), checkedAt, viewer);
}

export function healthRoutes(router: Router, ctx: WebContext): void {
  // Everyone with the module may ask (FreePBX's Dashboard line reads it); what each gets depends on the role.
  router.get('/api/health/checks', async (_req: Request, res: Response) => {
    res.json(await healthOf(ctx, viewerOf(res)));
  });

  router.post('/api/health/checks', requireChange, async (_req: Request, res: Response) => {
    ctx.health.forget();
    res.json(await healthOf(ctx, viewerOf(res)));
  });
}
