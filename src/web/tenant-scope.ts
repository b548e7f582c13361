import type { Pool, RowDataPacket } from 'mysql2/promise';

/**
 * The only way the web layer reads our tables: every statement names the tenant through
 * the `@tenant` marker (always as `[alias.]tenant = @tenant`), which this fills from the
 * caller's identity, and restricts to this PBX's rows (`pbx = @smc_pbx` on the same table:
 * in a group the ledger holds every PBX's). A statement without it is refused, so no route
 * can forget the WHERE tenant = ? (a tenant admin must never see another tenant's rows).
 */
export class TenantScope {
  constructor(readonly pool: Pool, readonly tenant: string) {}

  async rows<T = RowDataPacket>(sql: string, params: unknown[] = []): Promise<T[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(...bindTenant(sql, params, this.tenant));
    return rows as unknown as T[];
  }

  async one<T = RowDataPacket>(sql: string, params: unknown[] = []): Promise<T | undefined> {
    return (await this.rows<T>(sql, params))[0];
  }
}

const TENANT_MARKER = /\b(\w+\.)?tenant = @tenant\b|@tenant|\?/g;

/**
 * Replaces each `[alias.]tenant = @tenant` with the tenant's and this PBX's condition, puts
 * the tenant at that position among the params, and refuses an @tenant in any other form.
 */
export function bindTenant(sql: string, params: unknown[], tenant: string): [string, unknown[]] {
  if (!sql.includes('@tenant')) throw new Error('refusing a query that is not restricted to the tenant (@tenant missing)');
  const out: unknown[] = [];
  let next = 0;
  const text = sql.replace(TENANT_MARKER, (token, alias: string | undefined) => {
    if (token === '@tenant') throw new Error('refusing @tenant outside `tenant = @tenant`');
    if (token !== '?') {
      out.push(tenant);
      const at = alias ?? '';
      return `(${at}tenant = ? AND ${at}pbx = @smc_pbx)`;
    }
    if (next >= params.length) throw new Error('more placeholders than parameters');
    out.push(params[next++]);
    return '?';
  });
  if (next !== params.length) throw new Error('more parameters than placeholders');
  return [text, out];
}
