import { ConfigError, settingKeyOf, type TenantSettings } from '../config/schema.js';

/**
 * Secrets in a tenant's settings are write-only: no browser, an admin's included, ever
 * receives them. A webhook's signing secret is reported only as set or not set; URLs (a
 * webhook's, the caller-name lookup's, the CRM's) are shown with the parts that can carry
 * a key — user:password@, query values other than {number} — replaced by HIDDEN, and the
 * CRM's token (and Salesforce's consumer secret) as HIDDEN when one is set. A form that posts back what it was shown (or an
 * empty token) keeps the stored values; a typed value replaces them.
 */
export const HIDDEN = '••••••';

export interface ShownWebhook {
  /** Index in the stored list: a posted row with this ref keeps that webhook's secret. */
  ref: number;
  url: string;
  secretSet: boolean;
  events: string[];
}

export type ShownSettings = Omit<TenantSettings, 'webhooks'> & { webhooks: ShownWebhook[] };

/**
 * What a browser may see. Admins get URLs with their key-bearing parts hidden; viewers,
 * who cannot change them, only the scheme and host.
 */
export function shownSettings(settings: TenantSettings, audience: 'admin' | 'viewer'): ShownSettings {
  const mask = audience === 'admin' ? maskUrl : originOnly;
  return {
    ...settings,
    lookupUrlTemplate: mask(settings.lookupUrlTemplate),
    webhooks: settings.webhooks.map((h, ref) => ({ ref, url: mask(h.url), secretSet: h.secret !== '', events: [...h.events] })),
    crm: {
      ...settings.crm,
      baseUrl: mask(settings.crm.baseUrl),
      token: settings.crm.token === '' ? '' : HIDDEN,
      ...(settings.crm.clientSecret === undefined ? {} : { clientSecret: settings.crm.clientSecret === '' ? '' : HIDDEN }),
    },
  };
}

const URL_PARTS = /^([a-z][a-z\d+.-]*:\/\/)([^/?#]*@)?([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i;

/** The URL with user:password@ and every query value except {number}'s replaced by HIDDEN. */
export function maskUrl(url: string): string {
  if (url === '') return '';
  const m = URL_PARTS.exec(url);
  if (!m) return HIDDEN;
  const [, scheme, userinfo, host, path, query, fragment] = m;
  const params = query
    ? '?' + query.slice(1).split('&').map((param) => {
      const eq = param.indexOf('=');
      if (param === '' || param.includes('{number}') || (eq >= 0 && eq === param.length - 1)) return param;
      return eq < 0 ? HIDDEN : `${param.slice(0, eq)}=${HIDDEN}`;
    }).join('&')
    : '';
  return `${scheme}${userinfo ? `${HIDDEN}@` : ''}${host}${path}${params}${fragment ? `#${HIDDEN}` : ''}`;
}

function originOnly(url: string): string {
  if (url === '') return '';
  const m = URL_PARTS.exec(url);
  if (!m) return HIDDEN;
  const [, scheme, , host, path, query, fragment] = m;
  return `${scheme}${host}${(path && path !== '/') || query || fragment ? `/${HIDDEN}` : ''}`;
}

/**
 * A posted URL: the shown (masked) form of the stored one stands for the stored one; any
 * other text still holding HIDDEN would store bullets in place of a key, so it is refused.
 */
function postedUrl(posted: unknown, stored: string, field: string): unknown {
  if (typeof posted !== 'string') return posted;
  if (stored !== '' && posted === maskUrl(stored)) return stored;
  if (posted.includes(HIDDEN)) throw new ConfigError(field, 'has hidden parts ({hidden}): type the whole address again', { hidden: HIDDEN });
  return posted;
}

/**
 * The change with what the browser could not know put back: a masked URL left as shown
 * becomes the stored URL, a webhook row with a ref and an empty secret keeps that
 * webhook's secret. Refusals come back by field, like the schema's.
 */
export function withStoredSecrets(current: TenantSettings, change: Record<string, unknown>): { change: Record<string, unknown>; errors: ConfigError[] } {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const errors: ConfigError[] = [];
  for (const [rawKey, value] of Object.entries(change)) {
    const key = settingKeyOf(rawKey);
    try {
      if (key === 'lookupUrlTemplate') out[rawKey] = postedUrl(value, current.lookupUrlTemplate, rawKey);
      else if (key === 'webhooks' && Array.isArray(value)) out[rawKey] = value.map((row, i) => postedWebhook(current, row, `${rawKey}[${i}]`));
      else if (key === 'crm') out[rawKey] = postedCrm(current, value, rawKey);
      else out[rawKey] = value;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      errors.push(err);
    }
  }
  return { change: out, errors };
}

function postedWebhook(current: TenantSettings, row: unknown, at: string): unknown {
  if (typeof row !== 'object' || row === null) return row;
  const { ref, ...rest } = row as Record<string, unknown>;
  const stored = typeof ref === 'number' && Number.isInteger(ref) ? current.webhooks[ref] : undefined;
  if (!stored) return { ...rest, url: postedUrl(rest.url, '', `${at}.url`) };
  const secret = rest.secret === undefined || rest.secret === '' ? stored.secret : rest.secret;
  return { ...rest, url: postedUrl(rest.url, stored.url, `${at}.url`), secret };
}

/**
 * A posted CRM block: fields left out keep their stored values (API clients may post only
 * what changed); an empty or HIDDEN token keeps the stored token, unless the CRM is turned
 * off, which forgets it. The stored token goes
 * only to the address it was saved with: a new address needs the token typed again, or
 * whoever can change the settings could point the stored token at a server of theirs.
 */
function postedCrm(current: TenantSettings, posted: unknown, field: string): unknown {
  if (typeof posted !== 'object' || posted === null || Array.isArray(posted)) return posted;
  const p = posted as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...current.crm, ...p };
  merged.baseUrl = postedUrl(p.baseUrl ?? p.base_url ?? current.crm.baseUrl, current.crm.baseUrl, `${field}.baseUrl`);
  delete merged.base_url;
  merged.token = postedCrmSecret(current, merged, p.token, current.crm.token, `${field}.token`, 'type the token again: the address it is sent to changed');
  // Salesforce's consumer secret is kept and guarded like the token; other CRMs have none.
  delete merged.client_secret;
  if (merged.kind === 'salesforce') {
    merged.clientSecret = postedCrmSecret(current, merged, p.clientSecret ?? p.client_secret, current.crm.clientSecret ?? '', `${field}.clientSecret`, 'type the consumer secret again: the address it is sent to changed');
  } else delete merged.clientSecret;
  return merged;
}

function postedCrmSecret(current: TenantSettings, merged: Record<string, unknown>, posted: unknown, stored: string, field: string, retype: string): unknown {
  const typed = typeof posted === 'string' && posted !== '' && posted !== HIDDEN;
  // Turning the CRM off forgets its secrets: none is kept for a connection nobody uses.
  if (merged.kind === '') return typed ? posted : '';
  if (typed) return posted;
  if (merged.baseUrl !== current.crm.baseUrl && stored !== '') throw new ConfigError(field, retype);
  return stored;
}
