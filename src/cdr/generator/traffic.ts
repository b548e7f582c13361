/**
 * A PBX's day of calls: which scenarios, how often, and what misses lead to (the team
 * calls back, the caller tries again, an insistent caller rings five times). Calls come
 * out in start order with ids from one set of counters, as one Asterisk would number them.
 */
import { callsOnDay, dayStart, isBusinessTime, randomTimeOfDay, SECONDS_PER_DAY } from './calendar.js';
import { AsteriskCounters, type CounterStart } from './counters.js';
import type { ScenarioName } from './label.js';
import type { CallerId } from './legs.js';
import { ANONYMOUS, carrierCaller, formatNumber, randomFormat, randomLandline, randomMobile } from './numbers.js';
import { findExtension, type Did, type PbxModel } from './pbx.js';
import { Rng } from './random.js';
import { SCENARIOS, type GeneratedCall, type ScenarioInput } from './scenarios.js';

export interface PlannedCall {
  at: number;
  scenario: ScenarioName;
  input: Partial<ScenarioInput>;
  repeatOf?: string;
}

type Weights = Record<string, number>;

/** Open hours: most calls reach a person; about one in six is missed. */
const BUSINESS_INBOUND: Weights = {
  queue_answered: 30, queue_missed: 3, queue_voicemail: 1.2, queue_abandon_no_agent: 1.2,
  ringgroup_answered: 8, ringgroup_missed: 1.2,
  direct_answered: 10, direct_voicemail: 1.2, direct_missed: 0.8, direct_busy: 0.4,
  ivr_abandon: 3, ivr_queue_answered: 10, ivr_queue_missed: 1,
  followme_external: 2, followme_missed: 0.5, blind_transfer: 3, attended_transfer: 1.5,
};

/** Closed: the routes' time conditions send callers to voicemail; direct lines still ring. */
const AFTER_HOURS_INBOUND: Weights = {
  voicemail_direct: 55, ivr_abandon: 20, direct_voicemail: 10, direct_missed: 5, direct_answered: 4, followme_external: 6,
};

export interface MixOptions {
  /** Treat every moment as business hours (live demos run at any time of day). */
  alwaysOpen?: boolean;
  /** Seconds from the end of a missed call to a callback or the caller's next try. */
  followUpDelay?: (rng: Rng) => number;
  /** How many numbers call again and again over time (customers, suppliers). */
  regularCallers?: number;
}

export class TrafficMix {
  private readonly regulars: CallerId[] = [];
  private readonly followUpDelay: (rng: Rng) => number;

  constructor(private readonly model: PbxModel, private readonly rng: Rng, private readonly options: MixOptions = {}) {
    for (let i = 0; i < (options.regularCallers ?? 300); i++) {
      const national = rng.chance(0.8) ? randomMobile(rng) : randomLandline(rng);
      this.regulars.push(carrierCaller(formatNumber(national, randomFormat(rng))));
    }
    this.followUpDelay = options.followUpDelay ?? ((r) => (r.chance(0.7) ? r.int(120, 3600) : r.int(3600, 4 * 3600)));
  }

  private open(at: number): boolean {
    return this.options.alwaysOpen === true || isBusinessTime(this.model, at);
  }

  /** A first attempt starting at `at`. */
  fresh(at: number): PlannedCall {
    const rng = this.rng;
    const open = this.open(at);
    const kind = rng.weighted(open ? { inbound: 72, outbound: 18, internal: 10 } : { inbound: 88, outbound: 8, internal: 4 });
    if (kind === 'internal') return { at, scenario: 'internal', input: {} };
    if (kind === 'outbound') {
      const target = rng.chance(0.15) ? rng.pick(this.regulars).number.replace(/^(\+40|0040)/, '0') : undefined;
      return { at, scenario: 'outbound', input: target ? { target } : {} };
    }
    const scenario = rng.weighted(open ? BUSINESS_INBOUND : AFTER_HOURS_INBOUND) as ScenarioName;
    const roll = rng.next();
    const caller = roll < 0.03 ? ANONYMOUS : roll < 0.3 ? rng.pick(this.regulars) : undefined;
    return { at, scenario, input: caller ? { caller } : {} };
  }

  /** What a finished call leads to: the team calls a missed caller back, the caller tries again. */
  followUps(call: GeneratedCall): PlannedCall[] {
    const { label } = call;
    if (label.direction !== 'inbound' || !label.missed || label.caller === ANONYMOUS.number) return [];
    const rng = this.rng;
    const end = call.rows.reduce((max, r) => Math.max(max, r.arrival), 0);
    const did = this.model.dids.find((d) => d.number === label.did);
    const plans: PlannedCall[] = [];
    if (rng.chance(0.45)) {
      const at = end + this.followUpDelay(rng);
      if (this.open(at)) {
        const extension = label.rang[0] ?? rng.pick(this.model.extensions.filter((e) => !e.followMe)).number;
        plans.push({ at, scenario: 'callback', input: { extension, target: label.caller } });
      }
    }
    if (!did) return plans;
    const caller = carrierCaller(label.caller);
    if (rng.chance(0.05)) {
      // The insistent caller: rings again every few minutes and keeps missing.
      let at = end;
      for (let i = rng.int(2, 5); i > 0; i--) {
        at += rng.int(30, 600);
        plans.push({ at, scenario: this.scenarioFor(did, false, at), input: { did: did.number, caller }, repeatOf: label.linkedid });
      }
    } else if (rng.chance(0.3)) {
      const at = end + this.followUpDelay(rng);
      plans.push({ at, scenario: this.scenarioFor(did, rng.chance(0.75), at), input: { did: did.number, caller }, repeatOf: label.linkedid });
    }
    return plans;
  }

