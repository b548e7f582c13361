import { formatNaive } from './row.js';

/**
 * One row of Asterisk's `cel` table (Channel Event Logging), as FreePBX stores it when
 * CEL_ENABLED is on: one event of one channel (CHAN_START, ANSWER, APP_START, BRIDGE_ENTER,
 * HANGUP, LINKEDID_END…), written the moment it happens. `eventtime` stays the naive
 * 'YYYY-MM-DD HH:MM:SS' the PBX wrote, like a CDR row's calldate.
 */
export interface CelEvent {
  /** The table's auto-increment id: the order Asterisk logged the events in. */
  id: number;
  eventtype: string;
  eventtime: string;
  cid_name: string;
  cid_num: string;
  cid_dnid: string;
  exten: string;
  context: string;
  channame: string;
  appname: string;
  appdata: string;
  uniqueid: string;
  linkedid: string;
  peer: string;
  /** JSON for some events: HANGUP {hangupcause, hangupsource, dialstatus}, PICKUP {pickup_channel}. */
  extra: string;
}

export const CEL_COLUMNS = [
  'id', 'eventtype', 'eventtime', 'cid_name', 'cid_num', 'cid_dnid', 'exten', 'context', 'channame',
  'appname', 'appdata', 'uniqueid', 'linkedid', 'peer', 'extra',
] as const;

/**
 * The events the classifier reads. The rest (STREAM_*, DTMF, BRIDGE_EXIT, transfers…) say
 * nothing about who was called or answered that these do not.
 */
export const CEL_EVENTS_READ = ['CHAN_START', 'ANSWER', 'HANGUP', 'CHAN_END', 'APP_START', 'APP_END', 'BRIDGE_ENTER', 'PICKUP', 'LINKEDID_END'] as const;
const READ = new Set<string>(CEL_EVENTS_READ);

const DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/;

/**
 * A loosely typed record (a DB row, a TSV line) as a CelEvent, or null when it is none the
 * classifier reads or cannot be placed in a call and in time (no linkedid, no eventtime).
 */
export function toCelEvent(raw: Record<string, unknown>): CelEvent | null {
  const text = (key: string): string => {
    const value = raw[key];
    if (value === null || value === undefined) return '';
    if (value instanceof Date) return formatNaive(value);
    return String(value);
  };
  const eventtype = text('eventtype');
  if (!READ.has(eventtype)) return null;
  const eventtime = text('eventtime').slice(0, 19);
  const linkedid = text('linkedid').trim();
  if (!linkedid || !DATETIME.test(eventtime) || eventtime.startsWith('0000')) return null;
  const id = Number(text('id') || 0);
  return {
    id: Number.isFinite(id) ? id : 0,
    eventtype,
    eventtime,
    cid_name: text('cid_name'),
    cid_num: text('cid_num'),
    cid_dnid: text('cid_dnid'),
    exten: text('exten'),
    context: text('context'),
    channame: text('channame'),
    appname: text('appname'),
    appdata: text('appdata'),
    uniqueid: text('uniqueid'),
    linkedid,
    peer: text('peer'),
    extra: text('extra'),
  };
}

/** Groups events into calls by linkedid. */
export function groupCelByCall(events: readonly CelEvent[]): Map<string, CelEvent[]> {
  const calls = new Map<string, CelEvent[]>();
  for (const event of events) {
    const list = calls.get(event.linkedid);
    if (list) list.push(event);
    else calls.set(event.linkedid, [event]);
  }
  return calls;
}

/**
 * A fingerprint of a call known from CEL alone, for the calls table's rows_digest: `cel:`
 * and the count and highest id of its events, which only grow while the call goes on. A
 * CDR digest never starts with `cel:`, so a call first seen in CEL and later in CDR
 * changes digest once and is classified again, under the same linkedid.
 */
export function celDigest(events: readonly CelEvent[]): string {
  const top = events.reduce((max, e) => Math.max(max, e.id), 0);
  return `cel:${events.length}:${top}`;
}
