/**
 * Where the browser reaches each page and API. Behind the PBX the browser never talks to
 * the service: pages go through FreePBX's config.php?display=smartmissedcalls&view=…,
 * API calls and the event stream through ajax.php?module=smartmissedcalls&command=…&path=…
 * (see SmcProxy.php). Standalone, the service's own paths are used.
 */
export type Mode = 'pbx' | 'standalone';
export type View = 'dashboard' | 'entries' | 'entry' | 'settings' | 'calculator';

type Params = Record<string, string | number | undefined | null>;

const MODULE = 'smartmissedcalls';

export class Links {
  /**
   * @param tenantParam the tenant a superadmin switched to, carried by every link
   * @param pbxParam the PBX view of a group (src/web/pbx-view.ts), carried by every link
   */
  constructor(readonly mode: Mode, private readonly tenantParam: string | null, private readonly pbxParam: string | null = null) {}

  /** The same links for another PBX view. */
  withPbx(pbxParam: string | null): Links {
    return new Links(this.mode, this.tenantParam, pbxParam);
  }

  page(view: View, params: Params = {}, id?: number): string {
    const all = { ...this.viewQuery(), ...params };
    if (this.mode === 'pbx') {
      return `config.php?${query({ display: MODULE, view, ...(id !== undefined ? { id } : {}), ...all })}`;
    }
    const path = view === 'entry' ? `/entries/${id}` : `/${view}`;
    const q = query(all);
    return q ? `${path}?${q}` : path;
  }

  /** A GET form that lands on a page: its action and the hidden fields that keep it there (the PBX view is the form's own select). */
  form(view: View): { action: string; hidden: [string, string][] } {
    const hidden: [string, string][] = Object.entries(this.tenantQuery()).map(([k, v]) => [k, String(v)]);
    if (this.mode === 'pbx') return { action: 'config.php', hidden: [['display', MODULE], ['view', view], ...hidden] };
    return { action: `/${view}`, hidden };
  }

  /** An /api/… path (with its query) as the browser must request it. */
  api(path: string, params: Params = {}): string {
    const q = query({ ...this.viewQuery(), ...params });
    const full = q ? `${path}${path.includes('?') ? '&' : '?'}${q}` : path;
    if (this.mode === 'standalone') return full;
    const command = path.startsWith('/api/events') ? 'events' : 'api';
    return `ajax.php?${query({ module: MODULE, command, path: full })}`;
  }

  asset(path: string): string {
    return this.mode === 'standalone' ? path : `ajax.php?${query({ module: MODULE, command: 'page', path })}`;
  }

  private tenantQuery(): Params {
    return this.tenantParam ? { tenant: this.tenantParam } : {};
  }

  private viewQuery(): Params {
    return { ...this.tenantQuery(), ...(this.pbxParam ? { pbx: this.pbxParam } : {}) };
  }
}

export function query(params: Params): string {
  return Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
}
