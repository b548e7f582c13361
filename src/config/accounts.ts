import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Pool, RowDataPacket } from 'mysql2/promise';

/**
 * Per-tenant accounts for PBXs whose own login we cannot verify (VitalPBX): the super
 * admin creates them with `smc users add`, the PHP glue checks a login through
 * `smc users verify` and then signs the identity header as usual. Passwords are stored
 * as scrypt hashes: `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`.
 */
export const ACCOUNT_ROLES = ['admin', 'viewer', 'superadmin'] as const;
export type AccountRole = (typeof ACCOUNT_ROLES)[number];

export interface Account {
  user: string;
  tenant: string;
  role: AccountRole;
}

const USER = /^[\w.@-]{1,64}$/;
const TENANT = /^[\w.-]{1,64}$/;
const COST = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;
const MIN_PASSWORD = 10;
/** Compared against when the user does not exist, so a login takes as long either way. */
let unknownUserHash: Promise<string> | null = null;

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_LENGTH, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export function checkAccount(account: Account): void {
  if (!USER.test(account.user)) throw new Error(`user name '${account.user}' must be 1-64 letters, digits, . @ _ -`);
  if (!TENANT.test(account.tenant)) throw new Error(`tenant '${account.tenant}' is not a tenant name`);
  if (!ACCOUNT_ROLES.includes(account.role)) throw new Error(`role must be one of ${ACCOUNT_ROLES.join(', ')}`);
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD) throw new Error(`the password must have at least ${MIN_PASSWORD} characters`);
}

export async function addAccount(pool: Pool, account: Account, password: string): Promise<void> {
  checkAccount(account);
  checkPassword(password);
  const [result] = await pool.query(
    'INSERT IGNORE INTO smart_missed_calls_users (pbx, user, tenant, role, password_hash, created_at, updated_at) VALUES (@smc_pbx, ?, ?, ?, ?, NOW(), NOW())',
    [account.user, account.tenant, account.role, await hashPassword(password)],
  );
  if ((result as { affectedRows: number }).affectedRows === 0) throw new Error(`user '${account.user}' already exists`);
}

export async function setPassword(pool: Pool, user: string, password: string): Promise<void> {
  checkPassword(password);
  const [result] = await pool.query('UPDATE smart_missed_calls_users SET password_hash = ?, updated_at = NOW() WHERE pbx = @smc_pbx AND user = ?', [await hashPassword(password), user]);
  if ((result as { affectedRows: number }).affectedRows === 0) throw new Error(`no user '${user}'`);
}

export async function removeAccount(pool: Pool, user: string): Promise<void> {
  const [result] = await pool.query('DELETE FROM smart_missed_calls_users WHERE pbx = @smc_pbx AND user = ?', [user]);
  if ((result as { affectedRows: number }).affectedRows === 0) throw new Error(`no user '${user}'`);
}

export async function listAccounts(pool: Pool, tenant?: string): Promise<Account[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT user, tenant, role FROM smart_missed_calls_users WHERE pbx = @smc_pbx${tenant ? ' AND tenant = ?' : ''} ORDER BY tenant, user`,
    tenant ? [tenant] : [],
  );
  return rows.map((r) => ({ user: String(r.user), tenant: String(r.tenant), role: String(r.role) as AccountRole }));
}

/** The account when user and password match; null otherwise (the same work is done for an unknown user). */
export async function verifyLogin(pool: Pool, user: string, password: string): Promise<Account | null> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT user, tenant, role, password_hash FROM smart_missed_calls_users WHERE pbx = @smc_pbx AND user = ?', [user]);
  const row = rows[0];
  const stored = row ? String(row.password_hash) : await (unknownUserHash ??= hashPassword(randomBytes(16).toString('hex')));
  const ok = await passwordMatches(password, stored);
  if (!row || !ok) return null;
  return { user: String(row.user), tenant: String(row.tenant), role: String(row.role) as AccountRole };
}
