import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { StandInServer } from './stand-in-server.js';

/**
 * A stand-in for one HubSpot account: an HTTP server implementing the subset of HubSpot's
 * public CRM v3 API the connector calls, the way HubSpot's reference describes it — Bearer
 * private-app tokens (401 INVALID_AUTHENTICATION), scopes (403 MISSING_SCOPES naming them in
 * errors[].context.requiredGranularScopes), the error body {status, message, correlationId,
 * category}, rate-limit headers on every answer and 429 RATE_LIMITS with Retry-After, search
 * with filterGroups (ORed) of filters (ANDed), EQ / IN / CONTAINS_TOKEN, paging by `after`,
 * at most 5 filter groups, a search index that may lag the writes; the owners API
 * (GET /crm/v3/owners/{ownerId}, scope crm.objects.owners.read, 404 for an unknown id) and
 * the contacts' GDPR delete (POST …/contacts/gdpr-delete {objectId}, 204). A deleted object
 * is gone from the account's objects as from the API (HubSpot keeps it in a recycle bin the
 * API does not read; a GDPR delete not even there). It knows nothing of our
 * code: tests read its contacts and tasks as HubSpot's UI would show them.
 */

export interface HubSpotObject {
  id: string;
  properties: Record<string, string>;
  createdAt: number;
  /** Task → contact associations: [contact id, association type id]. */
  associations: [string, number][];
}

export interface SeenRequest {
  method: string;
  path: string;
  body: unknown;
  at: number;
  answered: number;
}

/** Answers a request instead of the account (a forced 429, 500, …), or undefined to let it through. */
export type Interceptor = (req: SeenRequest) => { status: number; body?: unknown; headers?: Record<string, string> } | undefined;

export interface StandInOptions {
  token: string;
  scopes?: string[];
  /** Objects appear in search results this long after their write (HubSpot: a few seconds). */
  searchLagMs?: number;
}

const ALL_SCOPES = ['crm.objects.contacts.read', 'crm.objects.contacts.write', 'crm.objects.owners.read'];

/** A HubSpot owner as GET /crm/v3/owners/{ownerId} shows it. */
export interface HubSpotOwner {
  id: string;
  email: string;
  type: 'PERSON';
  firstName: string;
  lastName: string;
  userId: number;
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}
const MAX_FILTER_GROUPS = 5;
const MAX_PAGE = 200;

export class HubSpotStandIn extends StandInServer {
  readonly contacts = new Map<string, HubSpotObject>();
  readonly tasks = new Map<string, HubSpotObject>();
  readonly owners = new Map<string, HubSpotOwner>();
  /** Contacts removed by a GDPR delete: HubSpot keeps nothing of them. */
  readonly gdprDeleted: string[] = [];
  readonly requests: SeenRequest[] = [];
  intercept: Interceptor | null = null;
  private nextId = 1000;

  constructor(private readonly options: StandInOptions) {
    super();
  }

  addContact(properties: Record<string, string>): HubSpotObject {
    return this.store(this.contacts, properties, []);
  }

  addOwner(id: string, firstName: string, lastName: string, email = `${firstName.toLowerCase()}@example.test`): HubSpotOwner {
    const now = new Date().toISOString();
    const owner: HubSpotOwner = { id, email, type: 'PERSON', firstName, lastName, userId: Number(id) + 9_000_000, createdAt: now, updatedAt: now, archived: false };
    this.owners.set(id, owner);
    return owner;
  }

