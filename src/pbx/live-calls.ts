import type { AmiMessage } from './ami-protocol.js';

/**
 * Which calls (linkedids) still have a channel up, from AMI's call events, and so when a
 * call is over: the moment its last channel hangs up, which is when Asterisk writes the
 * call's last CDR rows (cdr.conf batch=no). Pure: messages in, ended linkedids out.
 *
 * Every channel event carries the channel's snapshot (manager_channels.c), Uniqueid and
 * Linkedid among it, some with a prefix for a second channel (DialBegin's DestUniqueid,
 * AttendedTransfer's TransfereeUniqueid…). A channel's linkedid can change while it lives:
 * a bridge gives every channel in it the oldest linkedid among them (bridge_channel.c,
 * ast_bridge_channel_update_linkedids). A masquerade swaps uniqueid and linkedid together,
 * so a uniqueid keeps its linkedid through it. We therefore key channels by uniqueid, take
 * the linkedid from the newest event that names the channel, and call a linkedid over
 * when no channel of it is left, as CEL's LINKEDID_END does (cel.c, check_retire_linkedid).
 *
 * Conservative where events may be missing: a call is followed only from its root channel's
 * Newchannel (uniqueid = linkedid) on, so a call already up when we connected, whose other
 * channels we never saw created, is never said to be over (the sync's settle time handles
 * it); a channel named after its Hangup (a late event) is not brought back to life.
 */
export class LiveCalls {
  /** Followed calls: linkedid → uniqueids of its channels still up. */
  private calls = new Map<string, Set<string>>();
  /** Channels of followed calls: uniqueid → its linkedid now. */
  private channels = new Map<string, string>();
  /** Uniqueids that hung up lately, oldest first (bounded), so a late event does not revive them. */
  private gone = new Set<string>();

  /** maxCalls bounds memory should Hangups go missing on a live connection: the oldest call is dropped (left to the settle time). */
  constructor(private readonly goneMemory = 10_000, private readonly maxCalls = 10_000) {}

  /** Calls currently followed (for memory bounds and tests). */
  get size(): number {
    return this.calls.size;
  }

  /** Takes one AMI message; returns the linkedids it ended (usually none, at most a few). */
  take(message: AmiMessage): string[] {
    const event = message.Event;
    if (event === undefined) return [];
    if (event === 'Newchannel' && message.Uniqueid && message.Uniqueid === message.Linkedid && !this.gone.has(message.Uniqueid)) {
      this.calls.set(message.Linkedid, new Set());
      if (this.calls.size > this.maxCalls) this.forget(this.calls.keys().next().value!);
    }
    const ended: string[] = [];
    for (const prefix of channelPrefixes(message)) {
      const uniqueid = message[`${prefix}Uniqueid`]!;
      const linkedid = message[`${prefix}Linkedid`]!;
      if (event === 'Hangup' && prefix === '') ended.push(...this.hangup(uniqueid));
      else ended.push(...this.seen(uniqueid, linkedid));
    }
    return ended;
  }

  /** Everything followed is forgotten: after a lost connection the events in between are unknown. */
  reset(): void {
    this.calls.clear();
    this.channels.clear();
  }

  private forget(linkedid: string): void {
    for (const uniqueid of this.calls.get(linkedid) ?? []) this.channels.delete(uniqueid);
    this.calls.delete(linkedid);
  }

  private seen(uniqueid: string, linkedid: string): string[] {
    if (this.gone.has(uniqueid)) return [];
    const before = this.channels.get(uniqueid);
    if (before === linkedid) return [];
    const call = this.calls.get(linkedid);
    if (call) {
      call.add(uniqueid);
      this.channels.set(uniqueid, linkedid);
    } else {
      // Moved into a call we do not follow: it is no longer ours to count.
      this.channels.delete(uniqueid);
    }
    return before === undefined ? [] : this.leave(before, uniqueid);
  }

  private hangup(uniqueid: string): string[] {
    this.gone.add(uniqueid);
    if (this.gone.size > this.goneMemory) this.gone.delete(this.gone.values().next().value!);
    const linkedid = this.channels.get(uniqueid);
    if (linkedid === undefined) return [];
    this.channels.delete(uniqueid);
    return this.leave(linkedid, uniqueid);
  }

  private leave(linkedid: string, uniqueid: string): string[] {
    const call = this.calls.get(linkedid);
    if (!call) return [];
    call.delete(uniqueid);
    if (call.size > 0) return [];
    this.calls.delete(linkedid);
    return [linkedid];
  }
}

/** '' for the event's own channel, and each prefix (Dest, Transferee…) under which it names another. */
function channelPrefixes(message: AmiMessage): string[] {
  const prefixes: string[] = [];
  for (const key of Object.keys(message)) {
    if (!key.endsWith('Uniqueid')) continue;
    const prefix = key.slice(0, -'Uniqueid'.length);
    if (message[key] && message[`${prefix}Linkedid`]) prefixes.push(prefix);
  }
  return prefixes;
}
