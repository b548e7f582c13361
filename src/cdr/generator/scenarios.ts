/**
 * One function per kind of call: each builds every CDR row Asterisk would write for one
 * call on a FreePBX box shaped like the model, plus the truth about it (its label).
 * Pure: the same input (and rng state) gives the same rows.
 */
import type { AsteriskCounters } from './counters.js';
import type { CallLabel, ScenarioName } from './label.js';
import {
  CallRows, deviceDial, extensionIdentity, inboundIdentity, newRoot, type CallerId, type GeneratedRow, type Identity,
} from './legs.js';
import {
  carrierCaller, dialledForCallback, formatNumber, numberSentToTrunk, randomFormat, randomLandline, randomMobile,
} from './numbers.js';
import { findExtension, findQueue, findRingGroup, type Did, type Extension, type PbxModel } from './pbx.js';
import type { Rng } from './random.js';
import {
  dialExtension, queueAttempts, ringGroup, ringQueue, voicemailRow, type ExtensionOutcome, type QueueOutcome, type RouteContext,
  type RouteResult,
} from './routes.js';
import { naiveDatetime } from '../row.js';

export interface ScenarioInput {
  model: PbxModel;
  rng: Rng;
  /** Naive epoch seconds (the PBX's wall clock read as UTC) at which the call's first channel appears. */
  start: number;
  ids: AsteriskCounters;
  /** Inbound: who calls. Default: a random mobile in a random format. */
  caller?: CallerId;
  /** Inbound: the DID called; it must lead to the scenario's kind of destination. */
  did?: string;
  /** Outbound and internal: the extension that dials. */
  extension?: string;
  /** Internal: the colleague dialled. Outbound and callback: the number to reach, in any format. */
  target?: string;
  /** Queue scenarios: the ring attempt (1 = first round) on which the call is answered or abandoned. */
  attempt?: number;
  talkSeconds?: number;
  /** Whether the far end answers (outbound, callback, internal, blind transfer target). */
  answered?: boolean;
  /** Unanswered ring group or internal call: the caller gives up while phones ring, instead of the failover/voicemail taking over. */
  callerHangsUp?: boolean;
  /** IVR scenarios: the digit the caller presses. */
  ivrOption?: string;
}

export interface GeneratedCall {
  label: CallLabel;
  rows: GeneratedRow[];
  /** Calls with their own linkedid that the scenario created too (an attended transfer's consultation). */
  extraLabels: CallLabel[];
}

export type Scenario = (input: ScenarioInput) => GeneratedCall;

const FOLLOW_ME_OPTIONS = 'TtrIb(func-apply-sipheaders^s^1)';
const TRUNK_DIAL_OPTIONS = '300,Tb(func-apply-sipheaders^s^1)';

interface Inbound {
  call: CallRows;
  ctx: RouteContext;
  caller: CallerId;
  did: Did;
}

function chooseDid(input: ScenarioInput, accepts: (did: Did) => boolean, what: string): Did {
  if (input.did !== undefined) {
    const did = input.model.dids.find((d) => d.number === input.did);
    if (!did || !accepts(did)) throw new Error(`DID ${input.did} does not lead to ${what}`);
    return did;
  }
  const candidates = input.model.dids.filter(accepts);
  if (candidates.length === 0) throw new Error(`no DID of the PBX model leads to ${what}`);
  return input.rng.pick(candidates);
}

function inbound(input: ScenarioInput, did: Did): Inbound {
  const caller = input.caller ?? carrierCaller(formatNumber(randomMobile(input.rng), randomFormat(input.rng)));
  const root = newRoot(input.ids, input.model.trunk, input.start);
  const call = new CallRows(root.channel, root.sequence, inboundIdentity(caller), did.number);
  return { call, caller, did, ctx: { model: input.model, ids: input.ids, call } };
}

function finishInbound(
  scenario: ScenarioName, input: ScenarioInput, inb: Inbound, result: RouteResult, missed: boolean, abandoned = false,
): GeneratedCall {
  const label: CallLabel = {
    linkedid: inb.call.linkedid,
    scenario,
    direction: 'inbound',
    startedAt: naiveDatetime(input.start),
    missed,
    caller: inb.caller.number,
    did: inb.did.number,
    rang: result.rang,
  };
  if (abandoned) label.abandoned = true;
  if (result.answeredBy) label.answeredBy = result.answeredBy;
  return { label, rows: inb.call.finish(result.end), extraLabels: [] };
}

