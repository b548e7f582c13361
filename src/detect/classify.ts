import type { CelEvent } from '../cdr/cel-row.js';
import { byText, naiveDatetime, naiveSeconds, type CdrRow } from '../cdr/row.js';
import { readCelCall, type CelAnswer, type CelCall } from './cel.js';
import {
  dialledNumberFromLastdata,
  dialTargetFromLastdata,
  isPhoneNumber,
  parseChannel,
  type ExtensionTest,
  type Party,
} from './channels.js';
import type { PbxRoutes } from '../cdr/pbx-routes.js';
import { placeByConfiguration } from './configured-route.js';
import { explain, routeLabel, type RouteLabels } from './explain.js';

export type { RouteLabels };
import { byExtension, type RangExtension, type ReasonCode, type Route, type RouteKind, type Verdict } from './verdict.js';

export interface ClassifyOptions {
  isExtension: ExtensionTest;
  /** Seconds a caller must wait in a queue, with no phone rung, for the hang-up to count. */
  queueAbandonMinWait: number;
  /** Count a hang-up in an IVR before any phone rang as a missed call. */
  countIvrAbandon: boolean;
  /** Route labels (queue 400 → "Sales"); a missing label falls back to "Queue 400". */
  labels?: RouteLabels;
  /**
   * The PBX's routing configuration (inbound routes, failovers, time conditions). When the
   * rows name only where the caller was sent, it names the route they waited in, and how long.
   */
  routes?: PbxRoutes;
}

interface Leg {
  row: CdrRow;
  channel: Party;
  dst: Party;
  start: number;
}

const ANONYMOUS = /^(anonymous|restricted|unknown|unavailable|private|withheld)$/i;

/**
 * Dialplan contexts FreePBX runs calls from trunks through: a trunk's own context (from-pstn,
 * from-trunk, and their -e164-us / -<tech>-<name> variants), the inbound routes (ext-did,
 * ext-did-0001/0002) and a DID routed straight to an extension (from-did-direct).
 */
const FROM_OUTSIDE_CONTEXT = /^(from-pstn|from-trunk|from-did-direct|ext-did)(-|$)/;

/**
 * The verdict on one call: every CDR row and CEL event sharing one linkedid. Pure and total —
 * CDR only, CEL only or both; odd or partial input degrades the answer, it never throws — and
 * independent of the order rows and events come in.
 *
 * The rule: a call is answered only when a human answered it somewhere (an internal
 * extension's device, the agent behind a queue's Local leg, a transfer target, or an
 * external number the PBX itself dialled); it is missed only when there is evidence that
 * someone should have answered (a phone rang, was busy or unavailable, voicemail took it,
 * the caller waited in a queue, the PBX turned the caller away as busy, or custom dialplan
 * marked it). The caller's own row proves nothing: queues and voicemail answer the caller.
 *
 * CDR decides when it has rows; CEL fills what they do not show (the queue a maxwait failover
 * left out of the caller's row), and alone decides a call FreePBX wrote no CDR row for (a DND
 * extension with no voicemail refuses the caller before any Dial, and cdr.conf's
 * unanswered=no keeps such a call out of CDR).
 */
