import type { RouteKind, RoutePath, RouteStep, Verdict } from './verdict.js';

export interface RouteLabels {
  queue?: Record<string, string>;
  ringgroup?: Record<string, string>;
  ivr?: Record<string, string>;
  extension?: Record<string, string>;
  /** Inbound route descriptions by DID. */
  route?: Record<string, string>;
}

export type TextParams = Record<string, string | number>;

/**
 * gettext-style: the English text is the message id; {name} placeholders are filled after
 * translation. `plural` picks the form of a counted phrase for n by the language's rule
 * (English has two forms, Romanian three: "1 zi", "3 zile", "20 de zile"); `{n}` is n
 * unless the params give it already formatted.
 */
export interface Translate {
  (text: string, params?: TextParams): string;
  plural(one: string, other: string, n: number, params?: TextParams): string;
}

/** Fills {name} placeholders; an unknown one is left as written. */
export function fillPlaceholders(text: string, params: TextParams): string {
  const parts = templateParts(text);
  if (parts.length === 1) return text;
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    // Odd parts are placeholder names.
    out += i % 2 === 0 ? part : part in params ? String(params[part]) : `{${part}}`;
  }
  return out;
}

/** A template cut at its {placeholders} once: every classified call explains itself in a few of them. */
const templates = new Map<string, string[]>();

function templateParts(text: string): string[] {
  let parts = templates.get(text);
  if (!parts) {
    parts = text.split(/\{(\w+)\}/);
    // The templates are the catalogue's messages, a few hundred; a caller's text never comes here.
    if (templates.size < 1000) templates.set(text, parts);
  }
  return parts;
}

export const english: Translate = Object.assign((text: string, params: TextParams = {}) => fillPlaceholders(text, params), {
  plural: (one: string, other: string, n: number, params: TextParams = {}) => fillPlaceholders(n === 1 ? one : other, { n, ...params }),
});

/**
 * The human lines beside a verdict ("rang 101, 102, 103 for 18 s; nobody answered").
 * Built from the verdict's data, so the page can render them again in the reader's language.
 */
export function explain(v: Verdict, t: Translate = english): string[] {
  const lines: string[] = [];
  const where = v.route.label || v.route.id;
  switch (v.direction) {
    case 'internal':
      if (v.reasons.includes('pbx_application')) {
        return [
          t('Started by the PBX itself ({application}), not by a caller from outside: not an inbound call.', { application: v.dialled || '?' }),
          t('Internal calls are never missed calls.'),
        ];
      }
      return [t('Internal call from {ext}; internal calls are never missed calls.', { ext: v.caller })];
    case 'other':
      return [
        t('Neither placed by an extension nor come in from outside ({application}): counted as other, never as an inbound call.', { application: v.dialled || '?' }),
      ];
    case 'outbound':
      return [
        v.answeredBy
          ? t('Extension {ext} called {number} and was answered.', { ext: v.caller, number: v.dialled })
          : t('Extension {ext} called {number}; nobody answered.', { ext: v.caller, number: v.dialled }),
      ];
    default:
      break;
  }
  lines.push(
    v.did
      ? t('Call from {caller} to {did}, routed to {where}.', { caller: v.anonymous ? t('a withheld number') : v.caller, did: v.did, where })
      : t('Call from {caller}, routed to {where}.', { caller: v.anonymous ? t('a withheld number') : v.caller, where }),
  );
  if (v.reasons.includes('cel_only')) lines.push(t('FreePBX wrote no CDR row for this call: this verdict comes from its CEL events.'));
  if (v.reasons.includes('route_from_cel')) lines.push(t('The CDR rows do not show {where}; the CEL events do.', { where }));
  if (v.reasons.includes('route_from_config') && v.configuredRoute?.length) {
    lines.push(configuredRouteLine(v.configuredRoute, t));
    if (v.route.kind !== 'route' && v.waitSeconds > 0 && !v.reasons.includes('queue_failover')) {
      lines.push(t('{seconds} s in {where} before the PBX sent the caller on.', { seconds: v.waitSeconds, where }));
    }
  }
  const rang = v.rang.filter((r) => r.outcome !== 'answered');
  if (rang.length) {
    const longest = Math.max(...rang.map((r) => r.ringSeconds));
    lines.push(t('Rang {exts} for up to {seconds} s without an answer.', { exts: rang.map((r) => r.ext).join(', '), seconds: longest }));
  }
  for (const r of v.rang) {
    if (r.outcome === 'busy') lines.push(t('Extension {ext} was busy.', { ext: r.ext }));
    if (r.outcome === 'unavailable') lines.push(t('Extension {ext} was unavailable.', { ext: r.ext }));
  }
  if (v.reasons.includes('queue_abandon')) lines.push(t('Waited {seconds} s in the queue and hung up before any phone rang.', { seconds: v.waitSeconds }));
  if (v.reasons.includes('queue_short_wait')) lines.push(t('Hung up after {seconds} s in the queue, before any phone rang; too short to count.', { seconds: v.waitSeconds }));
  if (v.reasons.includes('queue_failover')) lines.push(t('Waited {seconds} s in the queue until the PBX sent the caller on; no phone rang.', { seconds: v.waitSeconds }));
  if (v.reasons.includes('ivr_abandon')) lines.push(t('Hung up in the IVR before any phone rang.'));
  if (v.reasons.includes('hung_up_before_ringing')) lines.push(t('Hung up before any phone rang.'));
  if (v.reasons.includes('refused_busy')) lines.push(t('The PBX turned the caller away as busy before any phone rang (do not disturb, or busy with no voicemail).'));
  if (v.reasons.includes('marked_missed')) lines.push(t('The dialplan marked this call as missed.'));
  if (v.verdict === 'answered' && v.answeredBy) {
    lines.push(
      !v.answeredBy.startsWith('external:')
        ? t('Answered by extension {ext}.', { ext: v.answeredBy })
        : v.answeredBy === 'external:'
          ? t('Answered on an outside line the PBX dialled.')
          : t('Answered on the external number {number} the PBX forwarded to.', { number: v.answeredBy.slice(9) }),
    );
    if (v.voicemail) lines.push(t('Later reached voicemail {box}; it had already been answered by the team.', { box: v.voicemail.box }));
    return lines;
  }
  if (v.voicemail) {
    lines.push(t('The caller reached voicemail {box}; voicemail is not an answer by the team.', { box: v.voicemail.box }));
    if (v.voicemail.messageLeft === true) lines.push(t('The caller left a voicemail message.'));
    if (v.voicemail.messageLeft === false) lines.push(t('The caller left no voicemail message.'));
  }
  if (v.verdict === 'missed') lines.push(t('Nobody in the team answered: missed.'));
  else lines.push(t('Not counted as missed: no phone rang.'));
  return lines;
}

