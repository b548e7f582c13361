import type { CelEvent } from '../cdr/cel-row.js';
import { naiveSeconds, type CdrRow } from '../cdr/row.js';

/**
 * How long after a call is known to be over (AMI: its last channel hung up; CEL:
 * LINKEDID_END) its rows are taken as complete. Asterisk writes a leg's CDR row as the leg
 * hangs up (cdr.conf batch=no), the call's last ones right as its last channel goes: this
 * only covers the INSERTs still under way on the PBX's side.
 */
export const CALL_END_GRACE_MS = 300;

/**
 * A call known over whose root row is not there after the grace (a slow INSERT) is looked
 * for again every grace for this long; after it, the sync's interval finds it.
 */
const CALL_END_RETRY_MS = 2000;

/**
 * Decides when a call's rows are complete enough to classify. Asterisk writes a CDR row
 * when each leg hangs up, with calldate = the leg's START, so a call's rows trickle in and
 * calldate+duration says little about when the last one will come (a queue caller's rows
 * all arrive when the caller hangs up). We therefore watch the rows arrive: a call is
 * settled once its root row (uniqueid = linkedid) is present and no new row has come for
 * settleSeconds. A row that comes later still re-evaluates the call (reclassification).
 *
 * A call known from CEL alone (no CDR row) has its own end: its caller's channel hung up
 * (HANGUP or CHAN_END of uniqueid = linkedid) or LINKEDID_END came, and no new event since.
 */
export class SettleTracker {
  private seen = new Map<string, { digest: string; changedAt: number }>();
  /**
   * Calls known to be over (AMI or CEL), with when we learned it on our own clock in ms: they
   * need only CALL_END_GRACE_MS, not the settle time, and the whole seconds of the DB clock
   * would add up to one more.
   */
  private over = new Map<string, number>();

  constructor(
    private readonly settleSeconds: number,
    private readonly orphanSeconds = 600,
    private readonly graceMs = CALL_END_GRACE_MS,
    private readonly clockMs: () => number = () => performance.now(),
  ) {}

  callEnded(linkedids: Iterable<string>): void {
    const at = this.clockMs();
    for (const id of linkedids) if (!this.over.has(id)) this.over.set(id, at);
  }

  /**
   * When (on clockMs) a cycle should next look for calls known over: the first one's grace
   * ends, or one past its grace is still missing rows and is due another look; null when none.
   */
  nextCallEndDue(): number | null {
    const now = this.clockMs();
    let next: number | null = null;
    for (const at of this.over.values()) {
      if (now - at >= CALL_END_RETRY_MS) continue;
      const due = now - at < this.graceMs ? at + this.graceMs : now + this.graceMs;
      if (next === null || due < next) next = due;
    }
    return next;
  }

  /** Returns the linkedids that are settled at `now` (DB clock), given their current rows (or, with none, CEL events). */
  settled(calls: Map<string, { rows: CdrRow[]; digest: string; cel?: CelEvent[] }>, now: string): string[] {
    const t = naiveSeconds(now);
    const nowMs = this.clockMs();
    const ready: string[] = [];
    for (const [linkedid, { rows, digest, cel = [] }] of calls) {
      const before = this.seen.get(linkedid);
      if (!before || before.digest !== digest) this.seen.set(linkedid, { digest, changedAt: t });
      const changedAt = this.seen.get(linkedid)!.changedAt;
      const fromCel = rows.length === 0;
      const lastEnd = fromCel
        ? Math.max(...cel.map((e) => naiveSeconds(e.eventtime)))
        : Math.max(...rows.map((r) => naiveSeconds(r.calldate) + r.duration));
      const quiet = t - Math.max(changedAt, lastEnd);
      const hasRoot = fromCel
        ? cel.some((e) => e.eventtype === 'LINKEDID_END' || (e.uniqueid === linkedid && (e.eventtype === 'HANGUP' || e.eventtype === 'CHAN_END')))
        : rows.some((r) => r.uniqueid === linkedid);
      const overAt = this.over.get(linkedid);
      // Known over, and its grace passed since we learned it, or (CEL is polled, so learned
      // late) its rows have been quiet for a second already: what is there is the call. A
      // row that still comes later re-evaluates it with the settle time, like any late row.
      const overReady = overAt !== undefined && (nowMs - overAt >= this.graceMs || quiet >= Math.min(1, this.settleSeconds));
      if (hasRoot && overReady) {
        this.over.delete(linkedid);
        ready.push(linkedid);
      } else if ((hasRoot && quiet >= this.settleSeconds) || (!hasRoot && !fromCel && t - lastEnd >= this.orphanSeconds)) {
        // A CEL-only call still up is no orphan: it settles when it ends, or leaves with the window.
        ready.push(linkedid);
      }
    }
    return ready;
  }

  /**
   * Forget calls that left the read window, and call ends whose rows never came within a
   * minute (AMI reports every call, also those that write no CDR row of their own).
   */
  prune(keep: Set<string>): void {
    for (const linkedid of this.seen.keys()) if (!keep.has(linkedid)) this.seen.delete(linkedid);
    const nowMs = this.clockMs();
    for (const [linkedid, at] of this.over) if (!keep.has(linkedid) && nowMs - at > 60_000) this.over.delete(linkedid);
  }
}
