/**
 * Callback targets, pure: when an open entry is due to have been called back, counting only
 * the tenant's business hours (a weekly schedule in the tenant's time zone; outside it the
 * clock stops). No I/O: the escalator (src/notify/escalation.ts), the list and the dashboard
 * all ask these functions, so they agree on which entry is past its target.
 *
 * The clock starts at the entry's first missed attempt of its episode (first_attempt: a
 * reopen starts a new episode): a caller who tried at 9:00 and again at 9:10 has waited
 * since 9:00.
 */
import { createHash } from 'node:crypto';

/** Monday = 0 … Sunday = 6, as the dashboard's heatmap (MariaDB's WEEKDAY). */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** Per weekday (Monday first), the open windows in minutes since local midnight, sorted, not overlapping. */
export type WeeklyHours = [number, number][][];

/** What a target needs of the tenant's settings (TenantSettings has all of it). */
export interface TargetSettings {
  /** Minutes; 0: no target. */
  callbackTargetMinutes: number;
  /** A route ("queue:400", "route:0215550000", …) whose target differs; 0 minutes: none for that route. */
  callbackTargetRoutes: { route: string; minutes: number }[];
  /** '' counts every hour of the week; else e.g. "mon-fri 09:00-17:00; sat 10:00-13:00". */
  businessHours: string;
  timezone: string;
}

/** Why a business-hours text is refused: a gettext msgid with its parameters (ConfigError takes them). */
export class HoursError extends Error {
  constructor(readonly template: string, readonly params: Record<string, string | number> = {}) {
    super(template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in params ? String(params[key]) : whole)));
  }
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

function minutesOf(text: string): number | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min !== 0)) return null;
  return h * 60 + min;
}

function daysOf(spec: string): number[] | null {
  const days = new Set<number>();
  for (const part of spec.split(',')) {
    const [from, to = from] = part.split('-');
    const a = WEEKDAYS.indexOf(from as (typeof WEEKDAYS)[number]);
    const b = WEEKDAYS.indexOf(to as (typeof WEEKDAYS)[number]);
    if (a < 0 || b < 0) return null;
    // mon-fri, or fri-mon across the weekend
    for (let d = a; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === b) break;
    }
  }
  return [...days];
}

/**
 * Parses "mon-fri 09:00-17:00; sat 10:00-13:00" (items separated by ';' or new lines; days
 * as mon…sun, ranges and lists: "mon,wed", "fri-mon"; several windows per item: "mon-fri
 * 08:00-12:00 13:00-17:00"; 24:00 ends a day). A window never crosses midnight: a night
 * shift is "mon 22:00-24:00; tue 00:00-06:00". '' is every hour of the week.
 */
export function parseBusinessHours(text: string): WeeklyHours | null {
  const items = text.toLowerCase().split(/[;\n]+/).map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) return null;
  const week: [number, number][][] = WEEKDAYS.map(() => []);
  for (const item of items) {
    const [spec, ...windows] = item.split(/[\s,]+(?=\d)|\s+/).filter(Boolean);
    const days = spec === undefined ? null : daysOf(spec);
    if (!days) throw new HoursError("'{value}' does not start with days such as mon-fri", { value: item });
    if (windows.length === 0) throw new HoursError("'{value}' has no hours such as 09:00-17:00", { value: item });
    for (const w of windows) {
      const [a, b] = w.split('-');
      const from = minutesOf(a ?? '');
      const to = minutesOf(b ?? '');
      if (from === null || to === null) throw new HoursError("'{value}' is not hours such as 09:00-17:00", { value: w });
      if (from >= to) throw new HoursError("'{value}' ends before it starts (a night shift is two items: mon 22:00-24:00; tue 00:00-06:00)", { value: w });
      for (const d of days) week[d]!.push([from, to]);
    }
  }
  return week.map(merged);
}

function merged(windows: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (const w of [...windows].sort((x, y) => x[0] - y[0])) {
    const last = out[out.length - 1];
    if (last && w[0] <= last[1]) last[1] = Math.max(last[1], w[1]);
    else out.push([w[0], w[1]]);
  }
  return out;
}

/** The canonical text of a schedule: one item per day with its windows, as the settings keep it. */
export function businessHoursText(week: WeeklyHours | null): string {
  if (!week) return '';
  const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const items: string[] = [];
  // Consecutive days with the same windows become one range: mon-fri 09:00-17:00.
  for (let d = 0; d < 7; ) {
    const key = JSON.stringify(week[d]);
    let e = d;
    while (e + 1 < 7 && JSON.stringify(week[e + 1]) === key) e += 1;
    if (week[d]!.length) items.push(`${WEEKDAYS[d]}${e > d ? '-' + WEEKDAYS[e] : ''} ${week[d]!.map(([a, b]) => `${hhmm(a)}-${hhmm(b)}`).join(' ')}`);
    d = e + 1;
  }
  return items.join('; ');
}