  private store(into: Map<string, HubSpotObject>, properties: Record<string, string>, associations: [string, number][]): HubSpotObject {
    const id = String((this.nextId += 1));
    const now = Date.now();
    const o = { id, properties: { ...properties, hs_object_id: id, createdate: new Date(now).toISOString(), lastmodifieddate: new Date(now).toISOString() }, createdAt: now, associations };
    into.set(id, o);
    return o;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      return this.answer(res, null, 400, error('Invalid input JSON on line 1', 'VALIDATION_ERROR'));
    }
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const seen: SeenRequest = { method: req.method ?? 'GET', path: url.pathname + url.search, body, at: Date.now(), answered: 0 };
    this.requests.push(seen);
    const forced = this.intercept?.(seen);
    if (forced) return this.answer(res, seen, forced.status, forced.body ?? null, forced.headers);
    const route = `${seen.method} ${url.pathname}`;
    if (route === 'POST /oauth/v2/private-apps/get/access-token-info') {
      const key = (body as { tokenKey?: string } | null)?.tokenKey;
      if (key !== this.options.token) return this.answer(res, seen, 401, error('The access token is invalid', 'INVALID_AUTHENTICATION'));
      return this.answer(res, seen, 200, { userId: 1, hubId: 42, appId: 7, scopes: this.scopes(), tokenKey: key });
    }
    if (req.headers.authorization !== `Bearer ${this.options.token}`) {
      return this.answer(res, seen, 401, error('Authentication credentials not found.', 'INVALID_AUTHENTICATION'));
    }
    const ownerPath = /^\/crm\/v3\/owners\/([^/]+)$/.exec(url.pathname);
    const need = ownerPath ? 'crm.objects.owners.read' : seen.method === 'GET' || url.pathname.endsWith('/search') ? 'crm.objects.contacts.read' : 'crm.objects.contacts.write';
    if (!this.scopes().includes(need)) {
      return this.answer(res, seen, 403, {
        ...error("This app hasn't been granted all required scopes to make this call.", 'MISSING_SCOPES'),
        errors: [{ message: 'One or more of the following scopes are required.', context: { requiredGranularScopes: [need] } }],
      });
    }
    if (ownerPath && seen.method === 'GET') {
      const owner = this.owners.get(decodeURIComponent(ownerPath[1]!));
      if (!owner) return this.answer(res, seen, 404, error(`No owner with id ${ownerPath[1]}`, 'OBJECT_NOT_FOUND'));
      return this.answer(res, seen, 200, owner);
    }
    if (seen.method === 'POST' && url.pathname === '/crm/v3/objects/contacts/gdpr-delete') {
      const id = String((body as { objectId?: unknown } | null)?.objectId ?? '');
      if (!this.contacts.delete(id)) return this.answer(res, seen, 404, error(`resource not found`, 'OBJECT_NOT_FOUND'));
      this.gdprDeleted.push(id);
      for (const task of this.tasks.values()) task.associations = task.associations.filter(([contact]) => contact !== id);
      return this.answer(res, seen, 204, null);
    }
    const m = /^\/crm\/v3\/objects\/(contacts|tasks)(?:\/(search|\d+))?$/.exec(url.pathname);
    if (!m) return this.answer(res, seen, 404, error(`Unable to route ${seen.method} request`, 'OBJECT_NOT_FOUND'));
    const store = m[1] === 'contacts' ? this.contacts : this.tasks;
    const sub = m[2];
    if (seen.method === 'GET' && !sub) {
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 10), 100);
      return this.answer(res, seen, 200, { results: [...store.values()].slice(0, limit).map((o) => shown(o, [])) });
    }
    if (seen.method === 'POST' && sub === 'search') return this.search(res, seen, store, body as SearchBody);
    if (seen.method === 'POST' && !sub) return this.create(res, seen, m[1] as 'contacts' | 'tasks', body as CreateBody);
    if (sub && sub !== 'search') {
      const o = store.get(sub);
      if (!o) return this.answer(res, seen, 404, error(`resource not found`, 'OBJECT_NOT_FOUND'));
      if (seen.method === 'PATCH') {
        Object.assign(o.properties, (body as CreateBody).properties, { lastmodifieddate: new Date().toISOString() });
        return this.answer(res, seen, 200, shown(o, Object.keys(o.properties)));
      }
      if (seen.method === 'DELETE') {
        store.delete(sub);
        return this.answer(res, seen, 204, null);
      }
    }
    return this.answer(res, seen, 405, error('Method not allowed', 'VALIDATION_ERROR'));
  }

  private scopes(): string[] {
    return this.options.scopes ?? ALL_SCOPES;
  }

  private create(res: ServerResponse, seen: SeenRequest, kind: 'contacts' | 'tasks', body: CreateBody): void {
    const properties = body?.properties ?? {};
    if (kind === 'tasks' && !properties.hs_timestamp) {
      return this.answer(res, seen, 400, error('Property values were not valid: hs_timestamp is required', 'VALIDATION_ERROR'));
    }
    const associations: [string, number][] = [];
    for (const a of body?.associations ?? []) {
      if (!this.contacts.has(a.to.id)) return this.answer(res, seen, 400, error(`No contact with ID ${a.to.id} exists`, 'VALIDATION_ERROR'));
      for (const t of a.types) associations.push([a.to.id, t.associationTypeId]);
    }
    const o = this.store(kind === 'contacts' ? this.contacts : this.tasks, properties, associations);
    this.answer(res, seen, 201, shown(o, Object.keys(o.properties)));
  }

  private search(res: ServerResponse, seen: SeenRequest, store: Map<string, HubSpotObject>, body: SearchBody): void {
    const groups = body?.filterGroups ?? [];
    if (groups.length > MAX_FILTER_GROUPS) {
      return this.answer(res, seen, 400, error(`Too many filter groups (${groups.length}); at most ${MAX_FILTER_GROUPS}`, 'VALIDATION_ERROR'));
    }
    const visibleBefore = Date.now() - (this.options.searchLagMs ?? 0);
    const hits = [...store.values()]
      .filter((o) => o.createdAt <= visibleBefore)
      .filter((o) => groups.length === 0 || groups.some((g) => g.filters.every((f) => matches(withCalculated(o.properties), f))));
    const limit = Math.min(body?.limit ?? 10, MAX_PAGE);
    const from = Number(body?.after ?? 0);
    const page = hits.slice(from, from + limit);
    const next = from + limit < hits.length ? { next: { after: String(from + limit) } } : undefined;
    this.answer(res, seen, 200, { total: hits.length, results: page.map((o) => shown(o, body?.properties ?? [])), ...(next ? { paging: next } : {}) });
  }

  private answer(res: ServerResponse, seen: SeenRequest | null, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (seen) seen.answered = status;
    res.writeHead(status, {
      'content-type': 'application/json;charset=utf-8',
      'x-hubspot-ratelimit-max': '100',
      'x-hubspot-ratelimit-remaining': status === 429 ? '0' : '99',
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
      'x-hubspot-ratelimit-daily': '250000',
      'x-hubspot-ratelimit-daily-remaining': '249000',
      'x-hubspot-correlation-id': randomUUID(),
      ...headers,
    });
    res.end(body === null ? '' : JSON.stringify(body));
  }
}

