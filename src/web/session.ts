import { createHmac, randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { IdentityUser } from '../config/schema.js';
import type { Identity } from './identity.js';

/**
 * Standalone/demo logins (config.server.users): a signed, HttpOnly, SameSite=Strict
 * cookie naming the session, and the session itself held by the service (SessionStore),
 * so that logging out ends it at once. Behind the PBX there are no sessions — the signed
 * identity header of each request is the whole story.
 */
export const SESSION_COOKIE = 'smc_session';
const SESSION_HOURS = 12;
/** Live sessions kept at most; past it the oldest is ended (each needs a password to open). */
const MOST_SESSIONS = 10_000;

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

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`;
}

/**
 * The sessions this process opened. A signed cookie alone would stay good for its 12 hours
 * after a logout, after its user left config.server.users, and across a restart; here a
 * session is good only while the store holds it and its user is still configured with the
 * same tenant and password. The role is the configured one of each request, not the one
 * at login. A restart ends every session: standalone users log in again.
 */
export class SessionStore {
  /** sid → the session and a digest of the password it was opened with; oldest first. */
  private readonly live = new Map<string, { session: Session; password: Buffer }>();

  constructor(private readonly secret: string, private readonly most = MOST_SESSIONS) {}

  /** Opens a session for a user whose password was just checked; the cookie value to set. */
  open(user: IdentityUser, nowSeconds: number): string {
    const session = newSession(user, nowSeconds);
    if (this.live.size >= this.most) this.forgetExpired(nowSeconds);
    while (this.live.size >= this.most) this.live.delete(this.live.keys().next().value as string);
    this.live.set(session.sid, { session, password: digest(user.password) });
    return sessionCookieValue(this.secret, session);
  }

  /** The session a cookie names, with its user's current role; null when it is over. */
  read(value: string | undefined, users: readonly IdentityUser[], nowSeconds: number): Session | null {
    const signed = readSessionCookie(this.secret, value, nowSeconds);
    const held = signed && this.live.get(signed.sid);
    if (!held) return null;
    const user = users.find((u) => u.user === held.session.user);
    if (!user || user.tenant !== held.session.tenant || !timingSafeEqual(digest(user.password), held.password) || held.session.exp < nowSeconds) {
      this.live.delete(held.session.sid);
      return null;
    }
    return { ...held.session, role: user.role };
  }

  /** Logout: the cookie's session ends here, whatever the browser keeps. */
  end(sid: string): void {
    this.live.delete(sid);
  }

  private forgetExpired(nowSeconds: number): void {
    for (const [sid, { session }] of this.live) if (session.exp < nowSeconds) this.live.delete(sid);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
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