function talkSeconds(input: ScenarioInput): number {
  if (input.talkSeconds !== undefined) return input.talkSeconds;
  const rng = input.rng;
  const kind = rng.weighted({ short: 15, usual: 65, long: 20 });
  if (kind === 'short') return rng.int(4, 20);
  return kind === 'usual' ? rng.int(20, 240) : rng.int(240, 1200);
}

function voicemailSeconds(rng: Rng): number {
  // Hanging up during the greeting is as common as leaving a message.
  return rng.chance(0.5) ? rng.int(3, 12) : rng.int(15, 60);
}

function queueDid(input: ScenarioInput, extra: (did: Did) => boolean = () => true): Did {
  return chooseDid(input, (d) => d.destination.kind === 'queue' && extra(d), 'a queue');
}

function queueOf(input: ScenarioInput, did: Did) {
  if (did.destination.kind !== 'queue') throw new Error(`DID ${did.number} is not routed to a queue`);
  return findQueue(input.model, did.destination.queue);
}

function attemptIndex(input: ScenarioInput, available: number): number {
  if (input.attempt !== undefined) {
    if (input.attempt < 1 || input.attempt > available) throw new Error(`attempt ${input.attempt} is outside 1..${available}`);
    return input.attempt - 1;
  }
  const roll = input.rng.next();
  return Math.min(available - 1, roll < 0.75 ? 0 : roll < 0.93 ? 1 : 2);
}

/** Queue scenarios share the ringing; they differ in how it ends. */
function queueCall(
  scenario: ScenarioName, input: ScenarioInput, did: Did, entered: number, ringFrom: number,
  outcomeFor: (attempts: ReturnType<typeof queueAttempts>, maxWaitAt: number) => QueueOutcome,
): GeneratedCall {
  const queue = queueOf(input, did);
  const inb = inbound(input, did);
  const attempts = queueAttempts(queue, ringFrom, entered);
  const maxWaitAt = queue.maxWaitSeconds === null ? Infinity : entered + queue.maxWaitSeconds;
  const outcome = outcomeFor(attempts, maxWaitAt);
  const result = ringQueue(inb.ctx, queue, entered, ringFrom, outcome);
  return finishInbound(scenario, input, inb, result, !result.answeredBy);
}

function answerInQueue(input: ScenarioInput, attempts: ReturnType<typeof queueAttempts>, maxWaitAt: number, timeout: number): QueueOutcome {
  const i = attemptIndex(input, attempts.length);
  const attempt = attempts[i]!;
  const latest = Math.min(timeout - 1, maxWaitAt - attempt.start - 1);
  return {
    kind: 'answer', attempt: i, member: input.rng.pick(attempt.members),
    ringSeconds: input.rng.int(Math.min(2, latest), latest), talkSeconds: talkSeconds(input),
  };
}

const queueAnswered: Scenario = (input) => {
  const did = queueDid(input);
  const queue = queueOf(input, did);
  const ringFrom = input.start + input.rng.int(0, 1);
  return queueCall('queue_answered', input, did, input.start, ringFrom, (attempts, maxWaitAt) =>
    answerInQueue(input, attempts, maxWaitAt, queue.memberTimeoutSeconds));
};

const queueMissed: Scenario = (input) => {
  const did = queueDid(input);
  const queue = queueOf(input, did);
  const ringFrom = input.start + input.rng.int(0, 1);
  return queueCall('queue_missed', input, did, input.start, ringFrom, (attempts, maxWaitAt) => {
    const i = attemptIndex(input, attempts.length);
    const latest = Math.min(queue.memberTimeoutSeconds - 1, maxWaitAt - attempts[i]!.start - 1);
    return { kind: 'hangup', attempt: i, secondsIntoAttempt: input.rng.int(Math.min(2, latest), latest) };
  });
};

const queueVoicemail: Scenario = (input) => {
  const did = queueDid(input, (d) => {
    const q = queueOf(input, d);
    return q.maxWaitSeconds !== null && q.failover.kind === 'voicemail';
  });
  return queueCall('queue_voicemail', input, did, input.start, input.start + input.rng.int(0, 1), () => ({
    kind: 'timeout', voicemailSeconds: voicemailSeconds(input.rng),
  }));
};

