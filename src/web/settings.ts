import type { Request, Response, Router } from 'express';
import { applySettings, CADENCES, collectSettingErrors, ConfigError, CRM_KINDS, LAMP_SCOPES, WEBHOOK_EVENTS } from '../config/schema.js';
import { lampDevice } from '../pbx/lamp-state.js';
import { loadSettings, saveSettings } from '../config/settings-store.js';
import { lookupProblemOf } from '../notify/caller-names.js';
import { recentDeliveries } from '../notify/deliveries.js';
import { connectorFor } from '../notify/crm/registry.js';
import { literalInternalTarget, parseNetworks, type Network } from '../config/networks.js';
import type { Translate } from '../detect/explain.js';
import { requireChange, viewerOf } from './auth.js';
import type { WebContext } from './context.js';
import { healthOf } from './health.js';
import { renderPage } from './render.js';
import { todayOf } from './dashboard-queries.js';
import { addDays } from './filters.js';
import { liveLinks } from './wallboard-links.js';
import { TenantScope } from './tenant-scope.js';
import { HIDDEN, shownSettings, withStoredSecrets, type ShownSettings } from './settings-secrets.js';

/** The form's values as text, the way the inputs show them. */
function formValues(s: ShownSettings): Record<string, string | boolean> {
  return {
    cadence: s.cadence,
    recipients: s.recipients.join('\n'),
    realtimeDedupeMinutes: String(s.realtimeDedupeMinutes),
    maxEmailsPerHour: String(s.maxEmailsPerHour),
    retentionDays: s.retentionDays === null ? '' : String(s.retentionDays),
    clearAcrossDids: s.clearAcrossDids,
    clearAcrossPbxs: s.clearAcrossPbxs,
    queueAbandonMinWait: String(s.queueAbandonMinWait),
    countIvrAbandon: s.countIvrAbandon,
    defaultCountry: s.defaultCountry,
    outboundPrefixes: s.outboundPrefixes.join(', '),
    matchDigits: String(s.matchDigits),
    timezone: s.timezone,
    language: s.language,
    lookupUrlTemplate: s.lookupUrlTemplate,
    historyDays: String(s.historyDays),
    claimMinutes: String(s.claimMinutes),
    callbackTargetMinutes: s.callbackTargetMinutes ? String(s.callbackTargetMinutes) : '',
    callbackTargetRoutes: s.callbackTargetRoutes.map((r) => `${r.route} = ${r.minutes}`).join('\n'),
    businessHours: s.businessHours,
    escalationThresholds: s.escalationThresholds.join(', '),
    escalationRecipients: s.escalationRecipients.join('\n'),
    lampEnabled: s.lampEnabled,
    lampScope: s.lampScope,
  };
}

/** The schema's problems are gettext msgids with placeholders: shown in the reader's language. */
export function translateSettingError(err: ConfigError, t: Translate): string {
  return t(err.template, err.params);
}

/** recipients[2] → recipients, webhooks[0].url → webhooks.0.url: the input the message belongs next to. */
function inputOf(field: string): string {
  return field
    .replace(/\[(\d+)\]/g, '.$1')
    .replace(/^(recipients|outboundPrefixes|outbound_prefixes|escalationRecipients|escalationThresholds|callbackTargetRoutes)\..*$/, '$1');
}

const BOOLEAN_FIELDS = ['clearAcrossDids', 'clearAcrossPbxs', 'countIvrAbandon', 'lampEnabled'];

/**
 * The change a request asks for. JSON (the page's script, API clients) changes exactly the
 * fields it names; an HTML form post leaves unticked checkboxes out of its body, so there
 * a missing checkbox means off. A null prototype: a key such as "__proto__" or "toString"
 * is just an unknown setting.
 */
