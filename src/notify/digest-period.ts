import type { Cadence } from '../config/schema.js';
import { naiveDatetime } from '../cdr/row.js';

export type DigestCadence = Exclude<Cadence, 'off' | 'realtime'>;
export const DIGEST_CADENCES: DigestCadence[] = ['hourly', 'daily', 'weekly', 'monthly'];

/** A digest's period, as naive wall-clock times of the tenant's zone (the PBX's clock): [start, end). */
export interface DigestPeriod {
  cadence: DigestCadence;
  start: string;
  end: string;
  /** Start of the period before, for "miss rate vs previous period". */
  previousStart: string;
}

/** Daily, weekly and monthly digests go out at this local hour, for the period that just ended. */
export const DIGEST_HOUR = 8;

const HOUR = 3600;
const DAY = 86_400;

/** The wall clock of `zone` at `at`, as seconds of a naive (zone-less) time. */
export function wallClockSeconds(at: Date, zone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    })
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second)) / 1000;
}

function monthStart(seconds: number, monthsBack: number): number {
  const d = new Date(seconds * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - monthsBack, 1) / 1000;
}

/**
 * The latest period whose digest is due at `now` in `zone`: the previous hour (due on the
 * hour), the previous day (due at 08:00), the previous ISO week (Monday 08:00), the
 * previous month (the 1st, 08:00). Asking again before the next one is due gives the same
 * period, which is what makes "one digest per period" checkable.
 */
export function latestDuePeriod(cadence: DigestCadence, zone: string, now: Date): DigestPeriod {
  const local = wallClockSeconds(now, zone);
  const dayStart = local - (local % DAY);
  const beforeSendHour = local - dayStart < DIGEST_HOUR * HOUR;
  let start: number;
  let end: number;
  let previousStart: number;
  if (cadence === 'hourly') {
    end = local - (local % HOUR);
    start = end - HOUR;
    previousStart = start - HOUR;
  } else if (cadence === 'daily') {
    end = beforeSendHour ? dayStart - DAY : dayStart;
    start = end - DAY;
    previousStart = start - DAY;
  } else if (cadence === 'weekly') {
    const weekday = (new Date(dayStart * 1000).getUTCDay() + 6) % 7;
    let monday = dayStart - weekday * DAY;
    if (weekday === 0 && beforeSendHour) monday -= 7 * DAY;
    end = monday;
    start = end - 7 * DAY;
    previousStart = start - 7 * DAY;
  } else {
    const thisMonth = monthStart(dayStart, 0);
    end = dayStart === thisMonth && beforeSendHour ? monthStart(dayStart, 1) : thisMonth;
    start = monthStart(end, 1);
    previousStart = monthStart(end, 2);
  }
  return { cadence, start: naiveDatetime(start), end: naiveDatetime(end), previousStart: naiveDatetime(previousStart) };
}
