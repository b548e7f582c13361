import type { TenantSettings } from '../config/schema.js';
import { normaliseNumber, type NumberRules } from '../clear/numbers.js';
import type { Verdict } from '../detect/verdict.js';

/** One line of the missed-call list: a caller on one DID, across all their attempts. */
export interface Entry {
  id: number | null;
  tenant: string;
  caller: string;
  callerKey: string;
  callerRaw: string;
  callerName: string;
  anonymous: boolean;
  did: string;
  routeKind: string;
  routeId: string;
  routeLabel: string;
  status: 'open' | 'cleared';
  missedCount: number;
  totalMissed: number;
  /** Extension → number of this entry's missed calls it rang in. */
  rang: Record<string, number>;
  firstAttempt: string;
  lastAttempt: string;
  lastLinkedid: string;
  voicemailLeft: boolean | null;
  callbackAttempts: number;
  lastCallbackAt: string | null;
  lastCallbackExt: string | null;
  clearedBy: ClearReason | null;
  clearedAt: string | null;
  clearedExt: string | null;
  clearedUser: string | null;
  clearedLinkedid: string | null;
  note: string | null;
}

/**
 * The longest note a user may write when resolving an entry. The page and the API refuse a
 * longer one, counting UTF-16 units as a browser's maxlength does (never fewer than the
 * characters), so an accepted note is never cut; the ledger never stores more.
 */
export const NOTE_MAX_CHARS = 2000;

export type ClearReason = 'returned' | 'answered_later' | 'manual' | 'expired' | 'reclassified';

export type AuditEvent =
  | 'created' | 'incremented' | 'notified' | 'callback_attempted' | 'cleared' | 'reopened' | 'reclassified' | 'forgotten'
  | 'claimed' | 'claim_released' | 'claim_taken_over' | 'escalated' | 'crm_forgotten';

/** What happened to an entry, as it goes into the audit journal and the outbox. */
export interface LedgerEvent {
  entry: Entry;
  event: AuditEvent;
  reason: ClearReason | null;
  actor: string;
  ext: string | null;
  linkedid: string | null;
  note: string | null;
}

/** Events that may notify someone (email, webhooks). */
export const NOTIFYING_EVENTS: ReadonlySet<AuditEvent> = new Set(['created', 'incremented', 'cleared', 'reopened']);

export function numberRules(settings: TenantSettings): NumberRules {
  return { defaultCountry: settings.defaultCountry, outboundPrefixes: settings.outboundPrefixes, matchDigits: settings.matchDigits };
}

/** The entry a missed call belongs to: same tenant, same caller (by key), same DID. */
export function entryKeyOf(verdict: Verdict, settings: TenantSettings): { callerKey: string; did: string } {
  return { callerKey: normaliseNumber(verdict.caller, numberRules(settings)).key, did: verdict.did };
}

/**
 * The ledger's state machine, pure: a classified call (in chronological order) against
 * the entries it can touch. `entries` holds every entry of this tenant with the call's
 * caller key (any DID); changed entries are mutated in place and new ones added, and
 * the events say what happened.
 *
 *   missed call        → created | incremented | reopened (a cleared entry starts a new episode)
 *   answered inbound   → cleared(answered_later) of the caller's open entries (all DIDs or same DID)
 *   answered outbound  → cleared(returned) of the called number's open entries
 *   unanswered outbound→ callback_attempted (recorded, no clear)
 * Withheld callers get entries but are never cleared by matching.
 */
