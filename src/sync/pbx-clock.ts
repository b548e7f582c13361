import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { naiveDatetime } from '../cdr/row.js';

/**
 * How a PBX's local times map onto the group's one time base: `calldate` is the PBX's wall
 * clock in its zone, and PBXs of a group may sit in different zones with clocks that drift.
 * The time base is the ledger cluster's clock; `skewMs` is how far the PBX's clock (the
 * CDR server's, which stamps calldate) runs ahead of it, measured at each sync cycle.
 */
export interface PbxClock {
  /** IANA zone of calldate (config `timezone`; the service's own zone by default). */
  zone: string;
  /** PBX clock minus ledger clock, in ms (negative: the PBX is behind). */
  skewMs: number;
}

/** The zone this process runs in: on a PBX, the PBX's own. */
export function processZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** One formatter per zone: every recorded call is converted, and making a formatter costs far more than using one. */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall clock of `zone` at an instant, as ms of a naive (zone-less) time, whole seconds. */
function wallClockMs(instantMs: number, zone: string): number {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(instantMs)).map((p) => [p.type, p.value]));
  return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
}

/** The zone's offset from UTC at an instant, in ms (zone offsets are whole seconds). */
function offsetMs(instantMs: number, zone: string): number {
  const whole = Math.floor(instantMs / 1000) * 1000;
  return wallClockMs(whole, zone) - whole;
}

/**
 * The instant (ms since the epoch, on the ledger's clock) of a naive local time of the PBX.
 * The offset is looked up twice, at the naive guess and again at the result, so a time on
 * the other side of a DST change from the guess takes that side's offset.
 */
export function instantOf(local: string, clock: PbxClock): number {
  const naive = Date.parse(local.replace(' ', 'T') + 'Z');
  const first = naive - offsetMs(naive, clock.zone);
  return naive - offsetMs(first, clock.zone) - clock.skewMs;
}

/** An instant of the ledger's clock as the PBX's wall clock shows it (naive, seconds). */
export function localOf(instantMs: number, clock: PbxClock): string {
  return naiveDatetime(wallClockMs(instantMs + clock.skewMs, clock.zone) / 1000);
}

/** An instant as a DATETIME(3) in UTC, the way `started_utc` stores it. */
export function utcDatetime(instantMs: number): string {
  return new Date(instantMs).toISOString().slice(0, 23).replace('T', ' ');
}

type Queryable = Pick<Pool | PoolConnection, 'query'>;

async function epochMs(db: Queryable): Promise<number> {
  const [[row]] = (await db.query<RowDataPacket[]>('SELECT UNIX_TIMESTAMP(NOW(6)) AS t')) as unknown as [[{ t: string }]];
  return Number(row.t) * 1000;
}

/**
 * The CDR server's clock minus the ledger's, in ms: the CDR's clock read between two reads
 * of the ledger's, against their midpoint, so the round trips cancel out.
 */
export async function measureSkewMs(cdr: Queryable, ledger: Queryable): Promise<number> {
  const before = await epochMs(ledger);
  const pbx = await epochMs(cdr);
  const after = await epochMs(ledger);
  return Math.round(pbx - (before + after) / 2);
}