/**
 * "Route from the PBX's configuration: DID 5551000 → queue 400 Sales → failover voicemail 104."
 * Several ways when the rows cannot tell which one the call took (a time condition's branch).
 */
function configuredRouteLine(paths: RoutePath[], t: Translate): string {
  const ways = paths.map((p) => routePathText(p, t));
  return ways.length === 1
    ? t("Route from the PBX's configuration: {route}.", { route: ways[0]! })
    : t("Routes from the PBX's configuration that lead here; the rows do not tell which one the call took: {routes}.", { routes: ways.join('; ') });
}

function routePathText(path: RoutePath, t: Translate): string {
  const text = path.steps.map((step) => stepText(step, t)).join(' → ');
  if (path.ends === 'loop') return `${text} ${t('(back to an earlier step)')}`;
  if (path.ends === 'missing') return `${text} ${t('(not in the configuration)')}`;
  if (path.ends === 'limit') return `${text} → …`;
  return text;
}

function stepText(step: RouteStep, t: Translate): string {
  const what: Record<RouteStep['kind'], string> = {
    did: t('DID {id}', { id: step.id }),
    queue: t('queue {id}', { id: step.id }),
    ringgroup: t('ring group {id}', { id: step.id }),
    ivr: t('IVR {id}', { id: step.id }),
    extension: t('extension {id}', { id: step.id }),
    timecondition: t('time condition {id}', { id: step.id }),
    voicemail: t('voicemail {id}', { id: step.id }),
    hangup: t('hang up'),
    other: t('destination {id}', { id: step.id }),
  };
  const place = step.name && step.kind !== 'did' ? `${what[step.kind]} ${step.name}` : what[step.kind];
  switch (step.via) {
    case 'failover':
      return t('failover {step}', { step: place });
    case 'timeout':
      return t('on timeout {step}', { step: place });
    case 'invalid':
      return t('on an invalid choice {step}', { step: place });
    case 'choice':
      return t('on {digit} {step}', { digit: step.choice ?? '', step: place });
    case 'matched':
      return t('in its time {step}', { step: place });
    case 'unmatched':
      return t('out of its time {step}', { step: place });
    default:
      return place;
  }
}

/** "Queue 400 (Sales)", "Extension 102 (Maria Ionescu)", an inbound route's own description. */
export function routeLabel(route: { kind: string; id: string }, labels: RouteLabels | undefined, t: Translate = english): string {
  const kindName: Record<RouteKind, string> = {
    queue: t('Queue'), ringgroup: t('Ring group'), ivr: t('IVR'), extension: t('Extension'), route: t('Inbound route'),
  };
  const what = kindName[route.kind as RouteKind] ?? route.kind;
  const named = route.id ? labels?.[route.kind as RouteKind]?.[route.id] : undefined;
  if (named) return route.kind === 'route' ? named : `${what} ${route.id} (${named})`;
  return route.id ? `${what} ${route.id}` : what;
}

/** "102 (Maria Ionescu)". */
export function extensionLabel(ext: string, labels: RouteLabels | undefined): string {
  const name = labels?.extension?.[ext];
  return name ? `${ext} (${name})` : ext;
}

