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

const DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

export class BadCdrRow extends Error {
  constructor(readonly reason: string) {
    super(`bad cdr row: ${reason}`);
  }
}

/**
 * Turns a loosely typed record (a DB row, a TSV line) into a CdrRow, or throws
 * BadCdrRow. Missing optional columns (older FreePBX without cnum, sequence…) degrade
 * to empty values; what a call cannot be grouped or timed without is refused. Runs on
 * every row a backfill reads (1 M of them), so each field is read by name, in one literal.
 */
export function toCdrRow(raw: Record<string, unknown>): CdrRow {
  const cdr: CdrRow = {
    calldate: text(raw.calldate), clid: text(raw.clid), src: text(raw.src), dst: text(raw.dst), dcontext: text(raw.dcontext),
    channel: text(raw.channel), dstchannel: text(raw.dstchannel), lastapp: text(raw.lastapp), lastdata: text(raw.lastdata),
    duration: count(raw.duration), billsec: count(raw.billsec), disposition: text(raw.disposition), uniqueid: text(raw.uniqueid),
    linkedid: text(raw.linkedid), sequence: count(raw.sequence), did: text(raw.did), cnum: text(raw.cnum), cnam: text(raw.cnam),
    outbound_cnum: text(raw.outbound_cnum),
  };
  if (raw.tenant !== undefined && raw.tenant !== null && raw.tenant !== '') cdr.tenant = text(raw.tenant);
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

function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return formatNaive(value);
  return String(value);
}

/** A whole number of seconds (or a sequence), never negative; what is not a number is 0. */
function count(value: unknown): number {
  const n = Number(text(value) || 0);
  return Number.isFinite(n) ? Math.max(0, Math.trunc(n)) : 0;
}

/**
 * Seconds since the epoch of a naive 'YYYY-MM-DD HH:MM:SS', read as if it were UTC. A
 * backfill reads every row's time a few times over (1 M rows: 0.4 s in Date.parse), so the
 * usual shape is read digit by digit; anything else (fractions, odd values) goes to Date.parse.
 */
export function naiveSeconds(datetime: string): number {
  if (datetime.length === 19 && datetime.charCodeAt(4) === 45 && datetime.charCodeAt(7) === 45 && datetime.charCodeAt(10) === 32 && datetime.charCodeAt(13) === 58 && datetime.charCodeAt(16) === 58) {
    const year = digits(datetime, 0, 4);
    const month = digits(datetime, 5, 2);
    const day = digits(datetime, 8, 2);
    const hour = digits(datetime, 11, 2);
    const minute = digits(datetime, 14, 2);
    const second = digits(datetime, 17, 2);
    if (year >= 1000 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) && hour <= 23 && minute <= 59 && second <= 59) {
      return daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    }
  }
  return Date.parse(datetime.replace(' ', 'T') + 'Z') / 1000;
}

/** 'YYYY-MM-DD HH:MM:SS' of seconds since the epoch (rounded), as UTC; years 1000–9999 by arithmetic, like naiveSeconds. */
export function naiveDatetime(seconds: number): string {
  const whole = Math.round(seconds);
  const days = Math.floor(whole / 86_400);
  // 1000-01-01 and 9999-12-31 as days since the epoch.
  if (!(days >= -354_285 && days <= 2_932_896)) return new Date(whole * 1000).toISOString().slice(0, 19).replace('T', ' ');
  const inDay = whole - days * 86_400;
  const { year, month, day } = civilFromDays(days);
  return `${year}-${two(month)}-${two(day)} ${two(Math.floor(inDay / 3600))}:${two(Math.floor(inDay / 60) % 60)}:${two(inDay % 60)}`;
}

/** The number written at text[from, from + count), or -1 when a character is not a digit. */
function digits(text: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

// Days since 1970-01-01 of a proleptic Gregorian date and back (the eras of 400 years
// algorithm, public domain, Howard Hinnant's chrono-compatible date algorithms).
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function formatNaive(date: Date): string {
  return naiveDatetime(date.getTime() / 1000);
}

/** Code-unit order, for CDR values (timestamps, ids, channels): localeCompare costs a collation per pair. */
export function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
