import type { CelEvent } from '../cdr/cel-row.js';
import { byText, naiveSeconds } from '../cdr/row.js';
import { isPhoneNumber, parseChannel, type ExtensionTest, type Party } from './channels.js';
import type { RangExtension, ReasonCode } from './verdict.js';

/**
 * What one call's CEL events tell, read once for the classifier. Asterisk logs an event
 * per channel as it happens (main/cel.c): CHAN_START when a channel is created (its exten
 * and context are where it entered the dialplan: the DID and from-pstn for a trunk's
 * caller), ANSWER when it goes up, APP_START/APP_END around applications such as Queue and
 * VoiceMail (appdata = their arguments), BRIDGE_ENTER when it joins a bridge, PICKUP on the
 * rung channel a pickup took (extra: pickup_channel), HANGUP with extra {hangupcause,
 * hangupsource, dialstatus} (Q.931 causes: 16 normal, 17 user busy, 26 answered elsewhere),
 * CHAN_END, and LINKEDID_END once the last channel of the call is gone.
 */
export interface CelCall {
  linkedid: string;
  /** The channel the call started on (uniqueid = linkedid), when its CHAN_START is among the events. */
  root: CelRoot | null;
  startedAt: number;
  endedAt: number;
  /** LINKEDID_END is among the events: the whole call is over. */
  ended: boolean;
  /** Extensions' device channels other than the root: each rang, and how it ended. */
  rang: RangExtension[];
  /** Who answered for the team, earliest first. */
  answers: CelAnswer[];
  /** The first queue the root channel entered (APP_START Queue), and how long it stayed. */
  queue: { id: string; waitSeconds: number } | null;
  /** The first IVR the root channel was in (context ivr-N). */
  ivr: string | null;
  /** The extension the root channel was dialling (context from-did-direct, ext-local, dial(One)-with-exten). */
  extension: string | null;
  voicemail: { box: string; context: string; channel: string } | null;
  /** The root channel was hung up as busy (cause 17) by the dialplan: FreePBX's answer to DND, or busy with no voicemail. */
  refusedBusy: boolean;
  /** Trunk channels other than the root: an outbound call's line, a follow-me's outside number. */
  trunkLegs: { answeredAt: number | null; number: string }[];
}

export interface CelRoot {
  party: Party;
  /** CHAN_START's caller ID. */
  callerNum: string;
  callerName: string;
  /** CHAN_START's exten and context: where the channel entered the dialplan (the DID and from-pstn for a trunk). */
  exten: string;
  context: string;
}

export interface CelAnswer {
  by: string;
  at: number;
  reason: ReasonCode;
}

interface Channel {
  uniqueid: string;
  party: Party;
  start: number;
  answeredAt: number | null;
  end: number | null;
  cause: number | null;
  pickedUpBy: string;
  /** Its CHAN_START is in this call: it was created for it, not brought in from another call (a pickup, a parked call's retrieval). */
  createdHere: boolean;
}

const BUSY_CAUSE = 17;
/** Causes that say a phone could not be reached at all (subscriber absent, out of order, congestion…), not that it rang. */
const UNAVAILABLE_CAUSES = new Set([1, 3, 20, 27, 34, 38, 41, 42, 44]);