  /** The scenario a call to this DID becomes, given whether someone answers. */
  private scenarioFor(did: Did, answered: boolean, at: number): ScenarioName {
    if (!this.open(at) && did.afterHours) return 'voicemail_direct';
    const to = did.destination;
    switch (to.kind) {
      case 'queue':
        return answered ? 'queue_answered' : 'queue_missed';
      case 'ringgroup':
        return answered ? 'ringgroup_answered' : 'ringgroup_missed';
      case 'ivr':
        return answered ? 'ivr_queue_answered' : 'ivr_queue_missed';
      case 'voicemail':
        return 'voicemail_direct';
      case 'extension': {
        const ext = findExtension(this.model, to.extension);
        if (ext.followMe) return answered ? 'followme_external' : 'followme_missed';
        return answered ? 'direct_answered' : ext.voicemail ? 'direct_voicemail' : 'direct_missed';
      }
    }
  }
}

export function materialise(model: PbxModel, plan: PlannedCall, rng: Rng, ids: AsteriskCounters): GeneratedCall {
  const call = SCENARIOS[plan.scenario]({ model, rng, ids, start: plan.at, ...plan.input });
  if (plan.repeatOf) call.label.repeatOf = plan.repeatOf;
  return call;
}

export interface DayOptions {
  seed: number;
  /** 'YYYY-MM-DD' of the PBX's wall clock. */
  date: string;
  /** First attempts that day; callbacks and callers trying again come on top. */
  calls: number;
  counters?: CounterStart;
}

export interface RangeOptions {
  seed: number;
  /** First and last day, 'YYYY-MM-DD', both included. */
  from: string;
  to: string;
  /** First attempts on an ordinary weekday; weekends and Fridays get fewer. */
  callsPerDay: number;
  counters?: CounterStart;
}

/** One day's calls, in start order; follow-ups that would fall after midnight are left out. */
export function generateDay(model: PbxModel, options: DayOptions): GeneratedCall[] {
  const day = dayStart(options.date);
  return [...traffic(model, options.seed, options.counters, [{ day, calls: options.calls }], day + SECONDS_PER_DAY)];
}

/** Calls of every day in the range, streamed in start order: nothing is held but pending follow-ups. */
export function generateRange(model: PbxModel, options: RangeOptions): Iterable<GeneratedCall> {
  const first = dayStart(options.from);
  const last = dayStart(options.to);
  if (last < first) throw new Error(`range ${options.from}..${options.to} is empty`);
  const counts = new Rng(options.seed ^ 0x5bd1e995);
  function* days() {
    for (let day = first; day <= last; day += SECONDS_PER_DAY) yield { day, calls: callsOnDay(options.callsPerDay, day, counts) };
  }
  return traffic(model, options.seed, options.counters, days(), last + SECONDS_PER_DAY);
}

function* traffic(
  model: PbxModel, seed: number, counters: CounterStart | undefined, days: Iterable<{ day: number; calls: number }>, until: number,
): Generator<GeneratedCall> {
  const root = new Rng(seed);
  const timing = root.fork();
  const mix = new TrafficMix(model, root.fork());
  const calls = root.fork();
  const ids = new AsteriskCounters(counters);
  const pending = new PlanQueue();
  for (const { day, calls: count } of days) {
    const starts: number[] = [];
    for (let i = 0; i < count; i++) starts.push(randomTimeOfDay(day, timing));
    starts.sort((a, b) => a - b);
    let next = 0;
    const dayEnd = day + SECONDS_PER_DAY;
    for (;;) {
      const followUp = pending.peek();
      const freshAt = next < starts.length ? starts[next]! : Infinity;
      const followUpAt = followUp && followUp.at < dayEnd ? followUp.at : Infinity;
      if (freshAt === Infinity && followUpAt === Infinity) break;
      const plan = followUpAt <= freshAt ? pending.pop()! : mix.fresh(starts[next++]!);
      const call = materialise(model, plan, calls, ids);
      for (const later of mix.followUps(call)) if (later.at < until) pending.push(later);
      yield call;
    }
  }
}

/** Follow-ups by start time: a binary min-heap, so a long range never sorts its backlog. */
class PlanQueue {
  private readonly heap: PlannedCall[] = [];

  push(plan: PlannedCall): void {
    const heap = this.heap;
    heap.push(plan);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= heap[i]!.at) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  peek(): PlannedCall | undefined {
    return this.heap[0];
  }

  pop(): PlannedCall | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < heap.length && heap[l]!.at < heap[min]!.at) min = l;
        if (r < heap.length && heap[r]!.at < heap[min]!.at) min = r;
        if (min === i) break;
        [heap[min], heap[i]] = [heap[i]!, heap[min]!];
        i = min;
      }
    }
    return top;
  }
}
