import { createHash } from 'node:crypto';
import type { LampScope } from '../config/schema.js';
import { activeClaim, type ClaimRow } from '../ledger/claims.js';

/**
 * The lamp on the phones, as a pure function: which Asterisk custom device states
 * (`Custom:SMC…`) should be INUSE ("missed calls waiting") and which NOT_INUSE, from the
 * open entries, their claims and the ledger's clock; and which Setvar actions bring the
 * PBX from what was last set to that. No I/O: src/pbx/lamp.ts reads and sets.
 */

export type LampState = 'INUSE' | 'NOT_INUSE';

/** An open entry, as much of it as a lamp needs, with its claim row (if any). */
export interface LampEntry {
  tenant: string;
  routeKind: string;
  routeId: string;
  /** The entry's episode (claims hold the episode they were made in). */
  firstAttempt: string;
  claim: ClaimRow | null;
}

/**
 * Device names go into dialplan hints (`exten => *SMC,hint,Custom:SMC_queue_400`), into
 * `DEVICE_STATE(...)` and into astdb keys (family CustomDevstate): `,` `&` `(` `)` `:` `/`
 * and spaces all mean something there, so only letters, digits, `_` and `-` are kept.
 */
const UNSAFE = /[^A-Za-z0-9_-]/g;
/** Well inside Asterisk's 80-character extension and hint buffers. */
const MAX_NAME = 64;

function safe(text: string): string {
  return text.replace(UNSAFE, '_');
}

/**
 * The device of a tenant's lamp (no route) or of one route's lamp:
 *  - FreePBX (one tenant): `Custom:SMC`, `Custom:SMC_<kind>_<id>` (e.g. `Custom:SMC_queue_400`);
 *  - VitalPBX (one Asterisk for every tenant): the tenant's name comes first, so two tenants
 *    never share a lamp: `Custom:SMC_<tenant>`, `Custom:SMC_<tenant>_<kind>_<id>`.
 * A route without an id (a call with no DID) is `…_route`. A name past 64 characters is cut
 * and ends with 8 hex digits of its SHA-1, so it stays one name per route.
 */
export function lampDevice(pbx: 'freepbx' | 'vitalpbx', tenant: string, route?: { kind: string; id: string }): string {
  const parts = ['SMC'];
  if (pbx === 'vitalpbx') parts.push(safe(tenant));
  if (route) parts.push(safe(route.kind), ...(route.id === '' ? [] : [safe(route.id)]));
  let name = parts.join('_');
  if (name.length > MAX_NAME) name = `${name.slice(0, MAX_NAME - 9)}_${createHash('sha1').update(name).digest('hex').slice(0, 8)}`;
  return `Custom:${name}`;
}

export interface DesiredLamps {
  /** Every lamp a lamp-enabled tenant has now, lit or not. */
  states: Map<string, LampState>;
  /** The soonest an active claim lapses (its entry is unclaimed again then), or null. */
  nextChangeAt: string | null;
}

/**
 * The lamps as they should be now. A tenant with the lamp on has its tenant lamp (scope
 * tenant or both: INUSE while any of its open entries is unclaimed) and a lamp per route
 * that has open entries (scope route or both: INUSE while one of them is unclaimed). A
 * claim counts only while activeClaim says so, so one that lapsed lights the lamp again.
 *
 * @param entries open entries only
 * @param tenants the tenants with the lamp on, and their scope
 * @param now naive datetime on the ledger's clock, as the claims' times
 */
export function desiredLamps(entries: readonly LampEntry[], tenants: ReadonlyMap<string, LampScope>, pbx: 'freepbx' | 'vitalpbx', now: string): DesiredLamps {
  const states = new Map<string, LampState>();
  let nextChangeAt: string | null = null;
  const light = (device: string, waiting: boolean) => {
    if (waiting) states.set(device, 'INUSE');
    else if (!states.has(device)) states.set(device, 'NOT_INUSE');
  };
  for (const [tenant, scope] of tenants) if (scope !== 'route') light(lampDevice(pbx, tenant), false);
  for (const entry of entries) {
    const scope = tenants.get(entry.tenant);
    if (scope === undefined) continue;
    const claim = activeClaim(entry.claim, { status: 'open', firstAttempt: entry.firstAttempt }, now);
    if (claim && (nextChangeAt === null || claim.expiresAt < nextChangeAt)) nextChangeAt = claim.expiresAt;
    const waiting = claim === null;
    if (scope !== 'route') light(lampDevice(pbx, entry.tenant), waiting);
    if (scope !== 'tenant') light(lampDevice(pbx, entry.tenant, { kind: entry.routeKind, id: entry.routeId }), waiting);
  }
  return { states, nextChangeAt };
}

/**
 * The Setvar actions that take the PBX from `lastSet` (what was last set successfully) to
 * `desired`: one per lamp whose state differs, and NOT_INUSE for a lamp that was lit and is no
 * longer wanted (its last entry cleared, its tenant's lamp turned off, its scope changed).
 * A lamp already in the wanted state costs nothing, so many looks with no change send
 * nothing. `reassert` (a new AMI session: the PBX may have restarted, or another instance
 * set lamps meanwhile) sends every lamp once, whatever was set before; `known` adds lamps
 * to turn off that no one remembers lighting (those of routes with no open entry).
 * Sorted by device, so the order is the same at every look.
 */
export function lampChanges(
  desired: ReadonlyMap<string, LampState>,
  lastSet: ReadonlyMap<string, LampState>,
  reassert = false,
  known: Iterable<string> = [],
): [device: string, state: LampState][] {
  const wanted = new Map(desired);
  for (const [device, state] of lastSet) if (!wanted.has(device) && (state === 'INUSE' || reassert)) wanted.set(device, 'NOT_INUSE');
  if (reassert) for (const device of known) if (!wanted.has(device)) wanted.set(device, 'NOT_INUSE');
  return [...wanted]
    .filter(([device, state]) => reassert || lastSet.get(device) !== state)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
