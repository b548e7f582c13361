/**
 * When a small business gets its calls: a morning peak, a lunch dip, an afternoon peak,
 * almost nothing at night, light weekends. Times are naive seconds (the PBX's wall clock).
 */
import type { PbxModel } from './pbx.js';
import type { Rng } from './random.js';

/** Relative call volume per hour of the day, 00–23. */
export const HOUR_WEIGHTS: readonly number[] = [
  0.1, 0.05, 0.03, 0.03, 0.03, 0.05, 0.15, 0.7, 4, 9, 10, 9.5, 7.5, 6, 8.5, 9, 8, 5, 1.2, 0.5, 0.35, 0.25, 0.15, 0.1,
];

/** Relative volume per weekday, Sunday first (Date.getUTCDay order). */
export const WEEKDAY_FACTORS: readonly number[] = [0.05, 1, 1, 0.97, 0.95, 0.85, 0.12];

export const SECONDS_PER_DAY = 86_400;

export function dayStart(date: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`'${date}' is not a YYYY-MM-DD date`);
  return Date.parse(`${date}T00:00:00Z`) / 1000;
}

export function weekdayOf(seconds: number): number {
  return new Date(seconds * 1000).getUTCDay();
}

/** Calls on one day for a business that gets `callsPerWeekday` on an ordinary weekday. */
export function callsOnDay(callsPerWeekday: number, day: number, rng: Rng): number {
  const expected = callsPerWeekday * WEEKDAY_FACTORS[weekdayOf(day)]!;
  // ±10 %: no two days alike, the average stays put.
  return Math.max(0, Math.round(expected * (0.9 + rng.next() * 0.2)));
}

const HOUR_TOTAL = HOUR_WEIGHTS.reduce((a, b) => a + b, 0);

/** A moment of the day drawn with the hour-of-day weights. */
export function randomTimeOfDay(day: number, rng: Rng): number {
  let roll = rng.next() * HOUR_TOTAL;
  let hour = 0;
  while (hour < 23 && roll >= HOUR_WEIGHTS[hour]!) roll -= HOUR_WEIGHTS[hour++]!;
  return day + hour * 3600 + rng.int(0, 3599);
}

export function isBusinessTime(model: PbxModel, seconds: number): boolean {
  const { open, close, weekdays } = model.businessHours;
  const hour = Math.floor((seconds % SECONDS_PER_DAY) / 3600);
  return weekdays.includes(weekdayOf(seconds)) && hour >= open && hour < close;
}