/** HubSpot's error body. */
export function error(message: string, category: string): Record<string, unknown> {
  return { status: 'error', message, correlationId: randomUUID(), category };
}

/** A 429 as HubSpot sends it when the ten-secondly limit is hit. */
export function rateLimited(retryAfterSeconds: number): { status: number; body: unknown; headers: Record<string, string> } {
  return {
    status: 429,
    body: { ...error('You have reached your ten_secondly_rolling limit.', 'RATE_LIMITS'), errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING' },
    headers: { 'retry-after': String(retryAfterSeconds) },
  };
}

interface Filter {
  propertyName: string;
  operator: string;
  value?: string;
  values?: string[];
}
interface SearchBody {
  filterGroups?: { filters: Filter[] }[];
  properties?: string[];
  limit?: number;
  after?: string;
}
interface CreateBody {
  properties?: Record<string, string>;
  associations?: { to: { id: string }; types: { associationCategory: string; associationTypeId: number }[] }[];
}

/** HubSpot's digits-only copies of a contact's numbers, without the country code. */
function withCalculated(p: Record<string, string>): Record<string, string> {
  const calc = (n: string | undefined): string => {
    if (!n) return '';
    const parsed = n.trim().startsWith('+') ? parsePhoneNumberFromString(n) : undefined;
    return parsed ? parsed.nationalNumber : n.replace(/\D/g, '').replace(/^0+/, '');
  };
  return { ...p, hs_searchable_calculated_phone_number: calc(p.phone), hs_searchable_calculated_mobile_number: calc(p.mobilephone) };
}

function matches(p: Record<string, string>, f: Filter): boolean {
  const v = (p[f.propertyName] ?? '').toLowerCase();
  switch (f.operator) {
    case 'EQ':
      return v !== '' && v === String(f.value ?? '').toLowerCase();
    case 'IN':
      return (f.values ?? []).some((x) => v !== '' && v === x.toLowerCase());
    case 'CONTAINS_TOKEN': {
      const want = String(f.value ?? '').toLowerCase();
      const re = new RegExp('^' + want.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$');
      return v.split(/[^a-z0-9*]+/).some((token) => re.test(token));
    }
    default:
      return false;
  }
}

function shown(o: HubSpotObject, properties: string[]): Record<string, unknown> {
  const wanted = ['hs_object_id', 'createdate', 'lastmodifieddate', ...properties];
  return {
    id: o.id,
    properties: Object.fromEntries(wanted.map((k) => [k, o.properties[k] ?? null])),
    createdAt: new Date(o.createdAt).toISOString(),
    updatedAt: o.properties.lastmodifieddate,
    archived: false,
  };
}
