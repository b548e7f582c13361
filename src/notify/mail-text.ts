import type { Config } from '../config/schema.js';
import type { Translate } from '../detect/explain.js';
import { Links, type View } from '../web/links.js';

/** How a mail names why an entry was cleared. */
export function clearReasonLabel(t: Translate, reason: string | null): string {
  switch (reason) {
    case 'returned':
      return t('called back');
    case 'answered_later':
      return t('answered on a later call');
    case 'manual':
      return t('resolved by hand');
    case 'expired':
      return t('expired');
    case 'reclassified':
      return t('no longer counted as missed');
    default:
      return reason ?? '';
  }
}

/** The caller as a mail shows it: "Name (number)", the number alone, or "anonymous". */
export function callerLabel(t: Translate, caller: string, name: string): string {
  const number = caller === 'anonymous' ? t('anonymous') : caller;
  return name && name !== caller ? `${name} (${number})` : number;
}

/** An absolute link into the module's pages, from server.baseUrl; empty when no base URL is configured. */
export function pageLink(config: Config, tenant: string, view: View, id?: number): string {
  if (!config.server.baseUrl) return '';
  const links = new Links(config.server.users.length ? 'standalone' : 'pbx', tenant === 'default' ? null : tenant);
  try {
    return new URL(links.page(view, {}, id), config.server.baseUrl.endsWith('/') ? config.server.baseUrl : config.server.baseUrl + '/').toString();
  } catch {
    return '';
  }
}