export function classifyCall(input: readonly CdrRow[], options: ClassifyOptions, celEvents: readonly CelEvent[] = []): Verdict {
  const cel = readCelCall(celEvents, options.isExtension);
  if (input.length === 0 && cel?.root) return finish(classifyFromCel(cel, options), options);
  const rows = [...input].sort(compareRows);
  const linkedid = rows[0]?.linkedid ?? cel?.linkedid ?? '';
  const legs: Leg[] = rows.map((row) => ({
    row,
    channel: parseChannel(row.channel, options.isExtension),
    dst: parseChannel(row.dstchannel, options.isExtension),
    start: naiveSeconds(row.calldate),
  }));
  const rootLegs = legs.filter((l) => l.row.uniqueid === linkedid);
  const reasons: ReasonCode[] = [];
  if (rootLegs.length === 0) reasons.push('no_root_row');
  const root = rootLegs[0] ?? legs[0];
  const startedAt = legs.length ? Math.min(...legs.map((l) => l.start)) : 0;
  const endedAt = legs.length ? Math.max(...legs.map((l) => l.start + l.row.duration)) : 0;

  const base = emptyVerdict(linkedid, startedAt, endedAt, rows.length, reasons);
  base.did = rows.find((r) => r.did)?.did ?? '';
  if (!root) return finish(base, options);

  const originExt = originExtension(root.channel, options.isExtension);
  if (originExt) return finish(classifyFromExtension(base, legs, originExt, options.isExtension), options);
  if (enteredFromOutside(rootLegs.length ? rootLegs : legs)) return finish(classifyInbound(base, legs, root, options, cel), options);
  return finish(classifyNeitherWay(base, legs, root), options);
}

function emptyVerdict(linkedid: string, startedAt: number, endedAt: number, rowCount: number, reasons: ReasonCode[]): Verdict {
  return {
    linkedid,
    verdict: 'abandoned',
    direction: 'inbound',
    caller: '',
    callerName: '',
    anonymous: false,
    did: '',
    dialled: '',
    startedAt: naiveDatetime(startedAt),
    endedAt: naiveDatetime(endedAt),
    waitSeconds: 0,
    rang: [],
    answeredBy: null,
    route: { kind: 'route', id: '', label: '' },
    voicemail: null,
    reasons,
    explanation: [],
    rowCount,
  };
}

/**
 * A call is inbound only when it came in from outside: its root channel is a trunk, or its
 * root row carries the DID or a context FreePBX uses for calls from trunks. FreePBX's own
 * applications (a page's Local/s@app-page-stream and Local/PAGE101@app-paging legs,
 * conferences, parking) start calls of their own whose rows have none of these (Local
 * rows have an empty did). With no root row, every row is the evidence.
 */
function enteredFromOutside(evidence: Leg[]): boolean {
  return evidence.some(
    (l) =>
      l.channel.kind === 'trunk' ||
      l.row.did.trim() !== '' ||
      FROM_OUTSIDE_CONTEXT.test(l.row.dcontext) ||
      (l.channel.kind === 'local' && FROM_OUTSIDE_CONTEXT.test(l.channel.context)),
  );
}

/**
 * Neither placed by an extension nor come in from outside: a call the PBX's own applications
 * started (the streams of a page, a conference, a parking lot's ring-back). Made only of
 * Local channels and extensions it is internal; if it reached a trunk it is "other". Neither
 * is ever an inbound call, a miss, or part of the inbound figures. `dialled` keeps the
 * application's dialplan context, which the explanation names.
 */
function classifyNeitherWay(v: Verdict, legs: Leg[], root: Leg): Verdict {
  const reachedTrunk = legs.some((l) => l.channel.kind === 'trunk' || l.dst.kind === 'trunk');
  const source = (root.row.cnum || root.row.src || '').trim();
  v.caller = isPhoneNumber(source) ? source : '';
  v.dialled = root.channel.kind === 'local' ? root.channel.context : root.row.dcontext;
  v.did = '';
  const target = legs.find((l) => l.dst.kind === 'extension')?.dst.name ?? '';
  v.route = { kind: 'extension', id: target, label: '' };
  v.verdict = reachedTrunk ? 'other' : 'internal';
  v.direction = reachedTrunk ? 'other' : 'internal';
  v.reasons.push(reachedTrunk ? 'not_from_outside' : 'pbx_application');
  return v;
}

function finish(verdict: Verdict, options: ClassifyOptions): Verdict {
  verdict.route.label = routeLabel(verdict.route, options.labels);
  verdict.explanation = explain(verdict);
  return verdict;
}