/**
 * Every agent is busy or paused, so no phone rings; the caller hears music and gives up.
 * ext-queues has already Answer()ed, so the lone Queue row is ANSWERED with billsec = the
 * wait. Missed only when the wait reaches the product's default queue_abandon_min_wait (10 s).
 */
const queueAbandonNoAgent: Scenario = (input) => {
  const did = queueDid(input);
  const wait = input.rng.chance(0.7) ? input.rng.int(10, 150) : input.rng.int(2, 9);
  const inb = inbound(input, did);
  const result = ringQueue(inb.ctx, queueOf(input, did), input.start, input.start, { kind: 'hangup_before_ring', at: input.start + wait });
  return finishInbound('queue_abandon_no_agent', input, inb, result, wait >= 10, wait < 10);
};

function groupDid(input: ScenarioInput): Did {
  return chooseDid(input, (d) => d.destination.kind === 'ringgroup', 'a ring group');
}

const ringGroupAnswered: Scenario = (input) => {
  const did = groupDid(input);
  const group = findRingGroup(input.model, (did.destination as { group: string }).group);
  const inb = inbound(input, did);
  const member = input.rng.pick(group.members);
  const result = ringGroup(inb.ctx, group, input.start, input.start, null, {
    kind: 'answer', member, ringSeconds: input.rng.int(2, group.ringSeconds - 1), talkSeconds: talkSeconds(input),
  });
  return finishInbound('ringgroup_answered', input, inb, result, false);
};

const ringGroupMissed: Scenario = (input) => {
  const did = groupDid(input);
  const group = findRingGroup(input.model, (did.destination as { group: string }).group);
  const inb = inbound(input, did);
  const total = group.strategy === 'ringall' ? group.ringSeconds : group.ringSeconds * group.members.length;
  const hangsUp = input.callerHangsUp ?? input.rng.chance(0.35);
  const result = ringGroup(inb.ctx, group, input.start, input.start, null, hangsUp
    ? { kind: 'hangup', afterSeconds: input.rng.int(3, total - 1) }
    : { kind: 'timeout', voicemailSeconds: voicemailSeconds(input.rng) });
  return finishInbound('ringgroup_missed', input, inb, result, true);
};

function directDid(input: ScenarioInput, extra: (ext: Extension) => boolean = () => true): Did {
  return chooseDid(input, (d) => {
    if (d.destination.kind !== 'extension') return false;
    const ext = findExtension(input.model, d.destination.extension);
    return !ext.followMe && extra(ext);
  }, 'an extension without follow-me');
}

function directCall(scenario: ScenarioName, input: ScenarioInput, did: Did, outcome: ExtensionOutcome): GeneratedCall {
  const ext = findExtension(input.model, (did.destination as { extension: string }).extension);
  const inb = inbound(input, did);
  const result = dialExtension(inb.ctx, ext, input.start, { dst: ext.number, dcontext: 'from-did-direct', answeredBefore: null }, outcome);
  return finishInbound(scenario, input, inb, result, !result.answeredBy);
}

const directAnswered: Scenario = (input) =>
  directCall('direct_answered', input, directDid(input), { kind: 'answer', ringSeconds: input.rng.int(2, 12), talkSeconds: talkSeconds(input) });

const directVoicemail: Scenario = (input) =>
  directCall('direct_voicemail', input, directDid(input, (e) => e.voicemail), { kind: 'voicemail', voicemailSeconds: voicemailSeconds(input.rng) });

const directMissed: Scenario = (input) =>
  directCall('direct_missed', input, directDid(input), { kind: 'no_answer', ringSeconds: input.rng.int(3, 14) });

const directBusy: Scenario = (input) =>
  directCall('direct_busy', input, directDid(input), { kind: 'busy', voicemailSeconds: input.rng.int(2, 30) });

/** An inbound route (after hours, or a "leave us a message" DID) straight to a mailbox. */
const voicemailDirect: Scenario = (input) => {
  const did = chooseDid(input, (d) => d.afterHours?.kind === 'voicemail' || d.destination.kind === 'voicemail', 'a voicemail box');
  const box = d2box(did);
  const inb = inbound(input, did);
  const seconds = voicemailSeconds(input.rng);
  voicemailRow(inb.ctx, box, input.start, seconds, { dst: `vmu${box}`, dcontext: 'ext-local', answeredAt: input.start });
  return finishInbound('voicemail_direct', input, inb, { end: input.start + seconds, rang: [], voicemail: box }, true);
};

