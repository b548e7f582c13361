import { createHmac, randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { IdentityUser } from '../config/schema.js';
import type { Identity } from './identity.js';

/**
 * Standalone/demo logins (config.server.users): a signed, HttpOnly, SameSite=Strict
 * cookie carrying who logged in. Behind the PBX there are no sessions — the signed
 * identity header of each request is the whole story.
 */
export const SESSION_COOKIE = 'smc_session';
const SESSION_HOURS = 12;

export interface Session {
  user: string;
  tenant: string;
  role: Identity['role'];
  /** Random per login: the CSRF token is derived from it. */
  sid: string;
  /** Unix seconds. */
  exp: number;
}

export function findUser(users: IdentityUser[], name: string, password: string): IdentityUser | null {
  let found: IdentityUser | null = null;
  // Every configured user is compared, so the time taken says nothing about which names exist.
  for (const u of users) {
    const nameOk = sameSecret(u.user, name);
    const passwordOk = sameSecret(u.password, password);
    if (nameOk && passwordOk && u.password !== '') found = u;
  }
  return found;
}

/** Constant-time comparison of two strings of any length (compared as SHA-256 digests). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function newSession(user: IdentityUser, nowSeconds: number): Session {
  return { user: user.user, tenant: user.tenant, role: user.role, sid: randomBytes(16).toString('hex'), exp: nowSeconds + SESSION_HOURS * 3600 };
}

export function sessionCookieValue(secret: string, session: Session): string {
  const body = Buffer.from(JSON.stringify(session), 'utf8').toString('base64url');
  return `${body}.${sign(secret, body)}`;
}

export function readSessionCookie(secret: string, value: string | undefined, nowSeconds: number): Session | null {
  if (!value) return null;
  const [body, signature] = value.split('.');
  if (!body || !signature || !/^[0-9a-f]{64}$/.test(signature)) return null;
  if (!timingSafeEqual(Buffer.from(sign(secret, body), 'hex'), Buffer.from(signature, 'hex'))) return null;
  try {
    const s = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Session;
    if (typeof s.exp !== 'number' || s.exp < nowSeconds) return null;
    return s;
  } catch {
    return null;
  }
}

export function sessionCookieHeader(value: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_HOURS * 3600}${secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
}

export function cookieOf(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function sign(secret: string, data: string): string {
  return createHmac('sha256', secret).update('session:').update(data).digest('hex');
}
