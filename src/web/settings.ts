import type { Request, Response, Router } from 'express';
import { CADENCES, collectSettingErrors, ConfigError, WEBHOOK_EVENTS, type TenantSettings } from '../config/schema.js';
import { loadSettings, saveSettings } from '../config/settings-store.js';
import type { Translate } from '../detect/explain.js';
import { requireChange, viewerOf } from './auth.js';
import type { WebContext } from './context.js';
import { renderPage } from './render.js';

/** The form's values as text, the way the inputs show them. */
function formValues(s: TenantSettings): Record<string, string | boolean> {
  return {
    cadence: s.cadence,
    recipients: s.recipients.join('\n'),
    realtimeDedupeMinutes: String(s.realtimeDedupeMinutes),
    maxEmailsPerHour: String(s.maxEmailsPerHour),
    retentionDays: s.retentionDays === null ? '' : String(s.retentionDays),
    clearAcrossDids: s.clearAcrossDids,
    queueAbandonMinWait: String(s.queueAbandonMinWait),
    countIvrAbandon: s.countIvrAbandon,
    defaultCountry: s.defaultCountry,
    outboundPrefixes: s.outboundPrefixes.join(', '),
    matchDigits: String(s.matchDigits),
    timezone: s.timezone,
    language: s.language,
    lookupUrlTemplate: s.lookupUrlTemplate,
  };
}

/**
 * Schema messages are English sentences with the values in them; each known shape has a
 * msgid with placeholders, so the message shows in the reader's language.
 */
const MESSAGE_SHAPES: [RegExp, string][] = [
  [/^must be between (\S+) and (\S+)$/, 'must be between {a} and {b}'],
  [/^must be a whole number$/, 'must be a whole number'],
  [/^must be one of (.+)$/, 'must be one of {a}'],
  [/^'(.*)' is not an email address$/, "'{a}' is not an email address"],
  [/^'(.*)' must be 1 to 6 digits$/, "'{a}' must be 1 to 6 digits"],
  [/^'(.*)' is not a time zone$/, "'{a}' is not a time zone"],
  [/^'(.*)' is not valid$/, "'{a}' is not valid"],
  [/^'(.*)' is not a URL$/, "'{a}' is not a URL"],
  [/^must be an http or https URL$/, 'must be an http or https URL'],
  [/^must contain \{number\}$/, 'must contain {number}'],
  [/^must be at least (\S+) characters$/, 'must be at least {a} characters'],
  [/^must be true or false$/, 'must be true or false'],
  [/^'(.*)' is not an event$/, "'{a}' is not an event"],
];

export function translateSettingError(err: ConfigError, t: Translate): string {
  const message = err.message.slice(err.field.length + 2);
  for (const [shape, msgid] of MESSAGE_SHAPES) {
    const m = shape.exec(message);
    if (m) return msgid === 'must contain {number}' ? t(msgid, { number: '{number}' }) : t(msgid, { a: m[1] ?? '', b: m[2] ?? '' });
  }
  return message;
}

/** recipients[2] → recipients, webhooks[0].url → webhooks.0.url: the input the message belongs next to. */
function inputOf(field: string): string {
  return field.replace(/\[(\d+)\]/g, '.$1').replace(/^(recipients|outboundPrefixes|outbound_prefixes)\.\d+$/, '$1');
}

const BOOLEAN_FIELDS = ['clearAcrossDids', 'countIvrAbandon'];

/** The change as the form posts it (JSON from the page's script): webhooks as rows, checkboxes as booleans. */
function changeOf(body: Record<string, unknown>): Record<string, unknown> {
  const change: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === '_csrf' || k === 'webhooks') continue;
    change[k] = v;
  }
  for (const f of BOOLEAN_FIELDS) if (!(f in change)) change[f] = false;
  if (Array.isArray(body.webhooks)) {
    change.webhooks = (body.webhooks as Record<string, unknown>[])
      .filter((h) => h && typeof h === 'object' && (String(h.url ?? '').trim() || String(h.secret ?? '').trim()))
      .map((h) => ({ url: String(h.url ?? '').trim(), secret: String(h.secret ?? ''), events: Array.isArray(h.events) ? h.events : [] }));
  }
  return change;
}

export function settingsRoutes(router: Router, ctx: WebContext): void {
  router.get('/settings', async (_req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const settings = await loadSettings(ctx.pool, viewer.tenant);
    const t = viewer.t;
    await renderPage(ctx, res, 'settings', {
      view: 'settings',
      values: formValues(settings),
      webhooks: settings.webhooks,
      cadences: CADENCES.map((c) => ({
        value: c,
        label: { off: t('Off'), realtime: t('Real time'), hourly: t('Hourly'), daily: t('Daily'), weekly: t('Weekly'), monthly: t('Monthly') }[c],
      })),
      webhookEvents: WEBHOOK_EVENTS,
      saveUrl: viewer.links.api('/api/settings'),
    });
  });

  router.get('/api/settings', async (_req: Request, res: Response) => {
    res.json(await loadSettings(ctx.pool, viewerOf(res).tenant));
  });

  router.post('/api/settings', requireChange, async (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    const change = changeOf((req.body ?? {}) as Record<string, unknown>);
    const current = await loadSettings(ctx.pool, viewer.tenant);
    const errors = collectSettingErrors(current, change);
    if (errors.length) {
      const byInput: Record<string, string> = {};
      for (const e of errors) byInput[inputOf(e.field)] ??= translateSettingError(e, viewer.t);
      res.status(422).json({ errors: byInput });
      return;
    }
    const saved = await saveSettings(ctx.pool, viewer.tenant, change, viewer.user);
    ctx.sync.syncer.forgetSettings();
    res.json({ ok: true, settings: saved, message: viewer.t('Settings saved.') });
  });
}