function changeOf(body: Record<string, unknown>, fromForm: boolean): Record<string, unknown> {
  const change = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(body)) {
    if (k === '_csrf' || k === 'webhooks') continue;
    // A form post carries the CRM's fields flat; the page's script and the API send one object.
    if (k.startsWith('crm-')) continue;
    change[k] = v;
  }
  if (fromForm) for (const f of BOOLEAN_FIELDS) if (!Object.hasOwn(change, f)) change[f] = false;
  if (fromForm && Object.keys(body).some((k) => k.startsWith('crm-'))) {
    change.crm = {
      kind: body['crm-kind'] ?? '', baseUrl: body['crm-baseUrl'] ?? '', token: body['crm-token'] ?? '', createContact: Object.hasOwn(body, 'crm-createContact'),
      ...(body['crm-kind'] === 'odoo' ? { database: body['crm-database'] ?? '', login: body['crm-login'] ?? '' } : {}),
      ...(body['crm-kind'] === 'salesforce' ? { clientId: body['crm-clientId'] ?? '', clientSecret: body['crm-clientSecret'] ?? '' } : {}),
    };
  }
  if (Array.isArray(body.webhooks)) {
    change.webhooks = (body.webhooks as unknown[])
      .filter((h): h is Record<string, unknown> => typeof h === 'object' && h !== null)
      // A row with neither URL nor secret is the form's empty row, or a webhook removed.
      .filter((h) => String(h.url ?? '').trim() !== '' || String(h.secret ?? '').trim() !== '')
      .map((h) => ({ ref: h.ref, url: String(h.url ?? '').trim(), secret: h.secret === undefined ? undefined : String(h.secret), events: Array.isArray(h.events) ? h.events : [] }));
  } else if (Object.hasOwn(body, 'webhooks')) {
    change.webhooks = body.webhooks;
  }
  return change;
}

const INTERNAL_TARGET =
  '{host} is an internal address ({range}); the PBX administrator can allow it in config.yaml (notify.allow_private_networks)';

/** Webhook, lookup and CRM URLs that name an internal address the PBX administrator did not allow. */
function internalTargetErrors(change: Record<string, unknown>, allowed: readonly Network[]): ConfigError[] {
  const urls: [string, unknown][] = Object.entries(change).filter(([k]) => k === 'lookupUrlTemplate' || k === 'lookup_url_template');
  if (Array.isArray(change.webhooks)) change.webhooks.forEach((h: { url?: unknown }, i) => urls.push([`webhooks[${i}].url`, h?.url]));
  if (typeof change.crm === 'object' && change.crm !== null) urls.push(['crm.baseUrl', (change.crm as { baseUrl?: unknown }).baseUrl]);
  return urls.flatMap(([field, url]) => {
    const internal = typeof url === 'string' ? literalInternalTarget(url.replace(/\{number\}/g, '0'), allowed) : null;
    return internal ? [new ConfigError(field, INTERNAL_TARGET, internal)] : [];
  });
}

function audienceOf(res: Response): 'admin' | 'viewer' {
  return viewerOf(res).canChange ? 'admin' : 'viewer';
}

