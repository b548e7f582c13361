
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

// A way through the PBX's own routing configuration (src/cdr/pbx-routes.ts reads it), as a verdict names it.

/** What one step of a route is. `did` is the inbound route itself; `other` a goto we do not follow. */
export type RouteStepKind = 'did' | 'queue' | 'ringgroup' | 'ivr' | 'extension' | 'timecondition' | 'voicemail' | 'hangup' | 'other';

/**
 * How a step was reached from the one before: the inbound route's destination, a failover
 * (queue, ring group, follow-me), an IVR's timeout, invalid choice or a digit the caller
 * pressed, or a time condition's branch (its time group matched or not).
 */
export type RouteStepVia = 'start' | 'destination' | 'failover' | 'timeout' | 'invalid' | 'choice' | 'matched' | 'unmatched';

export interface RouteStep {
  kind: RouteStepKind;
  /** Queue/ring group/extension/voicemail box number, IVR or time condition id, the DID; the goto for `other`. */
  id: string;
  /** The name the PBX gives it (queue descr, IVR name, time condition displayname, …), or ''. */
  name: string;
  via: RouteStepVia;
  /** The digit, for via `choice`. */
  choice?: string;
}

/**
 * One way through the configuration, from the DID to where it stops: `end` (a destination
 * with nothing after it), `loop` (the next step was already on the path), `limit` (too long
 * to follow), `missing` (the last step names a queue, ring group, IVR or time condition that
 * is not configured).
 */
export interface RoutePath {
  steps: RouteStep[];
  ends: 'end' | 'loop' | 'limit' | 'missing';
}