export function applyCall(entries: CallerEntries, tenant: string, verdict: Verdict, settings: TenantSettings): LedgerEvent[] {
  const rules = numberRules(settings);
  const events: LedgerEvent[] = [];
  const emit = (entry: Entry, event: AuditEvent, extra: Partial<LedgerEvent> = {}) =>
    events.push({ entry, event, reason: null, actor: 'agent', ext: null, linkedid: verdict.linkedid, note: null, ...extra });

  if (verdict.verdict === 'missed') {
    const number = normaliseNumber(verdict.caller, rules);
    let entry = entries.withKey(number.key).find((e) => e.did === verdict.did);
    if (!entry) {
      entry = newEntry(tenant, verdict, number.display, number.key, number.anonymous);
      entries.add(entry);
      emit(entry, 'created');
    } else if (entry.status === 'cleared') {
      reopen(entry, verdict);
      emit(entry, 'reopened');
    } else {
      addAttempt(entry, verdict);
      emit(entry, 'incremented');
    }
    return events;
  }

  if (verdict.verdict === 'answered' && verdict.direction === 'inbound') {
    const number = normaliseNumber(verdict.caller, rules);
    if (number.anonymous) return events;
    for (const entry of openEntriesBefore(entries, number.key, verdict.startedAt)) {
      if (!settings.clearAcrossDids && entry.did !== verdict.did) continue;
      const ext = verdict.answeredBy?.startsWith('external:') ? null : verdict.answeredBy;
      clear(entry, 'answered_later', verdict.startedAt, { ext, linkedid: verdict.linkedid });
      emit(entry, 'cleared', { reason: 'answered_later', ext });
    }
    return events;
  }

  if (verdict.verdict === 'outbound') {
    const number = normaliseNumber(verdict.dialled, rules, true);
    if (number.anonymous) return events;
    const ext = verdict.caller;
    for (const entry of openEntriesBefore(entries, number.key, verdict.startedAt)) {
      if (verdict.answeredBy) {
        clear(entry, 'returned', verdict.startedAt, { ext, linkedid: verdict.linkedid });
        emit(entry, 'cleared', { reason: 'returned', ext });
      } else {
        entry.callbackAttempts += 1;
        entry.lastCallbackAt = verdict.startedAt;
        entry.lastCallbackExt = ext;
        emit(entry, 'callback_attempted', { ext });
      }
    }
  }
  return events;
}

/**
 * A call recorded by another PBX of the group that clears this PBX's entries of its caller:
 * an answered callback (`returned`) or the caller answered there (`answered_later`). Its
 * caller key is the one that PBX stored; `at` is its instant on THIS PBX's wall clock
 * (src/sync/pbx-clock.ts), so it compares with this PBX's entries as a local call would.
 */
export interface OtherPbxClearer {
  pbx: string;
  linkedid: string;
  reason: 'returned' | 'answered_later';
  callerKey: string;
  did: string;
  /** The extension that called back or answered at that PBX; null when none (answered outside). */
  ext: string | null;
  at: string;
}

/**
 * The state machine's answered call, from another PBX: the caller's open entries whose last
 * miss came before it are cleared, the DID rule applying to `answered_later` as to a local
 * answer. The ext names that PBX too (`102@cluj`): extension 102 of this PBX is someone else.
 */
export function applyOtherPbxClear(entries: CallerEntries, clearer: OtherPbxClearer, settings: TenantSettings): LedgerEvent[] {
  const events: LedgerEvent[] = [];
  const ext = clearer.ext === null ? `@${clearer.pbx}` : `${clearer.ext}@${clearer.pbx}`;
  for (const entry of openEntriesBefore(entries, clearer.callerKey, clearer.at)) {
    if (clearer.reason === 'answered_later' && !settings.clearAcrossDids && entry.did !== clearer.did) continue;
    clear(entry, clearer.reason, clearer.at, { ext, linkedid: clearer.linkedid });
    events.push({ entry, event: 'cleared', reason: clearer.reason, actor: 'agent', ext, linkedid: clearer.linkedid, note: `pbx ${clearer.pbx}` });
  }
  return events;
}

function openEntriesBefore(entries: CallerEntries, key: string, startedAt: string): Entry[] {
  return entries.withKey(key).filter((e) => e.status === 'open' && !e.anonymous && e.lastAttempt <= startedAt);
}

/**
 * The entries a batch of calls can touch, found by caller key: a batch of a backfill
 * holds thousands of calls and entries, and scanning them all for each call made the
 * batch quadratic.
 */
export class CallerEntries {
  private readonly byKey = new Map<string, Entry[]>();
  private readonly byId = new Map<number, Entry>();
  private readonly all: Entry[] = [];

  constructor(entries: Iterable<Entry> = []) {
    for (const entry of entries) this.add(entry);
  }

  add(entry: Entry): void {
    this.all.push(entry);
    const same = this.byKey.get(entry.callerKey);
    if (same) same.push(entry);
    else this.byKey.set(entry.callerKey, [entry]);
    if (entry.id !== null) this.byId.set(entry.id, entry);
  }

