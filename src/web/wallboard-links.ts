import { createHash } from 'node:crypto';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { TenantScope } from './tenant-scope.js';

/**
 * The wallboard's revocable links (src/web/wallboard.ts): a token opens one tenant's board;
 * only its SHA-256 is stored. The event streams ask here which open boards were revoked.
 */

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface WallboardLink {
  id: number;
  tenant: string;
}

/** The live link a token opens, or null (unknown, revoked, or another PBX's). */
export async function linkOfToken(pool: Pool, token: string): Promise<WallboardLink | null> {
  if (!TOKEN.test(token)) return null;
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT id, tenant FROM smart_missed_calls_wallboards WHERE token_hash = ? AND pbx = @smc_pbx AND revoked_at IS NULL',
    [tokenHash(token)],
  );
  return rows[0] ? { id: Number(rows[0].id), tenant: String(rows[0].tenant) } : null;
}

/** Of these link ids, the ones no longer live: their open streams are closed. */
export async function revokedLinks(pool: Pool, ids: number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const [rows] = await pool.query<RowDataPacket[]>('SELECT id FROM smart_missed_calls_wallboards WHERE id IN (?) AND revoked_at IS NULL', [ids]);
  const live = new Set(rows.map((r) => Number(r.id)));
  return ids.filter((id) => !live.has(id));
}

export async function liveLinks(scope: TenantScope): Promise<{ id: number; label: string; createdAt: string; createdBy: string }[]> {
  const rows = await scope.rows<RowDataPacket>(
    'SELECT id, label, created_at, created_by FROM smart_missed_calls_wallboards WHERE tenant = @tenant AND revoked_at IS NULL ORDER BY id',
  );
  return rows.map((r) => ({ id: Number(r.id), label: String(r.label), createdAt: String(r.created_at).slice(0, 19), createdBy: String(r.created_by) }));
}