function d2box(did: Did): string {
  if (did.destination.kind === 'voicemail') return did.destination.extension;
  if (did.afterHours?.kind === 'voicemail') return did.afterHours.extension;
  throw new Error(`DID ${did.number} has no voicemail destination`);
}

function ivrDid(input: ScenarioInput) {
  const did = chooseDid(input, (d) => d.destination.kind === 'ivr', 'an IVR');
  const ivr = input.model.ivrs.find((i) => i.id === (did.destination as { ivr: string }).ivr);
  if (!ivr) throw new Error(`DID ${did.number} leads to an IVR the model lacks`);
  return { did, ivr };
}

/** The caller listens to the menu and hangs up before choosing: one WaitExten row, no phone rang. */
const ivrAbandon: Scenario = (input) => {
  const { did, ivr } = ivrDid(input);
  const inb = inbound(input, did);
  const end = input.start + input.rng.int(2, ivr.timeoutSeconds - 1);
  // macro-user-callerid has not run yet in the IVR, so FreePBX's cnum/cnam are still empty.
  inb.call.add({
    partyA: inb.call.root, sequence: inb.call.rootSequence, lastapp: 'WaitExten', lastdata: `${ivr.timeoutSeconds},`, dst: 's',
    dcontext: `ivr-${ivr.id}`, start: input.start, end, answeredAt: input.start, disposition: 'ANSWERED', identity: { cnum: '', cnam: '' },
  });
  return finishInbound('ivr_abandon', input, inb, { end, rang: [] }, false, true);
};

function ivrToQueue(scenario: 'ivr_queue_answered' | 'ivr_queue_missed', input: ScenarioInput): GeneratedCall {
  const { did, ivr } = ivrDid(input);
  const digits = Object.keys(ivr.options).filter((digit) => ivr.options[digit]!.kind === 'queue');
  if (digits.length === 0) throw new Error(`IVR ${ivr.id} offers no queue`);
  const digit = input.ivrOption ?? input.rng.pick(digits);
  const choice = ivr.options[digit];
  if (!choice || choice.kind !== 'queue') throw new Error(`IVR ${ivr.id} option ${digit} is not a queue`);
  const queue = findQueue(input.model, choice.queue);
  // The queue's rows carry the IVR's DID; the caller's first Queue row starts with the IVR.
  const routed: Did = { ...did, destination: choice };
  const ringFrom = input.start + input.rng.int(2, 8);
  return queueCall(scenario, input, routed, input.start, ringFrom, (attempts, maxWaitAt) => {
    if (scenario === 'ivr_queue_answered') return answerInQueue(input, attempts, maxWaitAt, queue.memberTimeoutSeconds);
    const i = attemptIndex(input, attempts.length);
    const latest = Math.min(queue.memberTimeoutSeconds - 1, maxWaitAt - attempts[i]!.start - 1);
    return { kind: 'hangup', attempt: i, secondsIntoAttempt: input.rng.int(Math.min(2, latest), latest) };
  });
}

/**
 * Follow-me: the extension rings alone (dst FM<ext>), then together with a Local channel
 * to the mobile that the outbound route sends out the trunk; that Local;2 leg is its own
 * row (no did, outbound_cnum = the caller) and ANSWERED when the mobile answers.
 */