  withKey(callerKey: string): readonly Entry[] {
    return this.byKey.get(callerKey) ?? [];
  }

  /** A stored entry (new entries have no id until they are saved). */
  withId(id: number): Entry | undefined {
    return this.byId.get(id);
  }

  /** Every entry, in the order they were added. */
  list(): readonly Entry[] {
    return this.all;
  }
}

function newEntry(tenant: string, v: Verdict, display: string, key: string, anonymous: boolean): Entry {
  const entry: Entry = {
    id: null,
    tenant,
    caller: display,
    callerKey: key,
    callerRaw: v.caller,
    callerName: v.callerName,
    anonymous,
    did: v.did,
    routeKind: v.route.kind,
    routeId: v.route.id,
    routeLabel: v.route.label,
    status: 'open',
    missedCount: 0,
    totalMissed: 0,
    rang: {},
    firstAttempt: v.startedAt,
    lastAttempt: v.startedAt,
    lastLinkedid: v.linkedid,
    voicemailLeft: null,
    callbackAttempts: 0,
    lastCallbackAt: null,
    lastCallbackExt: null,
    clearedBy: null,
    clearedAt: null,
    clearedExt: null,
    clearedUser: null,
    clearedLinkedid: null,
    note: null,
  };
  addAttempt(entry, v);
  return entry;
}

function addAttempt(entry: Entry, v: Verdict): void {
  entry.missedCount += 1;
  entry.totalMissed += 1;
  for (const r of v.rang) entry.rang[r.ext] = (entry.rang[r.ext] ?? 0) + 1;
  if (v.startedAt < entry.firstAttempt) entry.firstAttempt = v.startedAt;
  if (v.startedAt >= entry.lastAttempt) {
    entry.lastAttempt = v.startedAt;
    entry.lastLinkedid = v.linkedid;
    entry.routeKind = v.route.kind;
    entry.routeId = v.route.id;
    entry.routeLabel = v.route.label;
    // A name from the contact manager, a CSV import or the CRM lookup beats the CNAM the
    // carrier sent with this call; CNAM only fills a missing (or digits-only) name.
    if (v.callerName && (!entry.callerName || /^[\d\s+()-]*$/.test(entry.callerName))) entry.callerName = v.callerName;
  }
  if (v.voicemail) entry.voicemailLeft = v.voicemail.messageLeft ?? entry.voicemailLeft;
}

function reopen(entry: Entry, v: Verdict): void {
  entry.status = 'open';
  entry.missedCount = 0;
  entry.rang = {};
  entry.firstAttempt = v.startedAt;
  entry.lastAttempt = v.startedAt;
  entry.callbackAttempts = 0;
  entry.lastCallbackAt = null;
  entry.lastCallbackExt = null;
  entry.clearedBy = null;
  entry.clearedAt = null;
  entry.clearedExt = null;
  entry.clearedUser = null;
  entry.clearedLinkedid = null;
  entry.note = null;
  entry.voicemailLeft = null;
  addAttempt(entry, v);
}

export function clear(
  entry: Entry,
  reason: ClearReason,
  at: string,
  by: { ext?: string | null; user?: string | null; linkedid?: string | null; note?: string | null },
): void {
  entry.status = 'cleared';
  entry.clearedBy = reason;
  entry.clearedAt = at;
  entry.clearedExt = by.ext ?? null;
  entry.clearedUser = by.user ?? null;
  entry.clearedLinkedid = by.linkedid ?? null;
  entry.note = by.note ?? null;
}

/**
 * A call whose late rows turned a miss into an answer no longer counts on its entry;
 * an entry left with no misses in its episode is closed as reclassified.
 */
export function withdrawMiss(entry: Entry, previous: { rang: string[]; startedAt: string }, at: string): void {
  entry.missedCount = Math.max(0, entry.missedCount - 1);
  entry.totalMissed = Math.max(0, entry.totalMissed - 1);
  for (const ext of previous.rang) {
    if (entry.rang[ext] !== undefined && --entry.rang[ext]! <= 0) delete entry.rang[ext];
  }
  if (entry.missedCount === 0 && entry.status === 'open') clear(entry, 'reclassified', at, {});
}
