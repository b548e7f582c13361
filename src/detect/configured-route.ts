import { routePaths, type PbxRoutes } from '../cdr/pbx-routes.js';
import type { RoutePath, RouteStep } from './verdict.js';
import { naiveSeconds, type CdrRow } from '../cdr/row.js';
import type { Route, RouteKind } from './verdict.js';

/** What the configuration adds to a call whose rows name where the caller was sent, not where they waited. */
export interface ConfiguredPlace {
  /** The ways through the configuration that lead to what the rows show. */
  paths: RoutePath[];
  /** Where the caller waited before being sent on, when every such way agrees; null when they disagree or none waited. */
  route: Route | null;
  /** Seconds spent there before being sent on, when the rows and the configuration tell; null when they cannot. */
  waitSeconds: number | null;
}

const WAITING: ReadonlySet<RouteStep['kind']> = new Set(['queue', 'ringgroup', 'ivr', 'extension']);

/**
 * Matches the configured ways of a call's DID (routePaths) against the caller's own rows (`rootRows`: the
 * rows of the caller's channel). Only a way whose deepest step the rows show lies *beyond* the
 * place the caller waited — a failover, an IVR's timeout, a time condition's branch — adds
 * anything: then the rows name the voicemail box or hang-up the caller was sent to, and the
 * configuration names the queue, ring group or IVR they were in. A time condition's branch in
 * effect is not recorded: when both branches lead to what the rows show, both are named and
 * the route is left as the rows say.
 */
export function placeByConfiguration(routes: PbxRoutes, did: string, caller: string, rootRows: readonly CdrRow[], callStart: number): ConfiguredPlace | null {
  const paths = did ? routePaths(routes, did, caller) : [];
  const found: { path: RoutePath; place: RouteStep | null; wait: number | null }[] = [];
  for (const path of paths) {
    let deepest = -1;
    let shownBy: CdrRow | undefined;
    path.steps.forEach((step, i) => {
      const row = rootRows.find((r) => rowShows(r, step));
      if (row && i > deepest) [deepest, shownBy] = [i, row];
    });
    if (deepest < 1 || !shownBy) continue;
    const placeIndex = placeOn(path.steps, deepest);
    if (placeIndex === deepest) continue; // the rows already show where the caller waited
    const place = placeIndex >= 0 ? path.steps[placeIndex]! : null;
    found.push({ path, place, wait: place ? waitBeforeSentOn(routes, place, path.steps[deepest]!, shownBy, callStart) : null });
  }
  if (found.length === 0) return null;
  const first = found[0]!.place;
  const agree = found.every((f) => (f.place === null && first === null) || (f.place !== null && first !== null && f.place.kind === first.kind && f.place.id === first.id));
  return {
    paths: found.map((f) => f.path),
    route: agree && first ? { kind: first.kind as RouteKind, id: first.id, label: '' } : null,
    waitSeconds: agree ? found[0]!.wait : null,
  };
}

/**
 * The place on a way up to `upTo` where the caller waited, read the way routeOf reads rows: the
 * first queue, ring group or extension, else the first IVR; -1 when there is none (a time
 * condition sent the caller straight to voicemail).
 */
function placeOn(steps: RouteStep[], upTo: number): number {
  let ivr = -1;
  for (let i = 1; i <= upTo; i++) {
    const kind = steps[i]!.kind;
    if (kind === 'ivr') ivr = ivr < 0 ? i : ivr;
    else if (WAITING.has(kind)) return i;
  }
  return ivr;
}

/**
 * How long the caller was in `place` before the PBX sent them to `sentTo`: until the row that
 * shows `sentTo` began, when it is a row of its own (the queue's agents rang first); when it is
 * the caller's only row, a hang-up's row lasts exactly the wait, and a queue that lets its
 * callers go only at maxwait kept them that long (a caller's row covers the voicemail too).
 */
function waitBeforeSentOn(routes: PbxRoutes, place: RouteStep, sentTo: RouteStep, row: CdrRow, callStart: number): number | null {
  const startedAfter = naiveSeconds(row.calldate) - callStart;
  if (startedAfter > 0) return startedAfter;
  if (sentTo.kind === 'hangup') return row.duration;
  const queue = place.kind === 'queue' ? routes.queues.get(place.id) : undefined;
  return queue?.leavesOnlyAtMaxWait ? Math.min(queue.maxWaitSeconds, row.duration) : null;
}

/** Whether a CDR row of the caller's channel shows the call at this step (a time condition or the DID never does). */
function rowShows(row: CdrRow, step: RouteStep): boolean {
  const app = row.lastapp.toLowerCase();
  const voicemail = app === 'voicemail' || /^vm[ubsi]\d+$/i.test(row.dst);
  switch (step.kind) {
    case 'queue':
      return row.dcontext === 'ext-queues' && row.dst === step.id;
    case 'ringgroup':
      return row.dcontext === 'ext-group' && row.dst === step.id;
    case 'ivr':
      return row.dcontext === `ivr-${step.id}`;
    case 'extension':
      return !voicemail && /^(from-did-direct|ext-local|from-internal|ext-findmefollow|followme-check)$/.test(row.dcontext) && row.dst.replace(/^FM/i, '') === step.id;
    case 'voicemail':
      return voicemail && (row.lastdata.split('@')[0]!.replace(/^[^\d]*/, '') === step.id || row.dst.replace(/^vm[ubsi]/i, '') === step.id);
    case 'hangup':
      return row.dcontext === 'app-blackhole';
    default:
      return false;
  }
}

/**
 * The configured ways through `route` and on beyond it, for a stored call the page explains
 * again without its rows: those ending where the call ended (the voicemail box it reached, else
 * a hang-up) when there are such, else all of them. Every way, when the call kept its inbound
 * route (the ways disagreed).
 */
export function pathsThrough(paths: RoutePath[], route: Pick<Route, 'kind' | 'id'>, voicemailBox: string | null): RoutePath[] {
  const through = route.kind === 'route'
    ? paths
    : paths.filter((p) => {
      const i = p.steps.findIndex((s) => s.kind === route.kind && s.id === route.id);
      return i >= 1 && i < p.steps.length - 1;
    });
  const last = (p: RoutePath) => p.steps[p.steps.length - 1]!;
  const ended = through.filter((p) => (voicemailBox ? last(p).kind === 'voicemail' && last(p).id === voicemailBox : last(p).kind === 'hangup'));
  return ended.length ? ended : through;
}
