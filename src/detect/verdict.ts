import type { RoutePath } from '../cdr/pbx-routes.js';

/** What the classifier concludes about one call (all CDR rows sharing a linkedid). */
/** abandoned: hung up in an IVR or announcement before any phone rang - neither answered nor missed. */
export type VerdictKind = 'missed' | 'answered' | 'abandoned' | 'internal' | 'outbound' | 'other';
/**
 * inbound: came in from outside (a trunk). outbound: an extension out a trunk. internal: between
 * extensions, or the PBX's own applications (paging, intercom, conferences, parking) with its
 * extensions. other: none of these (started inside the PBX, yet reached a trunk). Only inbound
 * calls are ever missed or counted in the inbound figures.
 */
export type Direction = 'inbound' | 'outbound' | 'internal' | 'other';
export type RouteKind = 'queue' | 'ringgroup' | 'ivr' | 'extension' | 'route';

export type ReasonCode =
  | 'answered_by_extension'
  | 'answered_by_queue_agent'
  | 'answered_external'
  | 'answered_by_pickup'
  | 'extension_rang_no_answer'
  | 'extension_busy'
  | 'extension_unavailable'
  | 'queue_abandon'
  | 'queue_short_wait'
  /** No phone rang, and the PBX's configuration says the caller waited in a queue until its failover took them. */
  | 'queue_failover'
  /** The rows name where the caller was sent (a failover, a time condition's branch); the PBX's configuration names the route. */
  | 'route_from_config'
  | 'voicemail'
  | 'marked_missed'
  | 'ivr_abandon'
  | 'hung_up_before_ringing'
  | 'no_root_row'
  | 'internal_call'
  | 'pbx_application'
  | 'not_from_outside'
  | 'outbound_answered'
  | 'outbound_unanswered'
  | 'anonymous_caller'
  /** Refused as busy (cause 17) before any phone rang: an extension on DND, or busy with no voicemail. */
  | 'refused_busy'
  /** No CDR row: the verdict comes from the call's CEL events alone. */
  | 'cel_only'
  /** The CDR rows do not show where the caller went (a queue's maxwait failover); CEL does. */
  | 'route_from_cel';

export interface RangExtension {
  ext: string;
  tries: number;
  ringSeconds: number;
  outcome: 'answered' | 'no_answer' | 'busy' | 'unavailable';
}

export interface Route {
  kind: RouteKind;
  id: string;
  label: string;
}

export interface Verdict {
  linkedid: string;
  verdict: VerdictKind;
  direction: Direction;
  /** Caller number as the PBX showed it (inbound); the extension for outbound/internal. */
  caller: string;
  callerName: string;
  anonymous: boolean;
  did: string;
  /**
   * Outbound: the number that was dialled, outbound prefixes not yet stripped. A call the PBX's
   * own application started (internal via pbx_application, other): that application's context.
   */
  dialled: string;
  startedAt: string;
  endedAt: string;
  waitSeconds: number;
  rang: RangExtension[];
  /**
   * Extension that answered, or 'external:<number>' for a follow-me/forward target or an
   * outbound call's callee; the number is digits (+, *, #) or empty when no row names it.
   */
  answeredBy: string | null;
  route: Route;
  /** messageLeft: null = unknown (CDR cannot tell; the voicemail spool can, see cdr/voicemail-spool). */
  voicemail: { box: string; context: string; channel: string; messageLeft: boolean | null } | null;
  reasons: ReasonCode[];
  explanation: string[];
  rowCount: number;
  /** With reason route_from_config: the ways through the PBX's configuration that lead to what the rows show. */
  configuredRoute?: RoutePath[];
}

/** One collator for all: `localeCompare` with options builds a new one on every call. */
const EXTENSION_ORDER = new Intl.Collator('en', { numeric: true });

/** Rung extensions in the order people read them: 99 before 100. */
export function byExtension(a: RangExtension, b: RangExtension): number {
  return EXTENSION_ORDER.compare(a.ext, b.ext);
}
