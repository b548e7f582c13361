import type { Pool, RowDataPacket } from 'mysql2/promise';

/**
 * Which PBXs' rows a scope reads: THIS_PBX (the connection's `@smc_pbx`, as every ledger
 * statement names it), or a list of pbx ids of the group. The list is never what the
 * request wrote: src/web/pbx-view.ts keeps only ids the tenant's own rows carry, and an
 * empty list reads nothing.
 */
export type PbxSelection = typeof THIS_PBX | { readonly ids: readonly string[] };
export const THIS_PBX = 'this' as const;

/**
 * The only way the web layer reads our tables: every statement names the tenant through
 * the `@tenant` marker (always as `[alias.]tenant = @tenant`), which this fills from the
 * caller's identity, and restricts to the selected PBXs' rows on the same table (this PBX's
 * by default: in a group the ledger holds every PBX's). A statement without it is refused,
 * so no route can forget the WHERE tenant = ? (a tenant admin must never see another
 * tenant's rows, of any PBX).
 */
export class TenantScope {
  constructor(readonly pool: Pool, readonly tenant: string, readonly pbxs: PbxSelection = THIS_PBX) {}

  async rows<T = RowDataPacket>(sql: string, params: unknown[] = []): Promise<T[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(...bindTenant(sql, params, this.tenant, this.pbxs));
    return rows as unknown as T[];
  }

  async one<T = RowDataPacket>(sql: string, params: unknown[] = []): Promise<T | undefined> {
    return (await this.rows<T>(sql, params))[0];
  }
}

const TENANT_MARKER = /\b(\w+\.)?tenant = @tenant\b|@tenant|\?/g;

/**
 * Replaces each `[alias.]tenant = @tenant` with the tenant's and the PBXs' condition, puts
 * the tenant (and the pbx ids) at that position among the params, and refuses an @tenant in
 * any other form.
 */
export function bindTenant(sql: string, params: unknown[], tenant: string, pbxs: PbxSelection = THIS_PBX): [string, unknown[]] {
  if (!sql.includes('@tenant')) throw new Error('refusing a query that is not restricted to the tenant (@tenant missing)');
  const out: unknown[] = [];
  let next = 0;
  const text = sql.replace(TENANT_MARKER, (token, alias: string | undefined) => {
    if (token === '@tenant') throw new Error('refusing @tenant outside `tenant = @tenant`');
    if (token !== '?') {
      out.push(tenant);
      const at = alias ?? '';
      if (pbxs === THIS_PBX) return `(${at}tenant = ? AND ${at}pbx = @smc_pbx)`;
      if (pbxs.ids.length === 0) return `(${at}tenant = ? AND FALSE)`;
      out.push(...pbxs.ids);
      return `(${at}tenant = ? AND ${at}pbx IN (${pbxs.ids.map(() => '?').join(', ')}))`;
    }
    if (next >= params.length) throw new Error('more placeholders than parameters');
    out.push(params[next++]);
    return '?';
  });
  if (next !== params.length) throw new Error('more parameters than placeholders');
  return [text, out];
}
