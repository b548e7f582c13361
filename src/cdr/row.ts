/**
 * One row of Asterisk's `cdr` table as FreePBX stores it. Times stay the naive
 * 'YYYY-MM-DD HH:MM:SS' strings the PBX wrote (its local time, or UTC with CDRUSEGMT):
 * we never convert them, so a call's times compare with each other and with the
 * database's NOW() without guessing time zones.
 */
export interface CdrRow {
  calldate: string;
  clid: string;
  src: string;
  dst: string;
  dcontext: string;
  channel: string;
  dstchannel: string;
  lastapp: string;
  lastdata: string;
  duration: number;
  billsec: number;
  disposition: string;
  uniqueid: string;
  linkedid: string;
  sequence: number;
  did: string;
  cnum: string;
  cnam: string;
  outbound_cnum: string;
  /** VitalPBX stamps the tenant on each row; FreePBX has no such column. */
  tenant?: string;
}

export const CDR_COLUMNS = [
  'calldate', 'clid', 'src', 'dst', 'dcontext', 'channel', 'dstchannel', 'lastapp', 'lastdata',
  'duration', 'billsec', 'disposition', 'uniqueid', 'linkedid', 'sequence', 'did', 'cnum', 'cnam',
  'outbound_cnum',
] as const;

const NUMERIC = new Set(['duration', 'billsec', 'sequence']);
const DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

export class BadCdrRow extends Error {
  constructor(readonly reason: string) {
    super(`bad cdr row: ${reason}`);
  }
}

/**
 * Turns a loosely typed record (a DB row, a TSV line) into a CdrRow, or throws
 * BadCdrRow. Missing optional columns (older FreePBX without cnum, sequence…) degrade
 * to empty values; what a call cannot be grouped or timed without is refused.
 */
export function toCdrRow(raw: Record<string, unknown>): CdrRow {
  const text = (key: string): string => {
    const value = raw[key];
    if (value === null || value === undefined) return '';
    if (value instanceof Date) return formatNaive(value);
    return String(value);
  };
  const row: Record<string, unknown> = {};
  for (const column of CDR_COLUMNS) {
    if (NUMERIC.has(column)) {
      const n = Number(text(column) || 0);
      row[column] = Number.isFinite(n) ? Math.max(0, Math.trunc(n)) : 0;
    } else {
      row[column] = text(column);
    }
  }
  if (raw.tenant !== undefined && raw.tenant !== null && raw.tenant !== '') row.tenant = text('tenant');
  const cdr = row as unknown as CdrRow;
  if (!cdr.linkedid.trim()) {
    // Asterisk before 1.8 / misconfigured backends leave linkedid empty: fall back to
    // uniqueid so a lone call still counts, but only if that exists.
    if (!cdr.uniqueid.trim()) throw new BadCdrRow('empty linkedid and uniqueid');
    cdr.linkedid = cdr.uniqueid;
  }
  if (!DATETIME.test(cdr.calldate) || cdr.calldate.startsWith('0000')) {
    throw new BadCdrRow(`calldate '${cdr.calldate.slice(0, 32)}' is not a date`);
  }
  // A duration of years is a broken clock or a stuck channel; cap it at a day so it
  // cannot hold a call open for ever.
  cdr.duration = Math.min(cdr.duration, 86_400);
  cdr.billsec = Math.min(cdr.billsec, cdr.duration);
  return cdr;
}

/** Seconds since the epoch of a naive 'YYYY-MM-DD HH:MM:SS', read as if it were UTC. */
export function naiveSeconds(datetime: string): number {
  return Date.parse(datetime.replace(' ', 'T') + 'Z') / 1000;
}

export function naiveDatetime(seconds: number): string {
  return new Date(Math.round(seconds) * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

export function formatNaive(date: Date): string {
  return naiveDatetime(date.getTime() / 1000);
}

/** Code-unit order, for CDR values (timestamps, ids, channels): localeCompare costs a collation per pair. */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