/** The target in minutes for an entry on `route` ("kind:id"); 0 when it has none. */
export function targetMinutesFor(settings: TargetSettings, route: string): number {
  const override = settings.callbackTargetRoutes.find((r) => r.route === route);
  return override ? override.minutes : settings.callbackTargetMinutes;
}

/** An entry as its target sees it (Entry has all of it). */
export interface TargetEntry {
  anonymous: boolean;
  routeKind: string;
  routeId: string;
  /** Naive, on the ledger's clock: the episode's first missed attempt. */
  firstAttempt: string;
}

/** The target in minutes of an entry: its route's or the tenant's; none for a withheld number (nobody can call it back). */
export function entryTargetMinutes(settings: TargetSettings, e: Pick<TargetEntry, 'anonymous' | 'routeKind' | 'routeId'>): number {
  return e.anonymous ? 0 : targetMinutesFor(settings, `${e.routeKind}:${e.routeId}`);
}

/** Whether any entry of the tenant can have a target. */
export function hasTargets(settings: TargetSettings): boolean {
  return settings.callbackTargetMinutes > 0 || settings.callbackTargetRoutes.some((r) => r.minutes > 0);
}

// ---------------------------------------------------------------------------------------
// Time zones, fast: a zone's offset is looked up once per hour of time and kept, so the
// dashboard can place tens of thousands of entries without as many Intl calls (5 µs each).

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Per zone, its offset by hour since the epoch. */
const offsets = new Map<string, Map<number, number>>();

function exactOffsetMs(instantMs: number, zone: string): number {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    formatters.set(zone, format);
  }
  const whole = Math.floor(instantMs / 1000) * 1000;
  const p = Object.fromEntries(format.formatToParts(new Date(whole)).map((x) => [x.type, x.value]));
  return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second)) - whole;
}

/** The zone's offset from UTC at an instant, in ms. */
export function zoneOffsetMs(instantMs: number, zone: string): number {
  const hour = Math.floor(instantMs / 3_600_000);
  let hours = offsets.get(zone);
  if (!hours) offsets.set(zone, (hours = new Map()));
  const known = hours.get(hour);
  if (known !== undefined) return known;
  const atStart = exactOffsetMs(hour * 3_600_000, zone);
  const atEnd = exactOffsetMs(hour * 3_600_000 + 3_599_999, zone);
  // A change inside this hour (zones that shift at :30): exact for this instant, not kept.
  if (atStart !== atEnd) return exactOffsetMs(instantMs, zone);
  if (hours.size > 200_000) hours.clear();
  hours.set(hour, atStart);
  return atStart;
}

/**
 * The instant of a naive wall-clock time of `zone`, as ms since the epoch. The offset is
 * looked up at a first guess and again at the result, so a time on the other side of a DST
 * change takes that side's offset (the hour a change skips or repeats gets one of its two).
 */
export function instantOfLocal(localMs: number, zone: string): number {
  const guess = localMs - zoneOffsetMs(localMs, zone);
  return localMs - zoneOffsetMs(guess, zone);
}

/**
 * A naive 'YYYY-MM-DD HH:MM:SS' as ms of a zone-less (UTC-read) clock. Read digit by digit:
 * the dashboard places every entry of a year with it, where Date.parse of a rebuilt string
 * cost a third of the time.
 */
export function naiveMs(naive: string): number {
  const n = (from: number, length: number) => {
    let v = 0;
    for (let i = from; i < from + length; i++) v = v * 10 + naive.charCodeAt(i) - 48;
    return v;
  };
  if (naive.length < 19) return Date.parse(naive.replace(' ', 'T') + 'Z');
  return Date.UTC(n(0, 4), n(5, 2) - 1, n(8, 2), n(11, 2), n(14, 2), n(17, 2));
}

