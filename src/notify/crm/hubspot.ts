import { createHash } from 'node:crypto';
import type { Network } from '../../config/networks.js';
import { CrmError, type CrmConnector, type CrmContact, type CrmDiagnosis, type CrmTask, type PhoneVariants } from './connector.js';
import { bearerJson, crmRequest, successJson } from './http.js';

/**
 * HubSpot through its public CRM v3 REST API, with a private app's token (Bearer). The calls,
 * all under the tenant's base URL (docs/crm.md lists them with the scopes they need):
 *
 *   POST   /crm/v3/objects/contacts/search   contact by phone / mobilephone (with its name and owner id)
 *   GET    /crm/v3/owners/{ownerId}          the contact owner's name, for the list (cached an hour)
 *   POST   /crm/v3/objects/contacts          contact created (when the tenant asks for it)
 *   POST   /crm/v3/objects/tasks/search      task by our marker (a create we never saw answered)
 *   POST   /crm/v3/objects/tasks             task created, associated with the contact (type 204)
 *   PATCH  /crm/v3/objects/tasks/{id}        task updated, completed, reopened
 *   DELETE /crm/v3/objects/tasks/{id}        task removed (forget; HubSpot's recycle bin keeps it 90 days)
 *   POST   /crm/v3/objects/contacts/gdpr-delete   a contact we created removed for good (forget)
 *   GET    /crm/v3/objects/contacts?limit=1  Test connection: address, token, read scope
 *   POST   /oauth/v2/private-apps/get/access-token-info   Test connection: the token's scopes
 *
 * A Task, not a Call engagement: a call engagement records a call that happened (no-answer
 * is its outcome, final), while a missed caller is work still to do — a Task has an owner,
 * a due date, a NOT_STARTED → COMPLETED status the list's clearing maps onto, and sits in
 * the owner's task queue, where a call log would sit unnoticed on the timeline.
 *
 * Node's HTTP client through outboundRequest (the tenant-typed address is checked like a
 * webhook's), not @hubspot/api-client: a handful of calls of a stable, documented shape need no
 * generated client, and the retries and 429 backoff must be the outbox's own (the client
 * retries on its own schedule, inside one attempt), which a plain request leaves to us.
 */

/** HubSpot's association type id for task → contact ("HUBSPOT_DEFINED"). */
const TASK_TO_CONTACT = 204;
/**
 * The scopes the connector needs; tasks are covered by the contacts scopes. owners.read is
 * optional: without it the list shows the caller's name but not the contact's owner.
 */
export const HUBSPOT_SCOPES = { read: 'crm.objects.contacts.read', write: 'crm.objects.contacts.write', owners: 'crm.objects.owners.read' } as const;
const SEARCH_PAGE = 100;
/** Pages of search hits looked through for one whose digits really match. */
const SEARCH_PAGES = 5;
const CONTACT_PROPERTIES = ['phone', 'mobilephone', 'hubspot_owner_id', 'firstname', 'lastname'];

export interface HubSpotOptions {
  baseUrl: string;
  token: string;
  allowedNetworks: readonly Network[];
  timeoutMs?: number;
}

/** HubSpot's error body: {status, message, correlationId, category, errors?, policyName?}. */
interface HubSpotErrorBody {
  message?: string;
  category?: string;
  correlationId?: string;
  policyName?: string;
  errors?: { message?: string; context?: { requiredGranularScopes?: string[]; requiredScopes?: string[] } }[];
}

interface SearchAnswer {
  results: { id: string; properties: Record<string, string | null> }[];
  paging?: { next?: { after: string } };
}

export class HubSpotError extends CrmError {
  constructor(
    message: string,
    status: number | null,
    retryAfterMs: number | null,
    readonly body: HubSpotErrorBody | null,
  ) {
    super(message, status, retryAfterMs);
  }

  /** The scopes HubSpot says a 403 lacked. */
  get missingScopes(): string[] {
    return (this.body?.errors ?? []).flatMap((e) => e.context?.requiredGranularScopes ?? e.context?.requiredScopes ?? []);
  }
}

const ONE_HOUR_MS = 3_600_000;

/**
 * Owner names by account and owner id, for every connector of the process (the outbox makes
 * one per delivery): a team has a handful of owners, and their names change rarely. An
 * owner HubSpot would not name (no scope, gone) is remembered as null for the hour too.
 */
const ownerNames = new Map<string, { name: string | null; until: number }>();
const OWNER_NAMES_MAX = 10_000;

/** HubSpot's owner: {id, email, type, firstName, lastName, userId, …}. */
interface HubSpotOwner {
  firstName?: string | null;
  lastName?: string | null;
  email?: string | null;
}

/** How long a 429 asks us to wait: Retry-After, else by the limit that was hit. */
function retryAfterOf(header: string | string[] | undefined, body: HubSpotErrorBody | null): number {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  // The daily limit resets at midnight in the account's zone, which we do not know: an hour
  // apart, the retries cost at most 24 requests a day.
  return body?.policyName === 'DAILY' ? ONE_HOUR_MS : 10_000;
}