/** A call placed by an extension: root channel is its device, or an originated Local/<ext>@from-internal. */
function originExtension(channel: Party, isExtension: ExtensionTest): string {
  if (channel.kind === 'extension') return channel.name;
  if (channel.kind === 'local' && channel.context === 'from-internal' && isExtension(channel.name)) return channel.name;
  return '';
}

function classifyFromExtension(v: Verdict, legs: Leg[], ext: string, isExtension: ExtensionTest): Verdict {
  v.caller = ext;
  v.callerName = legs[0]?.row.cnam ?? '';
  // A Local leg leads outside only when it dials a number (a ring group's or follow-me's outside
  // member); Local/PAGE101@app-paging or Local/s@app-page-stream are the PBX's own applications.
  const trunkLegs = legs.filter((l) => l.dst.kind === 'trunk' || (l.dst.kind === 'local' && isPhoneNumber(l.dst.name) && !isExtension(l.dst.name)));
  const looksExternal = legs.some((l) => /^\+?\d{5,}$/.test(l.row.dst) && !l.row.dst.startsWith('*'));
  if (trunkLegs.length === 0 && !looksExternal) {
    v.verdict = 'internal';
    v.direction = 'internal';
    v.reasons.push('internal_call');
    const target = legs.find((l) => l.dst.kind === 'extension')?.dst.name ?? legs[0]!.row.dst;
    v.route = { kind: 'extension', id: target, label: '' };
    return v;
  }
  v.verdict = 'outbound';
  v.direction = 'outbound';
  const dialLeg = trunkLegs[0] ?? legs[0]!;
  v.dialled = dialledNumberFromLastdata(dialLeg.row.lastdata) || dialLeg.row.dst;
  const answered = trunkLegs.find((l) => isAnswered(l.row));
  if (answered) {
    v.answeredBy = `external:${isPhoneNumber(v.dialled) ? v.dialled : ''}`;
    v.reasons.push('outbound_answered');
  } else {
    v.reasons.push('outbound_unanswered');
  }
  v.route = { kind: 'extension', id: ext, label: '' };
  return v;
}