function followMe(scenario: 'followme_external' | 'followme_missed', input: ScenarioInput): GeneratedCall {
  const did = chooseDid(input, (d) => d.destination.kind === 'extension' && !!findExtension(input.model, d.destination.extension).followMe, 'a follow-me extension');
  const ext = findExtension(input.model, (did.destination as { extension: string }).extension);
  const fm = ext.followMe!;
  const { model, ids, rng, start } = input;
  const inb = inbound(input, did);
  const { call } = inb;
  const dst = `FM${ext.number}`;
  call.add({
    partyA: call.root, partyB: ids.pjsipChannel(ext.number, start).name, sequence: call.rootSequence, lastapp: 'Dial',
    lastdata: `${deviceDial(ext)},${fm.ringAloneSeconds},${FOLLOW_ME_OPTIONS}`, dst, dcontext: 'from-did-direct',
    start, end: start + fm.ringAloneSeconds, answeredAt: null, disposition: 'NO ANSWER',
  });
  const together = start + fm.ringAloneSeconds;
  const togetherData = `${deviceDial(ext)}&Local/${fm.mobile}@from-internal/n,${fm.ringTogetherSeconds},${FOLLOW_ME_OPTIONS}`;
  const answered = scenario === 'followme_external';
  const answerAt = answered ? together + rng.int(3, fm.ringTogetherSeconds - 2) : null;
  const legEnd = answerAt !== null ? answerAt + talkSeconds(input) : together + fm.ringTogetherSeconds;
  const disposition = answered ? 'ANSWERED' : 'NO ANSWER';
  call.add({
    partyA: call.root, partyB: ids.pjsipChannel(ext.number, together).name, sequence: ids.nextSequence(), lastapp: 'Dial',
    lastdata: togetherData, dst, dcontext: 'from-did-direct', start: together, end: answerAt ?? legEnd, answeredAt: null, disposition: 'NO ANSWER',
  });
  const local = ids.localChannel(fm.mobile, 'from-internal', together);
  ids.nextSequence();
  call.add({
    partyA: local.two, partyB: ids.pjsipChannel(model.trunk, together).name, sequence: ids.nextSequence(), lastapp: 'Dial',
    lastdata: `PJSIP/${fm.mobile}@${model.trunk},${TRUNK_DIAL_OPTIONS}`, dst: fm.mobile, dcontext: 'from-internal',
    start: together, end: legEnd, answeredAt: answerAt, disposition, arrival: legEnd, did: false,
    outbound: { cnum: inb.caller.number, cnam: inb.caller.name },
  });
  call.add({
    partyA: call.root, partyB: local.one.name, sequence: ids.nextSequence(), lastapp: 'Dial', lastdata: togetherData, dst,
    dcontext: 'from-did-direct', start: together, end: legEnd, answeredAt: answerAt, disposition,
  });
  if (answered) {
    return finishInbound(scenario, input, inb, { end: legEnd, rang: [ext.number], answeredBy: `external:${fm.mobile}` }, false);
  }
  const seconds = voicemailSeconds(rng);
  voicemailRow(inb.ctx, ext.number, legEnd, seconds, { dst: `vmu${ext.number}`, dcontext: 'ext-local', answeredAt: legEnd });
  return finishInbound(scenario, input, inb, { end: legEnd + seconds, rang: [ext.number], voicemail: ext.number }, true);
}

function transferTarget(input: ScenarioInput, not: string): Extension {
  const candidates = input.model.extensions.filter((e) => e.number !== not && e.voicemail && !e.followMe);
  return input.rng.pick(candidates);
}

/**
 * Blind transfer (SIP REFER) by the extension that answered: the caller's channel dials the
 * target while keeping the original dst/dcontext; it was answered before, so the target's
 * row bills from the first answer even when nobody picks up (fixture H).
 */
const blindTransfer: Scenario = (input) => {
  const did = directDid(input, (e) => e.voicemail);
  const first = findExtension(input.model, (did.destination as { extension: string }).extension);
  const target = transferTarget(input, first.number);
  const { ids, rng, start } = input;
  const inb = inbound(input, did);
  const { call } = inb;
  const answerAt = start + rng.int(2, 10);
  const transferAt = answerAt + talkSeconds(input);
  call.add({
    partyA: call.root, partyB: ids.pjsipChannel(first.number, start).name, sequence: call.rootSequence, lastapp: 'Dial',
    lastdata: `${deviceDial(first)},15,Ttrb(func-apply-sipheaders^s^1)`, dst: first.number, dcontext: 'from-did-direct',
    start, end: transferAt, answeredAt: answerAt, disposition: 'ANSWERED',
  });
  const targetAnswers = input.answered ?? rng.chance(0.6);
  const ringEnd = targetAnswers ? transferAt + rng.int(2, 12) : transferAt + 15;
  const end = targetAnswers ? ringEnd + rng.int(10, 300) : ringEnd;
  call.add({
    partyA: call.root, partyB: ids.pjsipChannel(target.number, transferAt).name, sequence: ids.nextSequence(), lastapp: 'Dial',
    lastdata: `${deviceDial(target)},15,Ttrb(func-apply-sipheaders^s^1)`, dst: first.number, dcontext: 'from-did-direct',
    start: transferAt, end, answeredAt: answerAt, disposition: targetAnswers ? 'ANSWERED' : 'NO ANSWER',
  });
  let callEnd = end;
  if (!targetAnswers) {
    const seconds = voicemailSeconds(rng);
    voicemailRow(inb.ctx, target.number, end, seconds, { dst: first.number, dcontext: 'from-did-direct', answeredAt: answerAt });
    callEnd = end + seconds;
  }
  return finishInbound('blind_transfer', input, inb, { end: callEnd, rang: [first.number, target.number], answeredBy: first.number }, false);
};

