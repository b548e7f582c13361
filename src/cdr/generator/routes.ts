/**
 * The dialplan destinations a call can pass through (queue, ring group, extension,
 * voicemail), each adding the rows FreePBX's generated dialplan makes Asterisk write.
 * Shapes follow the asterisk-lab recordings (see shared/fixtures/asterisk-lab/README.md).
 */
import type { AsteriskCounters, Channel } from './counters.js';
import { deviceDial, SIP_HEADERS, type CallRows, type Disposition } from './legs.js';
import { findExtension, type Extension, type Failover, type PbxModel, type Queue, type RingGroup } from './pbx.js';

export interface RouteContext {
  model: PbxModel;
  ids: AsteriskCounters;
  call: CallRows;
}

export interface RouteResult {
  /** When the caller's channel hangs up. */
  end: number;
  rang: string[];
  answeredBy?: string;
  voicemail?: string;
}

export interface QueueAttempt {
  start: number;
  members: string[];
}

/**
 * When the queue rings whom: ringall rings everyone each round, linear one member at a
 * time; between attempts the queue waits `retry`. Attempts stop at the max wait.
 */
export function queueAttempts(queue: Queue, ringFrom: number, entered: number, limit = 6): QueueAttempt[] {
  const maxWaitAt = queue.maxWaitSeconds === null ? Infinity : entered + queue.maxWaitSeconds;
  const attempts: QueueAttempt[] = [];
  let start = ringFrom;
  for (let i = 0; i < limit && start < maxWaitAt; i++) {
    const members = queue.strategy === 'ringall' ? queue.members : [queue.members[i % queue.members.length]!];
    attempts.push({ start, members });
    start += queue.memberTimeoutSeconds + queue.retrySeconds;
  }
  return attempts;
}

export type QueueOutcome =
  | { kind: 'answer'; attempt: number; member: string; ringSeconds: number; talkSeconds: number }
  | { kind: 'hangup'; attempt: number; secondsIntoAttempt: number }
  /** Every agent busy or paused: the caller waits with music and nobody's phone rings. */
  | { kind: 'hangup_before_ring'; at: number }
  | { kind: 'timeout'; voicemailSeconds: number };

/**
 * ext-queues Answer()s the caller first, so every Queue row bills from `entered`. Each
 * member is rung through Local/<ext>@from-queue: a Queue row (caller → Local;1) and a
 * Dial row (Local;2 → phone) per member and attempt.
 */
export function ringQueue(ctx: RouteContext, queue: Queue, entered: number, ringFrom: number, outcome: QueueOutcome): RouteResult {
  const { call, ids, model } = ctx;
  const queueData = [queue.number, 'tC', '', '', queue.maxWaitSeconds ?? '', '', '', '', '', ''].join(',');
  const queueRow = (partyB: string, sequence: number, start: number, end: number, disposition: Disposition): void =>
    call.add({
      partyA: call.root, partyB, sequence, lastapp: 'Queue', lastdata: queueData, dst: queue.number,
      dcontext: 'ext-queues', start, end, answeredAt: entered, disposition,
    });

  if (outcome.kind === 'hangup_before_ring') {
    queueRow('', call.rootSequence, entered, outcome.at, 'ANSWERED');
    return { end: outcome.at, rang: [] };
  }

  const maxWaitAt = queue.maxWaitSeconds === null ? Infinity : entered + queue.maxWaitSeconds;
  const rang: string[] = [];
  let firstQueueRow = true;
  const talk = outcome.kind === 'answer' ? outcome.talkSeconds : 0;
  const attempts = queueAttempts(queue, ringFrom, entered);
  for (let i = 0; i < attempts.length; i++) {
    const attempt = attempts[i]!;
    let ringEnd = Math.min(attempt.start + queue.memberTimeoutSeconds, maxWaitAt);
    let answerAt: number | null = null;
    if (outcome.kind === 'answer' && outcome.attempt === i) {
      answerAt = attempt.start + outcome.ringSeconds;
      ringEnd = answerAt;
    }
    if (outcome.kind === 'hangup' && outcome.attempt === i) ringEnd = Math.min(ringEnd, attempt.start + outcome.secondsIntoAttempt);
    for (const member of attempt.members) {
      if (!rang.includes(member)) rang.push(member);
      const ext = findExtension(model, member);
      const local = ids.localChannel(member, 'from-queue', attempt.start);
      ids.nextSequence();
      const dialSequence = ids.nextSequence();
      const queueSequence = firstQueueRow ? call.rootSequence : ids.nextSequence();
      const phone = ids.pjsipChannel(member, attempt.start);
      const answered = answerAt !== null && outcome.kind === 'answer' && member === outcome.member;
      const legEnd = answered ? answerAt! + talk : ringEnd;
      const disposition = answered ? 'ANSWERED' : 'NO ANSWER';
      call.add({
        partyA: local.two, partyB: phone.name, sequence: dialSequence, lastapp: 'Dial',
        lastdata: `${deviceDial(ext)},${queue.memberTimeoutSeconds},${SIP_HEADERS}`, dst: member, dcontext: 'from-internal',
        start: attempt.start, end: legEnd, answeredAt: answered ? answerAt : null, disposition, arrival: legEnd, did: false,
      });
      queueRow(local.one.name, queueSequence, firstQueueRow ? entered : attempt.start, legEnd, disposition);
      firstQueueRow = false;
    }
    if (outcome.kind === 'answer' && answerAt !== null) return { end: answerAt + talk, rang, answeredBy: outcome.member };
    if (outcome.kind === 'hangup' && outcome.attempt === i) return { end: ringEnd, rang };
  }
  if (outcome.kind !== 'timeout' || maxWaitAt === Infinity) {
    throw new Error(`queue ${queue.number}: outcome ${outcome.kind} does not fit its ${attempts.length} ring attempts`);
  }
  return failover(ctx, queue.failover, maxWaitAt, entered, outcome.voicemailSeconds, rang);
}