function classifyInbound(v: Verdict, legs: Leg[], root: Leg, options: ClassifyOptions, cel: CelCall | null): Verdict {
  v.direction = 'inbound';
  const caller = (root.row.src || root.row.cnum || '').trim();
  v.caller = caller;
  v.callerName = callerNameOf(root.row);
  v.anonymous = caller === '' || ANONYMOUS.test(caller) || !/\d/.test(caller);
  if (v.anonymous) v.reasons.push('anonymous_caller');

  const innerLocalIds = new Set(legs.filter((l) => l.channel.kind === 'local' && l.channel.side === 2).map((l) => l.channel.localId));
  const rootChannel = root.row.channel;
  const rang = new Map<string, RangExtension>();
  const answers: CelAnswer[] = [];
  let voicemail: Verdict['voicemail'] = null;
  let queueWait = 0;
  let sawQueue = false;
  let sawIvr = false;
  let marked = false;

  const ring = (ext: string, leg: Leg, outcome: RangExtension['outcome'], ringSeconds: number) => {
    const seen = rang.get(ext) ?? { ext, tries: 0, ringSeconds: 0, outcome };
    seen.tries += 1;
    seen.ringSeconds += Math.max(0, ringSeconds);
    if (rank(outcome) > rank(seen.outcome)) seen.outcome = outcome;
    rang.set(ext, seen);
    if (outcome === 'answered') answers.push({ by: ext, at: leg.start + ringSeconds, reason: leg.channel.kind === 'local' && leg.channel.context.startsWith('from-queue') ? 'answered_by_queue_agent' : 'answered_by_extension' });
  };

  const { pickedUp, pickers } = directedPickups(legs);
  for (const leg of legs) {
    const { row } = leg;
    const app = row.lastapp.toLowerCase();
    if (app === 'missed_calls') marked = true;
    if (/^ivr-/.test(row.dcontext)) sawIvr = true;
    if (app === 'voicemail' || /^vm[ubs]\d+$/i.test(row.dst)) {
      const [mailbox = '', rest = ''] = row.lastdata.split('@');
      voicemail = {
        box: mailbox.replace(/^[^\d]*/, '') || row.dst.replace(/^\D+/, ''),
        context: rest.split(/[,&]/)[0] || 'default',
        channel: row.channel,
        messageLeft: null,
      };
      continue;
    }
    if (app === 'queue') {
      sawQueue = true;
      if (leg.dst.kind === 'none') queueWait = Math.max(queueWait, row.duration);
    }
    const answered = isAnswered(row);
    const ringSeconds = answered ? row.duration - row.billsec : row.duration;

    if (pickers.has(leg)) {
      answers.push({ by: leg.dst.name, at: leg.start, reason: 'answered_by_pickup' });
    } else if (leg.dst.kind === 'extension') {
      ring(leg.dst.name, leg, pickedUp.has(leg) ? 'no_answer' : outcomeOf(row), pickedUp.has(leg) ? row.duration : ringSeconds);
    } else if (leg.dst.kind === 'local') {
      // The inner half (;2) of this Local channel has its own rows that tell what really
      // answered (a phone, a mobile, or nothing); only without them does this row decide.
      // A Local leg that is neither an extension nor a number is one of the PBX's own
      // applications (a conference, a page): it answers the caller, no person does.
      if (!innerLocalIds.has(leg.dst.localId)) {
        if (options.isExtension(leg.dst.name)) ring(leg.dst.name, leg, outcomeOf(row), ringSeconds);
        else if (answered && isPhoneNumber(leg.dst.name)) answers.push({ by: `external:${leg.dst.name}`, at: leg.start, reason: 'answered_external' });
      }
      if (app === 'queue') queueWait = Math.max(queueWait, row.duration);
    } else if (leg.dst.kind === 'trunk' && row.dstchannel !== rootChannel) {
      if (answered) {
        // Someone outside answered a line the PBX dialled, even when no row names the number.
        const candidates = [leg.channel.kind === 'local' ? leg.channel.name : '', dialledNumberFromLastdata(row.lastdata), row.dst];
        answers.push({ by: `external:${candidates.find(isPhoneNumber) ?? ''}`, at: leg.start, reason: 'answered_external' });
      }
    } else if (leg.dst.kind === 'none' && app === 'dial' && !answered) {
      const target = dialTargetFromLastdata(row.lastdata);
      if (options.isExtension(target)) ring(target, leg, row.disposition === 'BUSY' ? 'busy' : 'unavailable', 0);
    }
    // A party A that is an internal device talking to the caller: transfer target, pickup.
    if (leg.channel.kind === 'extension' && answered && (row.dstchannel === rootChannel || app === 'pickup' || app === 'pickupchan')) {
      answers.push({ by: leg.channel.name, at: leg.start, reason: app.startsWith('pickup') ? 'answered_by_pickup' : 'answered_by_extension' });
    }
  }

  v.rang = [...rang.values()].sort(byExtension);
  v.route = routeOf(legs, root, v.did);
  const evidence: InboundEvidence = { answers, voicemail, queueWait, sawQueue, sawIvr, marked, refusedBusy: false, queueByConfig: false };
  if (cel) fillFromCel(v, evidence, cel);
  if (options.routes) {
    const callerRows = legs.filter((l) => l.row.channel === root.row.channel).map((l) => l.row);
    placeFromConfiguration(v, evidence, placeByConfiguration(options.routes, v.did, caller, callerRows, naiveSeconds(v.startedAt)));
  }
  return decideInbound(v, evidence, options);
}

/** What a call from outside left behind, from CDR or CEL, for one decision. */
interface InboundEvidence {
  answers: CelAnswer[];
  voicemail: Verdict['voicemail'];
  queueWait: number;
  sawQueue: boolean;
  sawIvr: boolean;
  marked: boolean;
  refusedBusy: boolean;
  /** Only the PBX's configuration, not the call's rows or events, puts the caller in a queue. */
  queueByConfig: boolean;
}