/**
 * Attended transfer. NO real fixture backs this shape: it follows Asterisk 12+ CDR rules
 * (one record per party A/B pairing; bridging copies the oldest linkedid to the channels
 * joining the caller's bridge). The caller's row with the first extension lasts until the
 * transfer completes; the consultation call (second channel of the first extension → the
 * target) is its own linkedid, never bridged with the caller; then the caller's channel
 * gets a new record with the target as party B, still under the original dst.
 */
const attendedTransfer: Scenario = (input) => {
  const did = directDid(input, (e) => e.voicemail);
  const first = findExtension(input.model, (did.destination as { extension: string }).extension);
  const target = transferTarget(input, first.number);
  const { ids, rng, start } = input;
  const inb = inbound(input, did);
  const { call } = inb;
  const answerAt = start + rng.int(2, 10);
  const consultAt = answerAt + rng.int(10, 120);
  const consultAnswerAt = consultAt + rng.int(2, 10);
  const transferAt = consultAnswerAt + rng.int(5, 40);
  const end = transferAt + talkSeconds(input);
  const firstPhone = ids.pjsipChannel(first.number, start);
  call.add({
    partyA: call.root, partyB: firstPhone.name, sequence: call.rootSequence, lastapp: 'Dial',
    lastdata: `${deviceDial(first)},15,Ttrb(func-apply-sipheaders^s^1)`, dst: first.number, dcontext: 'from-did-direct',
    start, end: transferAt, answeredAt: answerAt, disposition: 'ANSWERED',
  });
  const consultRoot = newRoot(ids, first.number, consultAt);
  const targetPhone = ids.pjsipChannel(target.number, consultAt);
  call.add({
    partyA: consultRoot.channel, partyB: targetPhone.name, sequence: consultRoot.sequence, lastapp: 'Dial',
    lastdata: `${deviceDial(target)},15,Ttrb(func-apply-sipheaders^s^1)`, dst: target.number, dcontext: 'from-internal',
    start: consultAt, end: transferAt, answeredAt: consultAnswerAt, disposition: 'ANSWERED', arrival: transferAt,
    identity: extensionIdentity(first), did: false, linkedid: consultRoot.channel.uniqueid,
  });
  call.add({
    partyA: call.root, partyB: targetPhone.name, sequence: ids.nextSequence(), lastapp: 'Dial',
    lastdata: `${deviceDial(first)},15,Ttrb(func-apply-sipheaders^s^1)`, dst: first.number, dcontext: 'from-did-direct',
    start: transferAt, end, answeredAt: transferAt, disposition: 'ANSWERED',
  });
  const result = finishInbound('attended_transfer', input, inb, { end, rang: [first.number, target.number], answeredBy: first.number }, false);
  result.extraLabels.push({
    linkedid: consultRoot.channel.uniqueid, scenario: 'internal', direction: 'internal', startedAt: naiveDatetime(consultAt),
    missed: false, caller: first.number, did: '', rang: [target.number], answeredBy: target.number,
  });
  return result;
};

function extensionFor(input: ScenarioInput, number: string | undefined, not?: string): Extension {
  if (number !== undefined) return findExtension(input.model, number);
  return input.rng.pick(input.model.extensions.filter((e) => e.number !== not && !e.followMe));
}

const internal: Scenario = (input) => {
  const { ids, rng, start, model } = input;
  const from = extensionFor(input, input.extension);
  const to = extensionFor(input, input.target, from.number);
  const root = newRoot(ids, from.number, start);
  const call = new CallRows(root.channel, root.sequence, extensionIdentity(from), '');
  const answers = input.answered ?? rng.chance(0.7);
  const hangsUp = !to.voicemail || (input.callerHangsUp ?? rng.chance(0.4));
  const outcome: ExtensionOutcome = answers
    ? { kind: 'answer', ringSeconds: rng.int(2, 10), talkSeconds: talkSeconds(input) }
    : hangsUp
      ? { kind: 'no_answer', ringSeconds: rng.int(3, 14) }
      : { kind: 'voicemail', voicemailSeconds: voicemailSeconds(rng) };
  const result = dialExtension({ model, ids, call }, to, start, { dst: to.number, dcontext: 'from-internal', answeredBefore: null }, outcome);
  const label: CallLabel = {
    linkedid: call.linkedid, scenario: 'internal', direction: 'internal', startedAt: naiveDatetime(start), missed: false,
    caller: from.number, did: '', rang: result.rang,
  };
  if (result.answeredBy) label.answeredBy = result.answeredBy;
  return { label, rows: call.finish(result.end), extraLabels: [] };
};

