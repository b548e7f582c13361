/**
 * The AMI call events Asterisk raises for a generated call's channels: Newchannel when a
 * channel is created, Hangup when it is gone (manager_channels.c), each with the channel's
 * snapshot. Derived from the call's CDR rows: every channel is party A or party B of some
 * row; party A hangs up when its row is written (`arrival`), party B when its leg ends.
 * Pure: rows in, timed events out.
 */
import { naiveSeconds } from '../row.js';
import type { GeneratedRow } from './legs.js';

export interface ChannelEvent {
  /** Naive epoch seconds (the PBX's wall clock) at which Asterisk raises it. */
  at: number;
  event: 'Newchannel' | 'Hangup';
  fields: Record<string, string>;
}

interface ChannelLife {
  name: string;
  uniqueid: string;
  start: number;
  end: number;
  linkedidAtStart: string;
  linkedidAtEnd: string;
  context: string;
  exten: string;
  callerNum: string;
  callerName: string;
}

export function channelEvents(rows: GeneratedRow[]): ChannelEvent[] {
  const lives = new Map<string, ChannelLife>();
  const touch = (name: string, uniqueid: string | null, start: number, end: number, row: GeneratedRow) => {
    const life = lives.get(name);
    if (!life) {
      lives.set(name, {
        name, uniqueid: uniqueid ?? `${row.linkedid}~${name}`, start, end, linkedidAtStart: row.linkedid, linkedidAtEnd: row.linkedid,
        context: row.dcontext, exten: row.dst, callerNum: row.cnum, callerName: row.cnam,
      });
      return;
    }
    if (uniqueid) life.uniqueid = uniqueid;
    if (start < life.start) [life.start, life.linkedidAtStart] = [start, row.linkedid];
    if (end >= life.end) [life.end, life.linkedidAtEnd] = [end, row.linkedid];
  };
  for (const row of rows) {
    const start = naiveSeconds(row.calldate);
    touch(row.channel, row.uniqueid, start, row.arrival, row);
    if (row.dstchannel) touch(row.dstchannel, null, start, Math.min(row.arrival, start + row.duration), row);
  }
  const events: ChannelEvent[] = [];
  for (const life of lives.values()) {
    const snapshot = (linkedid: string, state: string, stateDesc: string) => ({
      Channel: life.name, ChannelState: state, ChannelStateDesc: stateDesc,
      CallerIDNum: life.callerNum, CallerIDName: life.callerName, ConnectedLineNum: '<unknown>', ConnectedLineName: '<unknown>',
      Language: 'en', AccountCode: '', Context: life.context, Exten: life.exten, Priority: '1', Uniqueid: life.uniqueid, Linkedid: linkedid,
    });
    events.push({ at: life.start, event: 'Newchannel', fields: snapshot(life.linkedidAtStart, '0', 'Down') });
    events.push({ at: life.end, event: 'Hangup', fields: { ...snapshot(life.linkedidAtEnd, '6', 'Up'), Cause: '16', 'Cause-txt': 'Normal Clearing' } });
  }
  // A call's root channel (uniqueid = linkedid) is created first; at one instant creations come before hang-ups.
  const rank = (e: ChannelEvent) => (e.event === 'Newchannel' ? (e.fields.Uniqueid === e.fields.Linkedid ? 0 : 1) : 2);
  return events.sort((a, b) => a.at - b.at || rank(a) - rank(b));
}