/**
 * CDR decides; CEL fills only what the rows do not show. A queue whose maxwait sent the
 * caller to a failover (hang up, another destination) leaves a caller row naming the
 * failover and not the queue: CEL's APP_START Queue shows the queue and the wait there. A
 * DND refusal (cause 17 on the caller's channel) shows only in CEL.
 */
function fillFromCel(v: Verdict, evidence: InboundEvidence, cel: CelCall): void {
  if (!evidence.sawQueue && cel.queue) {
    evidence.sawQueue = true;
    evidence.queueWait = cel.queue.waitSeconds;
  }
  if (v.route.kind === 'route' || v.route.kind === 'ivr') {
    const shown = celRoute(cel, v.did);
    if (shown.kind !== 'route' && (v.route.kind === 'route' || shown.kind !== 'ivr')) {
      v.route = shown;
      v.reasons.push('route_from_cel');
    }
  }
  evidence.sawIvr ||= cel.ivr !== null;
  evidence.voicemail ??= cel.voicemail && { ...cel.voicemail, messageLeft: null };
  evidence.refusedBusy = cel.refusedBusy;
}

/**
 * When the rows show where the PBX sent the caller on but not from where (a failover), the
 * route of the DID in the PBX's own configuration names the queue, ring group or IVR they
 * waited in, and for how long.
 */
function placeFromConfiguration(v: Verdict, evidence: InboundEvidence, configured: ReturnType<typeof placeByConfiguration>): void {
  if (!configured) return;
  v.reasons.push('route_from_config');
  v.configuredRoute = configured.paths;
  if (configured.route) v.route = configured.route;
  if (configured.route?.kind === 'ivr') evidence.sawIvr = true;
  if (configured.route?.kind === 'queue') {
    evidence.queueWait = Math.max(evidence.queueWait, configured.waitSeconds ?? 0);
    evidence.queueByConfig = !evidence.sawQueue;
  }
}

/** The rule, over the evidence of either source. */
function decideInbound(v: Verdict, evidence: InboundEvidence, options: ClassifyOptions): Verdict {
  const { answers, voicemail, queueWait, sawQueue, sawIvr, marked, queueByConfig } = evidence;
  v.voicemail = voicemail;
  v.waitSeconds = queueWait || Math.max(0, ...v.rang.map((r) => r.ringSeconds / Math.max(1, r.tries)));

  if (answers.length) {
    answers.sort((a, b) => a.at - b.at);
    v.verdict = 'answered';
    v.answeredBy = answers[0]!.by;
    v.reasons.push(answers[0]!.reason);
    return v;
  }

  const outcomes = new Set(v.rang.map((r) => r.outcome));
  if (outcomes.has('no_answer')) v.reasons.push('extension_rang_no_answer');
  if (outcomes.has('busy')) v.reasons.push('extension_busy');
  if (outcomes.has('unavailable')) v.reasons.push('extension_unavailable');
  if (voicemail) v.reasons.push('voicemail');
  if (marked) v.reasons.push('marked_missed');
  if (sawQueue && v.rang.length === 0) v.reasons.push(queueWait >= options.queueAbandonMinWait ? 'queue_abandon' : 'queue_short_wait');
  // Refused as busy before any phone rang: the extension it was meant for was on DND (or
  // busy, with no voicemail behind it). Someone should have answered: missed.
  const refused = evidence.refusedBusy && v.rang.length === 0 && !voicemail && !sawQueue;
  if (refused) v.reasons.push('refused_busy');
  if (queueByConfig && v.rang.length === 0 && queueWait >= options.queueAbandonMinWait) v.reasons.push('queue_failover');
  const missedEvidence = v.rang.length > 0 || voicemail !== null || marked || refused || v.reasons.includes('queue_abandon') || v.reasons.includes('queue_failover');
  if (missedEvidence) {
    v.verdict = 'missed';
    return v;
  }
  if (!sawQueue && !queueByConfig) v.reasons.push(sawIvr ? 'ivr_abandon' : 'hung_up_before_ringing');
  v.verdict = sawIvr && options.countIvrAbandon ? 'missed' : 'abandoned';
  return v;
}

