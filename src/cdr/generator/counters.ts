/**
 * Asterisk's process-wide counters, which every id in a CDR row comes from: the channel
 * uniqueid counter (`<epoch>.<n>`), one hex suffix counter per channel technology
 * (PJSIP/101-0000002b) and one for Local channels (Local/101@from-queue-00000003;1), and
 * the CDR sequence. Shared by all calls of one generated PBX so ids never repeat.
 */
export interface CounterStart {
  uniqueid?: number;
  pjsip?: number;
  local?: number;
  sequence?: number;
}

export interface Channel {
  name: string;
  uniqueid: string;
}

export class AsteriskCounters {
  private uniqueid: number;
  private pjsip: number;
  private local: number;
  private sequence: number;

  constructor(start: CounterStart = {}) {
    this.uniqueid = start.uniqueid ?? 0;
    this.pjsip = start.pjsip ?? 0;
    this.local = start.local ?? 0;
    this.sequence = start.sequence ?? 0;
  }

  /** A PJSIP channel to an endpoint (a phone, or the trunk) created at `at` (epoch seconds). */
  pjsipChannel(endpoint: string, at: number): Channel {
    return { name: `PJSIP/${endpoint}-${hex8(this.pjsip++)}`, uniqueid: this.nextUniqueid(at) };
  }

  /** Both halves of a Local channel; ;1 faces the caller, ;2 runs the dialplan. */
  localChannel(exten: string, context: string, at: number): { one: Channel; two: Channel } {
    const base = `Local/${exten}@${context}-${hex8(this.local++)}`;
    return {
      one: { name: `${base};1`, uniqueid: this.nextUniqueid(at) },
      two: { name: `${base};2`, uniqueid: this.nextUniqueid(at) },
    };
  }

  /** Every CDR object Asterisk creates (one per channel, one per fork) takes a number. */
  nextSequence(): number {
    return this.sequence++;
  }

  private nextUniqueid(at: number): string {
    return `${Math.floor(at)}.${this.uniqueid++}`;
  }
}

function hex8(n: number): string {
  return (n % 0x100000000).toString(16).padStart(8, '0');
}
