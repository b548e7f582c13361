import type { Pool, RowDataPacket } from 'mysql2/promise';
import { applySettings, settingsFromStored, type TenantSettings } from './schema.js';

export async function loadSettings(pool: Pool, tenant: string): Promise<TenantSettings> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT settings FROM smart_missed_calls_settings WHERE tenant = ? AND pbx = @smc_pbx', [tenant]);
  return settingsFromStored(rows[0]?.settings as string | undefined);
}

/** Validates the whole change first (throws ConfigError naming the field); only a valid change is saved. */
export async function saveSettings(pool: Pool, tenant: string, change: Record<string, unknown>, user: string): Promise<TenantSettings> {
  const next = applySettings(await loadSettings(pool, tenant), change);
  await pool.query(
    `INSERT INTO smart_missed_calls_settings (pbx, tenant, settings, updated_at, updated_by) VALUES (@smc_pbx, ?, ?, NOW(), ?)
     ON DUPLICATE KEY UPDATE settings = VALUES(settings), updated_at = NOW(), updated_by = VALUES(updated_by)`,
    [tenant, JSON.stringify(next), user],
  );
  return next;
}

/** Every tenant that has settings or entries. */
export async function knownTenants(pool: Pool): Promise<string[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT tenant FROM smart_missed_calls_settings WHERE pbx = @smc_pbx UNION SELECT DISTINCT tenant FROM smart_missed_calls WHERE pbx = @smc_pbx',
  );
  const tenants = rows.map((r) => String(r.tenant));
  return tenants.length ? tenants : ['default'];
}