/**
 * A call FreePBX wrote no CDR row for, from its CEL events alone: who called from where (the
 * root channel's CHAN_START), which extensions' phones were created to ring and how each
 * ended, who answered, the queue, IVR and voicemail the caller reached, and a refusal.
 */
function classifyFromCel(cel: CelCall, options: ClassifyOptions): Verdict {
  const root = cel.root!;
  const v = emptyVerdict(cel.linkedid, cel.startedAt, cel.endedAt, 0, ['cel_only']);
  const originExt = originExtension(root.party, options.isExtension);
  if (originExt) {
    v.caller = originExt;
    v.callerName = root.callerName;
    if (cel.trunkLegs.length === 0) {
      v.verdict = 'internal';
      v.direction = 'internal';
      v.reasons.push('internal_call');
      v.route = { kind: 'extension', id: cel.rang[0]?.ext ?? root.exten, label: '' };
      return v;
    }
    v.verdict = 'outbound';
    v.direction = 'outbound';
    v.dialled = root.exten;
    const answered = cel.trunkLegs.some((leg) => leg.answeredAt !== null);
    if (answered) v.answeredBy = `external:${isPhoneNumber(v.dialled) ? v.dialled : ''}`;
    v.reasons.push(answered ? 'outbound_answered' : 'outbound_unanswered');
    v.route = { kind: 'extension', id: originExt, label: '' };
    return v;
  }
  if (root.party.kind !== 'trunk' && !FROM_OUTSIDE_CONTEXT.test(root.context)) {
    const reachedTrunk = cel.trunkLegs.length > 0;
    v.caller = isPhoneNumber(root.callerNum) ? root.callerNum : '';
    v.dialled = root.party.kind === 'local' ? root.party.context : root.context;
    v.route = { kind: 'extension', id: cel.rang[0]?.ext ?? '', label: '' };
    v.verdict = reachedTrunk ? 'other' : 'internal';
    v.direction = reachedTrunk ? 'other' : 'internal';
    v.reasons.push(reachedTrunk ? 'not_from_outside' : 'pbx_application');
    return v;
  }
  v.direction = 'inbound';
  v.caller = root.callerNum;
  v.callerName = root.callerName === root.callerNum || ANONYMOUS.test(root.callerName) ? '' : root.callerName;
  v.anonymous = v.caller === '' || ANONYMOUS.test(v.caller) || !/\d/.test(v.caller);
  if (v.anonymous) v.reasons.push('anonymous_caller');
  v.did = isPhoneNumber(root.exten) ? root.exten : '';
  v.rang = [...cel.rang].sort(byExtension);
  v.route = celRoute(cel, v.did);
  return decideInbound(v, {
    answers: [...cel.answers],
    voicemail: cel.voicemail && { ...cel.voicemail, messageLeft: null },
    queueWait: cel.queue?.waitSeconds ?? 0,
    sawQueue: cel.queue !== null,
    sawIvr: cel.ivr !== null,
    marked: false,
    refusedBusy: cel.refusedBusy,
    queueByConfig: false,
  }, options);
}

/** Where CEL shows the caller went: the queue, else the extension dialled, else the IVR, else the inbound route. */
function celRoute(cel: CelCall, did: string): Route {
  if (cel.queue) return { kind: 'queue', id: cel.queue.id, label: '' };
  if (cel.extension) return { kind: 'extension', id: cel.extension, label: '' };
  if (cel.ivr) return { kind: 'ivr', id: cel.ivr, label: '' };
  return { kind: 'route', id: did, label: '' };
}