export class HubSpotConnector implements CrmConnector {
  readonly kind = 'hubspot';

  constructor(private readonly options: HubSpotOptions) {}

  private async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const res = await crmRequest(
      this.options,
      { url: this.options.baseUrl.replace(/\/+$/, '') + path, method, ...bearerJson(this.options.token, body), maxBodyBytes: 2_000_000 },
      (reason) => new HubSpotError(`HubSpot not reached: ${reason}`, null, null, null),
    );
    const text = res.text;
    if (res.status >= 200 && res.status < 300) {
      return successJson<T>(res, () => new HubSpotError(`HubSpot answered ${res.status} with no JSON: is the base URL the API's?`, res.status, null, null));
    }
    let parsed: HubSpotErrorBody | null = null;
    try {
      parsed = JSON.parse(text) as HubSpotErrorBody;
    } catch {
      /* not HubSpot's error shape: its first words are the message */
    }
    const what = parsed?.message ?? (text.slice(0, 300) || 'no message');
    const message = `HubSpot ${res.status}${parsed?.category ? ` ${parsed.category}` : ''}: ${what}${parsed?.correlationId ? ` (correlationId ${parsed.correlationId})` : ''}`;
    throw new HubSpotError(message, res.status, res.status === 429 ? retryAfterOf(res.headers['retry-after'], parsed) : null, parsed);
  }

  async findContactByPhone(phone: PhoneVariants): Promise<CrmContact | null> {
    const spellings = [...new Set(phone.spellings)];
    // Filter groups are ORed, filters in one group ANDed (at most 5 groups). The calculated
    // properties are HubSpot's digits-only copies, which match a number stored with spaces.
    const filterGroups = [
      { filters: [{ propertyName: 'phone', operator: 'IN', values: spellings }] },
      { filters: [{ propertyName: 'mobilephone', operator: 'IN', values: spellings }] },
      { filters: [{ propertyName: 'hs_searchable_calculated_phone_number', operator: 'EQ', value: phone.national }] },
      { filters: [{ propertyName: 'hs_searchable_calculated_mobile_number', operator: 'EQ', value: phone.national }] },
    ];
    let after: string | undefined;
    for (let page = 0; page < SEARCH_PAGES; page += 1) {
      const answer = await this.call<SearchAnswer>('POST', '/crm/v3/objects/contacts/search', {
        filterGroups,
        properties: CONTACT_PROPERTIES,
        sorts: [{ propertyName: 'lastmodifieddate', direction: 'DESCENDING' }],
        limit: SEARCH_PAGE,
        ...(after ? { after } : {}),
      });
      // HubSpot's search matches loosely; the caller is the contact only if the digits agree.
      const hit = answer.results.find((r) => [r.properties.phone, r.properties.mobilephone].some((n) => digitsOf(n).endsWith(phone.key)));
      if (hit) {
        const ownerId = hit.properties.hubspot_owner_id || null;
        const name = [hit.properties.firstname, hit.properties.lastname].map((p) => (p ?? '').trim()).filter(Boolean).join(' ');
        return { id: hit.id, ownerId, name: name || null, ownerName: ownerId ? await this.ownerName(ownerId) : null };
      }
      after = answer.paging?.next?.after;
      if (!after) return null;
    }
    return null;
  }

  /** The owner's name as HubSpot shows it (first and last name, else the e-mail), or null. */
  private async ownerName(ownerId: string): Promise<string | null> {
    const key = `${this.options.baseUrl}\n${createHash('sha256').update(this.options.token).digest('hex')}\n${ownerId}`;
    const cached = ownerNames.get(key);
    if (cached && cached.until > Date.now()) return cached.name;
    let name: string | null;
    try {
      const owner = await this.call<HubSpotOwner>('GET', `/crm/v3/owners/${encodeURIComponent(ownerId)}`);
      name = [owner?.firstName, owner?.lastName].map((p) => (p ?? '').trim()).filter(Boolean).join(' ') || owner?.email?.trim() || null;
    } catch (err) {
      // No owners scope (403) or no such owner (404): the contact is still found, unnamed
      // owner. A 429 is the account's limit, which the caller must wait out like any other.
      // Anything else (a timeout, a 5xx) is not remembered: the next find asks again.
      const status = (err as CrmError).status;
      if (status === 429) throw err;
      if (status !== 403 && status !== 404) return null;
      name = null;
    }
    if (ownerNames.size >= OWNER_NAMES_MAX) ownerNames.clear();
    ownerNames.set(key, { name, until: Date.now() + ONE_HOUR_MS });
    return name;
  }

  async createContact(phone: PhoneVariants, name: string): Promise<CrmContact> {
    const [firstname, ...rest] = name.trim().split(/\s+/);
    const properties: Record<string, string> = { phone: phone.display };
    if (firstname && !/^[\d\s+()-]*$/.test(name)) {
      properties.firstname = firstname;
      if (rest.length) properties.lastname = rest.join(' ');
    }
    const created = await this.call<{ id: string; properties: Record<string, string | null> }>('POST', '/crm/v3/objects/contacts', { properties });
    return { id: created.id, ownerId: created.properties?.hubspot_owner_id || null };
  }

  async findTaskByMarker(marker: string): Promise<string | null> {
    const answer = await this.call<SearchAnswer>('POST', '/crm/v3/objects/tasks/search', {
      filterGroups: [{ filters: [{ propertyName: 'hs_task_body', operator: 'CONTAINS_TOKEN', value: marker }] }],
      properties: ['hs_task_body'],
      limit: 10,
    });
    return answer.results.find((r) => (r.properties.hs_task_body ?? '').includes(marker))?.id ?? null;
  }

  async createTask(task: CrmTask, contact: CrmContact | null): Promise<string> {
    const created = await this.call<{ id: string }>('POST', '/crm/v3/objects/tasks', {
      properties: { ...taskProperties(task), hs_task_type: 'CALL', ...(contact?.ownerId ? { hubspot_owner_id: contact.ownerId } : {}) },
      associations: contact ? [{ to: { id: contact.id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: TASK_TO_CONTACT }] }] : [],
    });
    return created.id;
  }

  async updateTask(id: string, task: CrmTask): Promise<void> {
    await this.call('PATCH', `/crm/v3/objects/tasks/${encodeURIComponent(id)}`, { properties: taskProperties(task) });
  }

  async deleteTask(id: string): Promise<void> {
    try {
      await this.call('DELETE', `/crm/v3/objects/tasks/${encodeURIComponent(id)}`);
    } catch (err) {
      if ((err as CrmError).status !== 404) throw err;
    }
  }

  /**
   * HubSpot's GDPR delete: the contact is removed for good (a plain DELETE would keep it in
   * the recycle bin for 90 days), with its associations to our tasks.
   */
  async deleteContact(id: string): Promise<void> {
    try {
      await this.call('POST', '/crm/v3/objects/contacts/gdpr-delete', { objectId: id });
    } catch (err) {
      if ((err as CrmError).status !== 404) throw err;
    }
  }

  async testConnection(needs: { createContact: boolean }): Promise<CrmDiagnosis> {
    const url = this.options.baseUrl;
    try {
      await this.call('GET', '/crm/v3/objects/contacts?limit=1');
    } catch (err) {
      return diagnose(err as HubSpotError, url, HUBSPOT_SCOPES.read);
    }
    let scopes: string[] | null = null;
    try {
      const info = await this.call<{ scopes?: string[] }>('POST', '/oauth/v2/private-apps/get/access-token-info', { tokenKey: this.options.token });
      scopes = Array.isArray(info?.scopes) ? info.scopes : null;
    } catch {
      // Not every token can read its own description; reading contacts worked, and a missing
      // write scope will show as a 403 naming it on the first task.
    }
    if (scopes && !scopes.includes(HUBSPOT_SCOPES.write)) {
      return {
        ok: false,
        template: needs.createContact
          ? 'The private app lacks the scope {scope}, needed to create tasks and contacts: add it in HubSpot and try again.'
          : 'The private app lacks the scope {scope}, needed to create tasks: add it in HubSpot and try again.',
        params: { scope: HUBSPOT_SCOPES.write },
      };
    }
    return { ok: true, template: 'Connected to HubSpot: the token works and can read contacts.', params: {} };
  }
}

