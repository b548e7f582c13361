/**
 * Turns the legs of one call into CDR rows the way Asterisk's CDR engine writes them:
 * one row per (party A, party B) pairing, party A's uniqueid, the call's linkedid, billsec
 * counted from when party A was answered, and an arrival time = when party A's channel
 * hangs up, which is when cdr_adaptive_odbc INSERTs the row.
 */
import { naiveDatetime, type CdrRow } from '../row.js';
import type { AsteriskCounters, Channel } from './counters.js';
import type { Extension } from './pbx.js';

export interface GeneratedRow extends CdrRow {
  outbound_cnam: string;
  /** Epoch seconds (naive, like calldate) at which Asterisk INSERTs this row. */
  arrival: number;
}

export interface CallerId {
  number: string;
  name: string;
}

/** How party A presents on every row: clid/src as the CDR shows them, cnum/cnam as FreePBX set them. */
export interface Identity {
  clid: string;
  src: string;
  cnum: string;
  cnam: string;
}

export type Disposition = 'ANSWERED' | 'NO ANSWER' | 'BUSY' | 'FAILED';

export interface LegSpec {
  partyA: Channel;
  partyB?: string;
  sequence: number;
  lastapp: string;
  lastdata: string;
  dst: string;
  dcontext: string;
  start: number;
  end: number;
  /** When party A of this record was answered: billsec runs from there. null = never. */
  answeredAt: number | null;
  disposition: Disposition;
  /** When the row is INSERTed; left out for the call's root channel, whose rows all arrive when it hangs up. */
  arrival?: number;
  /** FreePBX sets CDR(did) on the trunk channel only. */
  did?: boolean;
  identity?: Partial<Identity>;
  outbound?: { cnum: string; cnam: string };
  /** A consultation leg of an attended transfer keeps its own linkedid. */
  linkedid?: string;
}

/** Asterisk's CDR columns are varchar(80): longer dial strings arrive cut. */
const COLUMN_WIDTH = 80;

export class CallRows {
  readonly rows: GeneratedRow[] = [];

  constructor(
    readonly root: Channel,
    readonly rootSequence: number,
    readonly identity: Identity,
    readonly did: string,
  ) {}

  get linkedid(): string {
    return this.root.uniqueid;
  }

  add(leg: LegSpec): void {
    const identity = { ...this.identity, ...leg.identity };
    // A record's billsec counts from when ITS party A was answered: the caller's Queue and
    // voicemail rows bill from the PBX's own Answer(), not from an agent picking up.
    const billsec = leg.answeredAt === null ? 0 : Math.max(0, leg.end - Math.max(leg.answeredAt, leg.start));
    this.rows.push({
      calldate: naiveDatetime(leg.start),
      clid: cut(identity.clid),
      src: cut(identity.src),
      dst: cut(leg.dst),
      dcontext: leg.dcontext,
      channel: cut(leg.partyA.name),
      dstchannel: cut(leg.partyB ?? ''),
      lastapp: leg.lastapp,
      lastdata: cut(leg.lastdata),
      duration: leg.end - leg.start,
      billsec,
      disposition: leg.disposition,
      uniqueid: leg.partyA.uniqueid,
      linkedid: leg.linkedid ?? this.linkedid,
      sequence: leg.sequence,
      did: (leg.did ?? leg.partyA.name === this.root.name) ? this.did : '',
      cnum: cut(identity.cnum),
      cnam: cut(identity.cnam),
      outbound_cnum: leg.outbound?.cnum ?? '',
      outbound_cnam: leg.outbound?.cnam ?? '',
      arrival: leg.arrival ?? Number.NaN,
    });
  }

  /** The root channel hangs up at `end`: Asterisk dispatches all its records then. */
  finish(end: number): GeneratedRow[] {
    for (const row of this.rows) if (Number.isNaN(row.arrival)) row.arrival = end;
    return this.rows;
  }
}

export function inboundIdentity(caller: CallerId): Identity {
  return { clid: `"${caller.name}" <${caller.number}>`, src: caller.number, cnum: caller.number, cnam: caller.name };
}

export function extensionIdentity(ext: Extension): Identity {
  return { clid: `"${ext.name}" <${ext.number}>`, src: ext.number, cnum: ext.number, cnam: ext.name };
}

/** The dial string FreePBX builds for a PJSIP extension from its registered contact. */
export function deviceDial(ext: Extension): string {
  return `PJSIP/${ext.number}/sip:${ext.number}@${ext.contact}`;
}

export const SIP_HEADERS = 'Ttrb(func-apply-sipheaders^s^1)';

export function newRoot(ids: AsteriskCounters, endpoint: string, at: number): { channel: Channel; sequence: number } {
  const channel = ids.pjsipChannel(endpoint, at);
  return { channel, sequence: ids.nextSequence() };
}

function cut(text: string): string {
  return text.length > COLUMN_WIDTH ? text.slice(0, COLUMN_WIDTH) : text;
}