export type GroupOutcome =
  | { kind: 'answer'; member: string; ringSeconds: number; talkSeconds: number }
  | { kind: 'hangup'; afterSeconds: number }
  | { kind: 'timeout'; voicemailSeconds: number };

/**
 * A ring group dials from the caller's own channel: one Dial row per member (ringall: all
 * at once, one dial string; hunt: one after the other). The trunk is not answered by the
 * group, so unanswered rows bill 0 unless an IVR answered the caller before.
 */
export function ringGroup(
  ctx: RouteContext, group: RingGroup, from: number, firstRowStart: number, answeredBefore: number | null, outcome: GroupOutcome,
): RouteResult {
  const { call, ids, model } = ctx;
  const exts = group.members.map((m) => findExtension(model, m));
  const hangupAt = outcome.kind === 'hangup' ? from + outcome.afterSeconds : Infinity;
  const rang: string[] = [];
  let first = true;
  const row = (ext: Extension, start: number, end: number, lastdata: string, answeredAt: number | null, disposition: Disposition): void => {
    call.add({
      partyA: call.root, partyB: ids.pjsipChannel(ext.number, start).name, sequence: first ? call.rootSequence : ids.nextSequence(),
      lastapp: 'Dial', lastdata, dst: group.number, dcontext: 'ext-group', start: first ? firstRowStart : start, end,
      answeredAt: answeredAt ?? answeredBefore, disposition,
    });
    first = false;
  };

  if (group.strategy === 'ringall') {
    const lastdata = `${exts.map(deviceDial).join('&')},${group.ringSeconds},${SIP_HEADERS}`;
    const answerAt = outcome.kind === 'answer' ? from + outcome.ringSeconds : null;
    const ringEnd = Math.min(answerAt ?? from + group.ringSeconds, hangupAt);
    for (const ext of exts) {
      rang.push(ext.number);
      const answered = outcome.kind === 'answer' && ext.number === outcome.member;
      if (answered) row(ext, from, answerAt! + outcome.talkSeconds, lastdata, answerAt, 'ANSWERED');
      else row(ext, from, ringEnd, lastdata, null, 'NO ANSWER');
    }
    if (outcome.kind === 'answer') return { end: answerAt! + outcome.talkSeconds, rang, answeredBy: outcome.member };
    if (outcome.kind === 'hangup') return { end: ringEnd, rang };
    return failover(ctx, group.failover, from + group.ringSeconds, answeredBefore, outcome.voicemailSeconds, rang);
  }

  let start = from;
  for (const ext of exts) {
    if (start >= hangupAt) break;
    rang.push(ext.number);
    const lastdata = `${deviceDial(ext)},${group.ringSeconds},${SIP_HEADERS}`;
    if (outcome.kind === 'answer' && ext.number === outcome.member) {
      const answerAt = start + outcome.ringSeconds;
      row(ext, start, answerAt + outcome.talkSeconds, lastdata, answerAt, 'ANSWERED');
      return { end: answerAt + outcome.talkSeconds, rang, answeredBy: ext.number };
    }
    const end = Math.min(start + group.ringSeconds, hangupAt);
    row(ext, start, end, lastdata, null, 'NO ANSWER');
    if (end === hangupAt) return { end, rang };
    start = end;
  }
  if (outcome.kind !== 'timeout') throw new Error(`ring group ${group.number}: outcome ${outcome.kind} does not fit its members`);
  return failover(ctx, group.failover, start, answeredBefore, outcome.voicemailSeconds, rang);
}