function diagnose(err: HubSpotError, url: string, scope: string): CrmDiagnosis {
  if (err.status === null) return { ok: false, template: 'HubSpot could not be reached at {url}: {reason}', params: { url, reason: err.message.replace(/^HubSpot not reached: /, '') } };
  if (err.status === 401) return { ok: false, template: 'HubSpot refused the token (401): {message}', params: { message: err.body?.message ?? err.message } };
  if (err.status === 403) {
    return { ok: false, template: 'The private app lacks the scope {scope}: add it in HubSpot and try again. HubSpot said: {message}', params: { scope: err.missingScopes[0] ?? scope, message: err.body?.message ?? err.message } };
  }
  if (err.status === 404 || !err.body) return { ok: false, template: '{url} does not answer like the HubSpot API (HTTP {status}): check the base URL.', params: { url, status: err.status } };
  return { ok: false, template: 'HubSpot answered HTTP {status}: {message}', params: { status: err.status, message: err.message } };
}

function taskProperties(task: CrmTask): Record<string, string> {
  return {
    hs_task_subject: task.subject,
    hs_task_body: task.body,
    hs_timestamp: task.dueAt.toISOString(),
    hs_task_status: task.completed ? 'COMPLETED' : 'NOT_STARTED',
    hs_task_priority: task.priority,
  };
}

function digitsOf(n: string | null | undefined): string {
  return (n ?? '').replace(/\D/g, '');
}