/** Reads a call's CEL events (any order) into what the classifier needs; null when there are none. */
export function readCelCall(input: readonly CelEvent[], isExtension: ExtensionTest): CelCall | null {
  if (input.length === 0) return null;
  const events = [...input].sort(compareEvents);
  const linkedid = events[0]!.linkedid;
  const channels = new Map<string, Channel>();
  const channelOf = (e: CelEvent): Channel => {
    let c = channels.get(e.uniqueid);
    if (!c) {
      c = { uniqueid: e.uniqueid, party: parseChannel(e.channame, isExtension), start: naiveSeconds(e.eventtime), answeredAt: null, end: null, cause: null, pickedUpBy: '', createdHere: false };
      channels.set(e.uniqueid, c);
    }
    return c;
  };
  const call: CelCall = {
    linkedid,
    root: null,
    startedAt: naiveSeconds(events[0]!.eventtime),
    endedAt: naiveSeconds(events.at(-1)!.eventtime),
    ended: false,
    rang: [],
    answers: [],
    queue: null,
    ivr: null,
    extension: null,
    voicemail: null,
    refusedBusy: false,
    trunkLegs: [],
  };
  let queueSince: number | null = null;
  for (const e of events) {
    const at = naiveSeconds(e.eventtime);
    const isRoot = e.uniqueid === linkedid;
    if (e.eventtype === 'LINKEDID_END') {
      call.ended = true;
      continue;
    }
    const channel = channelOf(e);
    switch (e.eventtype) {
      case 'CHAN_START':
        channel.start = at;
        channel.createdHere = true;
        if (isRoot) call.root = { party: channel.party, callerNum: e.cid_num.trim(), callerName: e.cid_name.trim(), exten: e.exten, context: e.context };
        break;
      case 'ANSWER':
        channel.answeredAt ??= at;
        break;
      case 'HANGUP':
        channel.end ??= at;
        channel.cause = hangupCause(e.extra);
        if (isRoot && channel.cause === BUSY_CAUSE) call.refusedBusy = true;
        break;
      case 'CHAN_END':
        channel.end ??= at;
        break;
      case 'PICKUP':
        channel.pickedUpBy = parseChannel(jsonField(e.extra, 'pickup_channel'), isExtension).name;
        break;
      case 'APP_START':
        if (!isRoot) break;
        if (e.appname.toLowerCase() === 'queue' && !call.queue) {
          call.queue = { id: e.appdata.split(',')[0]!.trim() || e.exten, waitSeconds: 0 };
          queueSince = at;
        }
        if (e.appname.toLowerCase() === 'voicemail' && !call.voicemail) {
          const [mailbox = '', rest = ''] = e.appdata.split('@');
          call.voicemail = { box: mailbox.replace(/^[^\d]*/, ''), context: rest.split(/[,&]/)[0] || 'default', channel: e.channame };
        }
        break;
      case 'APP_END':
        if (isRoot && queueSince !== null && e.appname.toLowerCase() === 'queue') {
          call.queue!.waitSeconds = at - queueSince;
          queueSince = null;
        }
        break;
      default:
        break;
    }
    if (isRoot) {
      const ivr = /^ivr-(\d+)/.exec(e.context);
      if (ivr) call.ivr ??= ivr[1]!;
      if (/^(from-did-direct|ext-local|dialOne-with-exten|dial-with-exten)$/.test(e.context) && isExtension(e.exten)) call.extension ??= e.exten;
    }
  }
  // A queue the caller left by hanging up has no APP_END: the wait ran until the root's hang-up.
  const root = channels.get(linkedid);
  if (call.queue && queueSince !== null) call.queue.waitSeconds = Math.max(0, (root?.end ?? call.endedAt) - queueSince);

  const rang = new Map<string, RangExtension>();
  for (const c of channels.values()) {
    if (c.uniqueid === linkedid || !c.createdHere) continue;
    if (c.party.kind === 'extension') {
      const outcome = outcomeOf(c);
      const seen = rang.get(c.party.name) ?? { ext: c.party.name, tries: 0, ringSeconds: 0, outcome };
      seen.tries += 1;
      seen.ringSeconds += Math.max(0, (c.answeredAt ?? c.end ?? call.endedAt) - c.start);
      if (rank(outcome) > rank(seen.outcome)) seen.outcome = outcome;
      rang.set(c.party.name, seen);
      if (c.answeredAt !== null) call.answers.push({ by: c.party.name, at: c.answeredAt, reason: 'answered_by_extension' });
      if (c.pickedUpBy) call.answers.push({ by: c.pickedUpBy, at: c.end ?? call.endedAt, reason: 'answered_by_pickup' });
    } else if (c.party.kind === 'trunk') {
      call.trunkLegs.push({ answeredAt: c.answeredAt, number: '' });
    }
  }
  // The number an outside leg reached: the Local channel that dialled it (a follow-me's FMGL-<number>#, a ring group's <number>@from-internal).
  const dialledNumbers = [...channels.values()].filter((c) => c.party.kind === 'local' && isPhoneNumber(c.party.name) && !isExtension(c.party.name)).map((c) => c.party.name);
  for (const leg of call.trunkLegs) leg.number = dialledNumbers[0] ?? '';
  for (const leg of call.trunkLegs) {
    if (leg.answeredAt !== null && call.root?.party.kind === 'trunk') call.answers.push({ by: `external:${leg.number}`, at: leg.answeredAt, reason: 'answered_external' });
  }
  call.answers.sort((a, b) => a.at - b.at);
  call.rang = [...rang.values()];
  return call;
}

function outcomeOf(c: Channel): RangExtension['outcome'] {
  if (c.answeredAt !== null) return 'answered';
  if (c.cause === BUSY_CAUSE) return 'busy';
  if (c.cause !== null && UNAVAILABLE_CAUSES.has(c.cause)) return 'unavailable';
  return 'no_answer';
}

function rank(outcome: RangExtension['outcome']): number {
  return { unavailable: 0, no_answer: 1, busy: 2, answered: 3 }[outcome];
}

function hangupCause(extra: string): number | null {
  const cause = Number(jsonField(extra, 'hangupcause'));
  return Number.isInteger(cause) && jsonField(extra, 'hangupcause') !== '' ? cause : null;
}

/** One field of an event's extra JSON; '' when the text is not JSON or lacks it. */
function jsonField(extra: string, key: string): string {
  if (!extra.trim().startsWith('{')) return '';
  try {
    const value = (JSON.parse(extra) as Record<string, unknown>)[key];
    return value === undefined || value === null ? '' : String(value);
  } catch {
    return '';
  }
}

/** Logged order (id); events without ids (a hand-made file) by time, then by text, so any input order gives one answer. */
function compareEvents(a: CelEvent, b: CelEvent): number {
  return (
    a.id - b.id ||
    byText(a.eventtime, b.eventtime) ||
    byText(a.uniqueid, b.uniqueid) ||
    byText(a.eventtype, b.eventtype) ||
    byText(a.channame, b.channame)
  );
}
