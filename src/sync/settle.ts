import type { CelEvent } from '../cdr/cel-row.js';
import { naiveSeconds, type CdrRow } from '../cdr/row.js';

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
  /** Calls CEL reported as over (LINKEDID_END): they need only a moment, not the full settle time. */
  private over = new Map<string, number>();

  constructor(private readonly settleSeconds: number, private readonly orphanSeconds = 600) {}

  callEnded(linkedids: Iterable<string>, now: string): void {
    for (const id of linkedids) this.over.set(id, naiveSeconds(now));
  }

  /** Returns the linkedids that are settled at `now` (DB clock), given their current rows (or, with none, CEL events). */
  settled(calls: Map<string, { rows: CdrRow[]; digest: string; cel?: CelEvent[] }>, now: string): string[] {
    const t = naiveSeconds(now);
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
      const wait = this.over.has(linkedid) ? Math.min(1, this.settleSeconds) : this.settleSeconds;
      // A CEL-only call still up is no orphan: it settles when it ends, or leaves with the window.
      if ((hasRoot && quiet >= wait) || (!hasRoot && !fromCel && t - lastEnd >= this.orphanSeconds)) ready.push(linkedid);
    }
    return ready;
  }

  /** Forget calls that left the read window, and call ends whose rows never came within a minute. */
  prune(keep: Set<string>, now: string): void {
    for (const linkedid of this.seen.keys()) if (!keep.has(linkedid)) this.seen.delete(linkedid);
    const t = naiveSeconds(now);
    for (const [linkedid, at] of this.over) if (!keep.has(linkedid) && t - at > 60) this.over.delete(linkedid);
  }
}
