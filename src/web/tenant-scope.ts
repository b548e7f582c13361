import type { Pool, RowDataPacket } from 'mysql2/promise';

/**
 * The only way the web layer reads our tables: every statement names the tenant through
 * the `@tenant` marker, which this fills from the caller's identity. A statement without
 * it is refused, so no route can forget the WHERE tenant = ? (a tenant admin must never
 * see another tenant's rows).
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

/** Replaces each `@tenant` with a placeholder and puts the tenant at that position among the params. */
export function bindTenant(sql: string, params: unknown[], tenant: string): [string, unknown[]] {
  if (!sql.includes('@tenant')) throw new Error('refusing a query that is not restricted to the tenant (@tenant missing)');
  const out: unknown[] = [];
  let next = 0;
  const text = sql.replace(/@tenant|\?/g, (token) => {
    if (token === '@tenant') out.push(tenant);
    else {
      if (next >= params.length) throw new Error('more placeholders than parameters');
      out.push(params[next++]);
    }
    return '?';
  });
  if (next !== params.length) throw new Error('more parameters than placeholders');
  return [text, out];
}