/**
 * A directed pickup (`**103` dialled on 102) ends the rung phone's leg ANSWERED with billsec 0
 * and bridges the caller to the phone that picked up in a later row of the same party A: the
 * rung phone did not answer (it rang), the picking-up phone did (it never rang).
 */
function directedPickups(legs: Leg[]): { pickedUp: Set<Leg>; pickers: Set<Leg> } {
  const pickedUp = new Set<Leg>();
  const pickers = new Set<Leg>();
  for (const leg of legs) {
    if (leg.dst.kind !== 'extension' || !isAnswered(leg.row) || leg.row.billsec !== 0) continue;
    const picker = legs.find(
      (other) =>
        other.row.channel === leg.row.channel &&
        other.row.sequence > leg.row.sequence &&
        other.dst.kind === 'extension' &&
        other.dst.name !== leg.dst.name &&
        isAnswered(other.row) &&
        other.row.billsec > 0,
    );
    if (picker) {
      pickedUp.add(leg);
      pickers.add(picker);
    }
  }
  return { pickedUp, pickers };
}

function isAnswered(row: CdrRow): boolean {
  return row.disposition === 'ANSWERED';
}

function outcomeOf(row: CdrRow): RangExtension['outcome'] {
  switch (row.disposition) {
    case 'ANSWERED':
      return 'answered';
    case 'BUSY':
      return 'busy';
    case 'FAILED':
    case 'CONGESTION':
      return 'unavailable';
    default:
      return 'no_answer';
  }
}

function rank(outcome: RangExtension['outcome']): number {
  return { unavailable: 0, no_answer: 1, busy: 2, answered: 3 }[outcome];
}

function callerNameOf(row: CdrRow): string {
  const m = /^"([^"]*)"/.exec(row.clid);
  const name = (m ? m[1] : row.cnam) ?? '';
  return name === row.src || ANONYMOUS.test(name) ? '' : name;
}

/** Where the call was lost or taken: the first queue, ring group or extension it reached, else the IVR, else the inbound route. */
function routeOf(legs: Leg[], root: Leg, did: string): Route {
  const rootLegs = legs.filter((l) => l.row.channel === root.row.channel);
  let ivr: Route | null = null;
  for (const { row } of rootLegs) {
    const found = routeOfRow(row);
    if (!found) continue;
    if (found.kind !== 'ivr') return found;
    ivr ??= found;
  }
  return ivr ?? { kind: 'route', id: did, label: '' };
}

function routeOfRow(row: CdrRow): Route | null {
  const ctx = row.dcontext;
  const make = (kind: RouteKind, id: string): Route => ({ kind, id, label: '' });
  if (ctx === 'ext-queues') return make('queue', row.dst);
  if (ctx === 'ext-group') return make('ringgroup', row.dst);
  const ivr = /^ivr-(\d+)/.exec(ctx);
  if (ivr) return make('ivr', ivr[1]!);
  // A row that only reached voicemail (after hours, busy greeting) is not where the call
  // was meant to ring: the inbound route describes it better.
  if (/^vm[ubs]?\d/i.test(row.dst) || row.lastapp.toLowerCase() === 'voicemail') return null;
  if (/^(from-did-direct|ext-local|from-internal|ext-findmefollow)$/.test(ctx)) {
    const ext = row.dst.replace(/^FM/i, '');
    if (/^\d+$/.test(ext)) return make('extension', ext);
  }
  return null;
}

/** A total order over rows that does not depend on how they arrived (code-unit order: any fixed order will do). */
function compareRows(a: CdrRow, b: CdrRow): number {
  return (
    a.sequence - b.sequence ||
    byText(a.calldate, b.calldate) ||
    byText(a.uniqueid, b.uniqueid) ||
    byText(a.channel, b.channel) ||
    byText(a.dstchannel, b.dstchannel) ||
    byText(a.disposition, b.disposition) ||
    a.duration - b.duration ||
    a.billsec - b.billsec ||
    byText(a.lastapp, b.lastapp) ||
    byText(a.dst, b.dst)
  );
}