/** An instant as the naive wall clock of `zone` writes it ('YYYY-MM-DD HH:MM:SS'). */
export function naiveOf(instantMs: number, zone: string): string {
  return new Date(instantMs + zoneOffsetMs(instantMs, zone)).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * What a stored due time was computed under (smart_missed_calls.target_key): the targets,
 * the business hours and both zones, as a number that is never 0 (0: not computed). A
 * change of any of them makes every stored due time stale at once.
 */
export function targetKey(settings: TargetSettings, ledgerZone: string): number {
  const routes = [...settings.callbackTargetRoutes].sort((a, b) => (a.route < b.route ? -1 : a.route > b.route ? 1 : 0));
  const text = JSON.stringify([settings.callbackTargetMinutes, routes.map((r) => [r.route, r.minutes]), settings.businessHours, settings.timezone, ledgerZone]);
  return createHash('sha256').update(text).digest().readUInt32BE(0) || 1;
}

// ---------------------------------------------------------------------------------------

/**
 * Business time, for one tenant: the open windows of each local day as instants, kept per
 * day so placing many entries costs a few arithmetic steps each.
 */
export class BusinessClock {
  private readonly week: WeeklyHours | null;
  private readonly days = new Map<number, [number, number][]>();

  constructor(private readonly settings: TargetSettings) {
    this.week = parseBusinessHours(settings.businessHours);
  }

  /** The open windows (instants) of the local day that starts at local ms `dayStart`. */
  private windowsOf(dayStart: number): [number, number][] {
    let w = this.days.get(dayStart);
    if (!w) {
      const weekday = (new Date(dayStart).getUTCDay() + 6) % 7;
      w = this.week![weekday]!.map(([a, b]) => [
        instantOfLocal(dayStart + a * MINUTE_MS, this.settings.timezone),
        instantOfLocal(dayStart + b * MINUTE_MS, this.settings.timezone),
      ]);
      if (this.days.size > 10_000) this.days.clear();
      this.days.set(dayStart, w);
    }
    return w;
  }

  /** When `minutes` of business time have passed since `fromMs` (an instant). */
  addBusinessMinutes(fromMs: number, minutes: number): number {
    let left = minutes * MINUTE_MS;
    if (!this.week) return fromMs + left;
    const local = fromMs + zoneOffsetMs(fromMs, this.settings.timezone);
    // From the day before (a window of that local day may still be open at a DST edge), on.
    let dayStart = Math.floor(local / DAY_MS) * DAY_MS - DAY_MS;
    // A schedule has open time every week (parse refuses an empty one), so this ends.
    for (;;) {
      for (const [start, end] of this.windowsOf(dayStart)) {
        const from = Math.max(start, fromMs);
        if (from >= end) continue;
        if (end - from >= left) return from + left;
        left -= end - from;
      }
      dayStart += DAY_MS;
    }
  }

  /** The due instant of an entry missed first at `missedAtMs` on `route`, or null when it has no target. */
  dueAt(missedAtMs: number, route: string): number | null {
    const minutes = targetMinutesFor(this.settings, route);
    return minutes > 0 ? this.addBusinessMinutes(missedAtMs, minutes) : null;
  }

  /**
   * How long an open entry has been past its target at `nowNaive` (both naive times of the
   * ledger's `zone`), in ms; null when it has no target or is not past it yet.
   */
  lateBy(e: TargetEntry, nowNaive: string, zone: string): number | null {
    const minutes = entryTargetMinutes(this.settings, e);
    if (minutes === 0) return null;
    const late = instantOfLocal(naiveMs(nowNaive), zone) - this.addBusinessMinutes(instantOfLocal(naiveMs(e.firstAttempt), zone), minutes);
    return late >= 0 ? late : null;
  }
}

/**
 * When an entry first missed at `missedAt` is due to be called back: its target (the
 * route's, else the tenant's) counted in business hours. Null: no target applies.
 */
export function targetDueAt(missedAt: Date, settings: TargetSettings, route = ''): Date | null {
  const due = new BusinessClock(settings).dueAt(missedAt.getTime(), route);
  return due === null ? null : new Date(due);
}

/** The multiples of its target (of `thresholds`) an entry first missed at `missedAtMs` has passed by `nowMs`. */
export function thresholdsReached(missedAtMs: number, nowMs: number, minutes: number, thresholds: number[], clock: BusinessClock): number[] {
  if (minutes <= 0) return [];
  return thresholds.filter((multiple) => clock.addBusinessMinutes(missedAtMs, minutes * multiple) <= nowMs);
}

/**
 * How an entry did against its target, for the "called back within target" share:
 *  - within: the team cleared it (called back, or resolved by hand) by its due time;
 *  - late: cleared after it, expired, or still open past it;
 *  - not counted: no target, not yet due, no longer a miss (reclassified), or the caller got
 *    through on a later call before the team's time was up.
 * Times are instants (ms); `clearedAtMs` null while open.
 */
export function targetOutcome(
  e: { status: string; clearedBy: string | null; clearedAtMs: number | null },
  dueMs: number | null,
  nowMs: number,
): 'within' | 'late' | null {
  if (dueMs === null || e.clearedBy === 'reclassified') return null;
  if (e.status === 'open' || e.clearedAtMs === null) return nowMs >= dueMs ? 'late' : null;
  if (e.clearedBy === 'expired') return 'late';
  const inTime = e.clearedAtMs <= dueMs;
  if (e.clearedBy === 'answered_later') return inTime ? null : 'late';
  return inTime ? 'within' : 'late';
}