export function settingsRoutes(router: Router, ctx: WebContext): void {
  router.get('/settings', async (_req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const settings = shownSettings(await loadSettings(ctx.pool, viewer.tenant), audienceOf(res));
    const t = viewer.t;
    const today = await todayOf(viewer.scope);
    const lookupProblem = settings.lookupUrlTemplate ? await lookupProblemOf(ctx.pool, viewer.tenant) : null;
    const health = await healthOf(ctx, viewer);
    // The CRM's own words about the latest delivery it refused (or could not be reached for).
    const crmFailure = settings.crm.kind ? (await recentDeliveries(ctx.pool, viewer.tenant)).failures.find((f) => f.channel === 'crm') : undefined;
    await renderPage(ctx, res, 'settings', {
      view: 'settings',
      values: formValues(settings),
      lookupProblem: lookupProblem && { text: t(lookupProblem.template, lookupProblem.params) },
      webhooks: settings.webhooks,
      cadences: CADENCES.map((c) => ({
        value: c,
        label: { off: t('Off'), realtime: t('Real time'), hourly: t('Hourly'), daily: t('Daily'), weekly: t('Weekly'), monthly: t('Monthly') }[c],
      })),
      webhookEvents: WEBHOOK_EVENTS,
      lampScopes: LAMP_SCOPES.map((s) => ({
        value: s, label: { tenant: t('One lamp for the tenant'), route: t('One lamp per route'), both: t('Both: one for the tenant and one per route') }[s],
      })),
      // The device names the keys watch, as the lamp sets them (lamp-state.ts).
      lamp: { tenant: lampDevice(ctx.config.pbx, viewer.tenant), routeExample: lampDevice(ctx.config.pbx, viewer.tenant, { kind: 'queue', id: '400' }) },
      crm: settings.crm,
      crmKinds: CRM_KINDS.map((k) => ({ value: k, label: k === '' ? t('None') : { hubspot: 'HubSpot', odoo: 'Odoo', salesforce: 'Salesforce' }[k] })),
      crmFailure: crmFailure && { error: crmFailure.lastError ?? '', status: crmFailure.status, attempts: crmFailure.attempts },
      crmTestUrl: viewer.links.api('/api/settings/crm-test'),
      hidden: HIDDEN,
      saveUrl: viewer.links.api('/api/settings'),
      health: {
        shown: health,
        checkedAgo: viewer.fmt.duration((Date.now() - Date.parse(health.checkedAt)) / 1000),
        recheckUrl: viewer.links.api('/api/health/checks'),
        statusWords: { ok: t('OK'), warn: t('Attention'), fail: t('Failing') },
      },
      historyUrl: viewer.links.api('/api/history'),
      // Wallboard links are credentials: only admins see and manage them.
      wallboards: viewer.canChange
        ? (await liveLinks(new TenantScope(ctx.pool, viewer.tenant))).map((l) => ({
          ...l, created: viewer.fmt.datetime(l.createdAt), revokeUrl: viewer.links.api(`/api/wallboards/${l.id}/revoke`),
        }))
        : [],
      wallboardsUrl: viewer.links.api('/api/wallboards'),
      today,
      historySince: addDays(today, -settings.historyDays),
    });
  });

  router.get('/api/settings', async (_req: Request, res: Response) => {
    res.json(shownSettings(await loadSettings(ctx.pool, viewerOf(res).tenant), audienceOf(res)));
  });

  router.post('/api/settings', requireChange, async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
    const current = await loadSettings(ctx.pool, viewer.tenant);
    const restored = withStoredSecrets(current, changeOf(body, Boolean(req.is('application/x-www-form-urlencoded'))));
    const change = restored.change;
    const errors = [
      ...restored.errors,
      ...collectSettingErrors(current, change),
      ...internalTargetErrors(change, parseNetworks(ctx.config.notify.allowPrivateNetworks)),
    ];
    if (errors.length) {
      const byInput = Object.create(null) as Record<string, string>;
      for (const e of errors) byInput[inputOf(e.field)] ??= translateSettingError(e, viewer.t);
      res.status(422).json({ errors: byInput });
      return;
    }
    const saved = await saveSettings(ctx.pool, viewer.tenant, change, viewer.user);
    ctx.sync.syncer.forgetSettings();
    res.json({ ok: true, settings: shownSettings(saved, 'admin'), message: viewer.t('Settings saved.') });
  });

  /**
   * Test connection: the CRM settings as the form has them (the stored token stands in for
   * an empty or hidden one, as on save), tried against the CRM without saving anything.
   */
  router.post('/api/settings/crm-test', requireChange, async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const posted = (req.body as { crm?: unknown } | null)?.crm ?? {};
    const current = await loadSettings(ctx.pool, viewer.tenant);
    const restored = withStoredSecrets(current, { crm: posted });
    const allowed = parseNetworks(ctx.config.notify.allowPrivateNetworks);
    const errors = [...restored.errors, ...collectSettingErrors(current, restored.change), ...internalTargetErrors(restored.change, allowed)];
    if (errors.length) {
      const byInput = Object.create(null) as Record<string, string>;
      for (const e of errors) byInput[inputOf(e.field)] ??= translateSettingError(e, viewer.t);
      res.status(422).json({ errors: byInput });
      return;
    }
    const { crm } = applySettings(current, restored.change);
    const connector = connectorFor(crm, allowed);
    if (!connector) {
      res.json({ ok: false, message: viewer.t('Choose a CRM first.') });
      return;
    }
    const diagnosis = await connector.testConnection({ createContact: crm.createContact });
    res.json({ ok: diagnosis.ok, message: viewer.t(diagnosis.template, diagnosis.params) });
  });
}
