import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signed identity header the PHP glue (SmcProxy.php) puts on every request it
 * forwards: who is asking, for which tenant, with which role and language. The PBX's web
 * session already authenticated the user; this header carries that decision to the
 * service, which trusts nothing else. Contract: docs/identity.md.
 */

export const IDENTITY_HEADER = 'x-smc-identity';
export const SIGNATURE_HEADER = 'x-smc-signature';

/** A header older or newer than this (clock skew, replay) is refused. */
export const MAX_IDENTITY_AGE_SECONDS = 60;

export const ROLES = ['admin', 'viewer', 'superadmin'] as const;
export const LANGUAGES = ['en', 'ro'] as const;

export interface Identity {
  user: string;
  tenant: string;
  role: (typeof ROLES)[number];
  lang: (typeof LANGUAGES)[number];
  /** Unix seconds when the glue signed it. */
  ts: number;
}

export type IdentityCheck = { ok: true; identity: Identity } | { ok: false; reason: string };

/** Returns the two header values: base64url(JSON) and hex HMAC-SHA256 over that exact string. */
export function signIdentity(secret: string, identity: Identity): { header: string; signature: string } {
  if (!secret) throw new Error('server.secret is empty: cannot sign an identity');
  const header = Buffer.from(JSON.stringify(identity), 'utf8').toString('base64url');
  return { header, signature: hmacHex(secret, header) };
}

/**
 * Checks a received header pair. The signature is verified before the payload is parsed,
 * so nothing an unauthenticated client sends is interpreted.
 */
export function verifyIdentity(
  secret: string,
  headerValue: string | undefined,
  signature: string | undefined,
  nowSeconds: number,
): IdentityCheck {
  if (!secret) return { ok: false, reason: 'server.secret is not configured' };
  if (!headerValue || !signature) return { ok: false, reason: 'identity header or signature missing' };
  if (!/^[A-Za-z0-9_-]{1,4096}$/.test(headerValue)) return { ok: false, reason: 'identity header is not base64url' };
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) return { ok: false, reason: 'signature is not a hex HMAC-SHA256' };
  const expected = Buffer.from(hmacHex(secret, headerValue), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return { ok: false, reason: 'bad signature' };

  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(headerValue, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'identity payload is not JSON' };
  }
  const identity = asIdentity(payload);
  if (!identity) return { ok: false, reason: 'identity payload has missing or invalid fields' };
  if (Math.abs(nowSeconds - identity.ts) > MAX_IDENTITY_AGE_SECONDS) {
    return { ok: false, reason: `identity timestamp is more than ${MAX_IDENTITY_AGE_SECONDS} s away from the service clock` };
  }
  return { ok: true, identity };
}

function hmacHex(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data, 'utf8').digest('hex');
}

function asIdentity(value: unknown): Identity | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (typeof v.user !== 'string' || v.user.length === 0 || v.user.length > 128) return null;
  if (typeof v.tenant !== 'string' || !/^[\w.-]{1,64}$/.test(v.tenant)) return null;
  if (!ROLES.includes(v.role as Identity['role'])) return null;
  if (!LANGUAGES.includes(v.lang as Identity['lang'])) return null;
  if (typeof v.ts !== 'number' || !Number.isInteger(v.ts)) return null;
  return { user: v.user, tenant: v.tenant, role: v.role as Identity['role'], lang: v.lang as Identity['lang'], ts: v.ts };
}