/**
 * An extension dials out through the trunk. FreePBX has already replaced src/clid with
 * the trunk's caller id (outbound_cnum); cnum/cnam still name the extension.
 */
function outboundCall(
  scenario: 'outbound' | 'callback', input: ScenarioInput, dialled: string, answers: boolean, busy: boolean,
): { call: GeneratedCall; label: CallLabel } {
  const { ids, rng, start, model } = input;
  const ext = extensionFor(input, input.extension);
  const root = newRoot(ids, ext.number, start);
  const identity: Identity = { clid: `"" <${model.outboundCid}>`, src: model.outboundCid, cnum: ext.number, cnam: ext.name };
  const call = new CallRows(root.channel, root.sequence, identity, '');
  const sent = numberSentToTrunk(dialled, model.outboundPrefix);
  const answerAt = answers ? start + rng.int(3, 20) : null;
  const end = answerAt !== null ? answerAt + talkSeconds(input) : busy ? start + rng.int(1, 4) : start + rng.int(15, 45);
  call.add({
    partyA: root.channel, partyB: ids.pjsipChannel(model.trunk, start).name, sequence: root.sequence, lastapp: 'Dial',
    lastdata: `PJSIP/${sent}@${model.trunk},${TRUNK_DIAL_OPTIONS}`, dst: dialled, dcontext: 'from-internal', start, end,
    answeredAt: answerAt, disposition: answers ? 'ANSWERED' : busy ? 'BUSY' : 'NO ANSWER', did: false,
    outbound: { cnum: model.outboundCid, cnam: '' },
  });
  const label: CallLabel = {
    linkedid: call.linkedid, scenario, direction: 'outbound', startedAt: naiveDatetime(start), missed: false,
    caller: ext.number, did: '', dialled, rang: [],
  };
  if (answers) label.answeredBy = `external:${sent}`;
  return { call: { label, rows: call.finish(end), extraLabels: [] }, label };
}

const outbound: Scenario = (input) => {
  const rng = input.rng;
  const number = input.target ?? (rng.chance(0.6) ? randomMobile(rng) : randomLandline(rng));
  const dialled = rng.chance(0.5) ? `${input.model.outboundPrefix}${number}` : number;
  const answers = input.answered ?? rng.chance(0.7);
  return outboundCall('outbound', input, dialled, answers, !answers && rng.chance(0.15)).call;
};

/** An extension calls a missed caller back; `target` is the number as it was presented then. */
const callback: Scenario = (input) => {
  const rng = input.rng;
  const presented = input.target ?? formatNumber(randomMobile(rng), randomFormat(rng));
  const answers = input.answered ?? rng.chance(0.7);
  // An agent calling back lets it ring until voicemail or gives up; busy is left to plain outbound calls.
  const { call, label } = outboundCall('callback', input, dialledForCallback(presented, input.model.outboundPrefix, rng), answers, false);
  label.callbackFor = presented;
  label.callbackAnswered = answers;
  return call;
};

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  queue_answered: queueAnswered,
  queue_missed: queueMissed,
  queue_voicemail: queueVoicemail,
  queue_abandon_no_agent: queueAbandonNoAgent,
  ringgroup_answered: ringGroupAnswered,
  ringgroup_missed: ringGroupMissed,
  direct_answered: directAnswered,
  direct_voicemail: directVoicemail,
  direct_missed: directMissed,
  direct_busy: directBusy,
  voicemail_direct: voicemailDirect,
  ivr_abandon: ivrAbandon,
  ivr_queue_answered: (input) => ivrToQueue('ivr_queue_answered', input),
  ivr_queue_missed: (input) => ivrToQueue('ivr_queue_missed', input),
  followme_external: (input) => followMe('followme_external', input),
  followme_missed: (input) => followMe('followme_missed', input),
  blind_transfer: blindTransfer,
  attended_transfer: attendedTransfer,
  internal,
  outbound,
  callback,
};

export const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];