function failover(ctx: RouteContext, to: Failover, at: number, answeredBefore: number | null, voicemailSeconds: number, rang: string[]): RouteResult {
  if (to.kind === 'hangup') return { end: at, rang };
  voicemailRow(ctx, to.extension, at, voicemailSeconds, { dst: `vmu${to.extension}`, dcontext: 'ext-local', answeredAt: answeredBefore ?? at });
  return { end: at + voicemailSeconds, rang, voicemail: to.extension };
}

/** VoiceMail answers the caller itself: the row is ANSWERED and billed, though no human picked up. */
export function voicemailRow(
  ctx: RouteContext, box: string, at: number, seconds: number,
  where: { dst: string; dcontext: string; answeredAt: number; greeting?: 'u' | 'b'; partyA?: Channel },
): void {
  ctx.call.add({
    partyA: where.partyA ?? ctx.call.root, sequence: ctx.ids.nextSequence(), lastapp: 'VoiceMail',
    lastdata: `${box}@default,${where.greeting ?? 'u'}`, dst: where.dst, dcontext: where.dcontext,
    start: at, end: at + seconds, answeredAt: where.answeredAt, disposition: 'ANSWERED',
  });
}

export type ExtensionOutcome =
  | { kind: 'answer'; ringSeconds: number; talkSeconds: number }
  /** Rings until the caller gives up (extensions without voicemail ring without a timeout). */
  | { kind: 'no_answer'; ringSeconds: number }
  | { kind: 'voicemail'; voicemailSeconds: number }
  /** Without voicemail, voicemailSeconds is how long the caller listens to the busy tone. */
  | { kind: 'busy'; voicemailSeconds: number };

export const EXTENSION_RING_SECONDS = 15;

/**
 * Dial of one extension from the caller's channel (from-did-direct for a DID, from-internal
 * for a colleague). Its voicemail row keeps the dialled extension as dst, not vmu<ext>.
 */
export function dialExtension(
  ctx: RouteContext, ext: Extension, from: number, where: { dst: string; dcontext: string; answeredBefore: number | null }, outcome: ExtensionOutcome,
): RouteResult {
  const { call, ids } = ctx;
  const phone = ids.pjsipChannel(ext.number, from);
  const lastdata = `${deviceDial(ext)},${ext.voicemail ? EXTENSION_RING_SECONDS : ''},${SIP_HEADERS}`;
  const dial = (end: number, answeredAt: number | null, disposition: Disposition, sequence: number): void =>
    call.add({
      partyA: call.root, partyB: phone.name, sequence, lastapp: 'Dial', lastdata, dst: where.dst, dcontext: where.dcontext,
      start: from, end, answeredAt: answeredAt ?? where.answeredBefore, disposition,
    });
  const rootSequence = call.rows.length === 0 ? call.rootSequence : ids.nextSequence();
  const rang = [ext.number];
  switch (outcome.kind) {
    case 'answer': {
      const answerAt = from + outcome.ringSeconds;
      dial(answerAt + outcome.talkSeconds, answerAt, 'ANSWERED', rootSequence);
      return { end: answerAt + outcome.talkSeconds, rang, answeredBy: ext.number };
    }
    case 'no_answer':
      dial(from + outcome.ringSeconds, null, 'NO ANSWER', rootSequence);
      return { end: from + outcome.ringSeconds, rang };
    case 'voicemail': {
      const at = from + EXTENSION_RING_SECONDS;
      dial(at, null, 'NO ANSWER', rootSequence);
      voicemailRow(ctx, ext.number, at, outcome.voicemailSeconds, { dst: where.dst, dcontext: where.dcontext, answeredAt: where.answeredBefore ?? at });
      return { end: at + outcome.voicemailSeconds, rang, voicemail: ext.number };
    }
    case 'busy': {
      dial(from, null, 'BUSY', rootSequence);
      if (!ext.voicemail) return { end: from + outcome.voicemailSeconds, rang };
      voicemailRow(ctx, ext.number, from, outcome.voicemailSeconds, {
        dst: where.dst, dcontext: where.dcontext, answeredAt: where.answeredBefore ?? from, greeting: 'b',
      });
      return { end: from + outcome.voicemailSeconds, rang, voicemail: ext.number };
    }
  }
}
