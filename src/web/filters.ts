import type { Request } from 'express';

/** Date range and route/DID filters shared by the dashboard and the list, from the query string. */
export interface RangeFilter {
  /** Inclusive days, YYYY-MM-DD, on the PBX's clock. */
  from: string;
  to: string;
  /** "queue:400", "ringgroup:600", … or '' for every route. */
  route: string;
  did: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/**
 * Days outside these years are no date a PBX has calls on: refused, like a day that is not
 * on the calendar (2026-02-30), so every day the filters hand on has a four-digit year.
 */
const FIRST_YEAR = 2000;
const LAST_YEAR = 2099;
/** The dashboard's longest range: a whole year, a leap day and a few weeks to spare. */
export const MAX_RANGE_DAYS = 400;

export function str(req: Request, name: string, max = 80): string {
  const v = req.query[name];
  return typeof v === 'string' ? v.slice(0, max).trim() : '';
}

/** A whole number written in plain decimal digits, one spelling each (not 0x10, 1e1, 016, +16, -1 or 16.0), else null. */
export function decimal(value: string): number | null {
  if (!/^(0|[1-9]\d{0,15})$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

export function day(value: string): string | null {
  if (!DAY.test(value)) return null;
  const year = Number(value.slice(0, 4));
  if (year < FIRST_YEAR || year > LAST_YEAR) return null;
  const d = new Date(value + 'T00:00:00Z');
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value ? null : value;
}

export function addDays(dayText: string, n: number): string {
  const d = new Date(dayText + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Days from `from` to `to`, both YYYY-MM-DD: 0 for the same day. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(to + 'T00:00:00Z') - Date.parse(from + 'T00:00:00Z')) / 86_400_000);
}

/**
 * The dashboard's range. Default: the 30 days up to today (today on the PBX's clock, from
 * the database). A range longer than MAX_RANGE_DAYS keeps its end and is `shortened` to
 * that many days, which the page says.
 */
export function rangeFilter(req: Request, today: string, defaultDays = 30): { range: RangeFilter; shortened: boolean } {
  let to = day(str(req, 'to')) ?? today;
  let from = day(str(req, 'from')) ?? addDays(to, -(defaultDays - 1));
  if (from > to) [from, to] = [to, from];
  const shortened = daysBetween(from, to) >= MAX_RANGE_DAYS;
  if (shortened) from = addDays(to, -(MAX_RANGE_DAYS - 1));
  return { range: { from, to, ...routeAndDid(req) }, shortened };
}

function routeAndDid(req: Request): { route: string; did: string } {
  const route = /^(queue|ringgroup|ivr|extension|route):[\w.+*#-]{0,64}$/.test(str(req, 'route')) ? str(req, 'route') : '';
  const did = /^[\w+*#.-]{1,50}$/.test(str(req, 'did')) ? str(req, 'did') : '';
  return { route, did };
}

/** SQL conditions for the route/DID filters on a table with did, route_kind, route_id columns. */
export function routeConditions(f: RangeFilter, alias = ''): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (f.did) {
    parts.push(`${alias}did = ?`);
    params.push(f.did);
  }
  if (f.route) {
    const [kind, id] = f.route.split(':');
    parts.push(`${alias}route_kind = ? AND ${alias}route_id = ?`);
    params.push(kind, id ?? '');
  }
  return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
}

/** The list's filters: status, optional date range on the last attempt, route, DID, extension, text. */
export interface ListFilter {
  status: 'open' | 'cleared' | 'all';
  /** '' = no bound. */
  from: string;
  to: string;
  route: string;
  did: string;
  ext: string;
  q: string;
  sort: 'last' | 'first' | 'count' | 'caller';
  dir: 'asc' | 'desc';
  page: number;
}

export function listFilter(req: Request): ListFilter {
  const status = str(req, 'status');
  const sort = str(req, 'sort');
  return {
    status: status === 'cleared' || status === 'all' ? status : 'open',
    from: day(str(req, 'from')) ?? '',
    to: day(str(req, 'to')) ?? '',
    ...routeAndDid(req),
    ext: /^\d{1,20}$/.test(str(req, 'ext')) ? str(req, 'ext') : '',
    q: str(req, 'q', 64),
    sort: sort === 'first' || sort === 'count' || sort === 'caller' ? sort : 'last',
    dir: str(req, 'dir') === 'asc' ? 'asc' : 'desc',
    page: Math.min(100_000, Math.max(1, decimal(str(req, 'page')) ?? 1)),
  };
}
