import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import type { Network } from '../../config/networks.js';
import { CrmError, type CrmConnector, type CrmContact, type CrmDiagnosis, type CrmTask, type PhoneVariants } from './connector.js';
import { bearerJson, crmRequest, successJson } from './http.js';

/**
 * Salesforce through its REST API, as the integration user of a Connected App: OAuth 2.0
 * refresh-token grant at the tenant's login address (My Domain), then every call at the
 * `instance_url` the token answer names (docs/crm.md lists them with the permissions needed):
 *
 *   POST   {base}/services/oauth2/token                 access token (grant_type=refresh_token)
 *   GET    /services/data/v60.0/query?q=SELECT … FROM Contact WHERE Phone IN (…) OR MobilePhone IN (…)
 *   GET    /services/data/v60.0/query?q=SELECT … FROM Lead WHERE … AND IsConverted = false
 *   GET    /services/data/v60.0/query/{locator}         the next page of either (nextRecordsUrl)
 *   GET    /services/data/v60.0/query?q=SELECT Id, Subject FROM Task WHERE Subject LIKE '%marker%'
 *   POST   /services/data/v60.0/sobjects/Lead           a lead for an unknown caller (the option)
 *   POST   /services/data/v60.0/sobjects/Task           task created (WhoId, OwnerId, TaskSubtype Call)
 *   PATCH  /services/data/v60.0/sobjects/Task/{id}      task updated, completed, reopened
 *   DELETE /services/data/v60.0/sobjects/Task/{id}      task removed (forget; it goes to the recycle bin)
 *   GET    /services/data/v60.0/sobjects                Test connection: which objects the user may use
 *
 * SOQL, not SOSL: a query sees a write at once, where the search index lags (the crash guard
 * of src/notify/crm/deliver.ts looks for a task created a moment ago), and its matching is
 * exact and documented; SOSL's phone matching ignores punctuation, but how it treats country
 * codes and trunk zeros is not specified. The price: a number is found only in the spellings
 * we send (E.164, national, bare digits, and libphonenumber's international and national
 * formats, which are what Salesforce's own formatting and most people type). Every hit's digits
 * are checked against the caller's last matchDigits digits.
 *
 * The marker goes into the Subject: Description is a long text area, which SOQL cannot filter
 * on, and Salesforce has no external id on Task without a custom field the admin would have
 * to create. Subject is filterable (LIKE) and always on the task.
 *
 * Node's HTTP client through outboundRequest, not jsforce: ten calls of a stable, documented
 * shape; every request must go through outboundRequest (the tenant-typed address checked like
 * a webhook's, no redirects, bounded answers), which jsforce's own HTTP layer would bypass;
 * its Connection keeps its own token state and refresh hooks beside the outbox's retries and
 * limit backoff; and it would be a new, large dependency for what a plain request does.
 */

const SALESFORCE_API = '/services/data/v60.0';
/** Records asked for per query; the rest of a big answer is paged through nextRecordsUrl. */
const QUERY_LIMIT = 200;
/** Pages of query answers looked through for a hit whose digits really match. */
const QUERY_PAGES = 5;
const SUBJECT_MAX = 255;
/** Salesforce's User ids start 005; a lead owned by a queue (00G) cannot own a task. */
const USER_ID = /^005/;
const ONE_HOUR_MS = 3_600_000;

export interface SalesforceOptions {
  /** The login address: My Domain (or the login host) — where the token endpoint is. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  allowedNetworks: readonly Network[];
  timeoutMs?: number;
}

/** One entry of Salesforce's REST error body: an array of these. */
interface SalesforceErrorItem {
  message?: string;
  errorCode?: string;
  fields?: string[];
}

/** The token endpoint's error body (RFC 6749): {error, error_description}. */
interface OAuthErrorBody {
  error?: string;
  error_description?: string;
}

/** The token endpoint's answer: a token on success, {error, error_description} on a refusal. */
interface TokenAnswer extends OAuthErrorBody {
  access_token?: string;
  /** Only when the Connected App rotates refresh tokens: the one we sent is then void. */
  refresh_token?: string;
  instance_url?: string;
  scope?: string;
}

interface Session {
  accessToken: string;
  instanceUrl: string;
  scope: string | null;
  /** The answer carried a new refresh token: the saved one works no more. */
  rotated: boolean;
}

interface QueryAnswer<R> {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: R[];
}

interface PersonRecord {
  Id: string;
  Name?: string | null;
  Phone?: string | null;
  MobilePhone?: string | null;
  OwnerId?: string | null;
  Owner?: { Name?: string | null } | null;
}

export class SalesforceError extends CrmError {
  constructor(
    message: string,
    status: number | null,
    retryAfterMs: number | null,
    /** The first errorCode of a REST error, or the OAuth `error` of a token refusal. */
    readonly code: string | null,
    /** Salesforce's own message, without our prefix. */
    readonly detail: string | null,
    readonly fromTokenEndpoint = false,
  ) {
    super(message, status, retryAfterMs);
  }

  /** The daily limit (and the concurrent-request limit) come as 403 REQUEST_LIMIT_EXCEEDED. */
  override get rateLimited(): boolean {
    return this.status === 429 || this.code === 'REQUEST_LIMIT_EXCEEDED';
  }
}

/**
 * Access tokens, kept in memory across the connectors the notifier makes per delivery, by a
 * hash of the credentials (never the credentials themselves): a tenant's token is only ever
 * found with that tenant's refresh token.
 */
const sessions = new Map<string, Session>();
const SESSIONS_MAX = 1000;

function retryAfterOf(code: string | null, detail: string | null, headers: IncomingHttpHeaders): number | null {
  const header = headers['retry-after'];
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  if (header !== undefined && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  if (code !== 'REQUEST_LIMIT_EXCEEDED') return null;
  // "TotalRequests Limit exceeded." is the rolling 24-hour limit: requests free up as the
  // oldest age out, at a time Salesforce does not say; an hour apart, retries cost little.
  // Otherwise it is the concurrent long-request limit, which clears in seconds.
  return /TotalRequests/i.test(detail ?? '') || usageExhausted(headers) ? ONE_HOUR_MS : 10_000;
}

/** Sforce-Limit-Info: api-usage=5000/5000 — the org's daily requests used and allowed. */
function apiUsage(headers: IncomingHttpHeaders): string | null {
  const info = headers['sforce-limit-info'];
  const m = /api-usage=(\d+)\/(\d+)/.exec(Array.isArray(info) ? info.join(';') : (info ?? ''));
  return m ? `${m[1]}/${m[2]}` : null;
}

function usageExhausted(headers: IncomingHttpHeaders): boolean {
  const [used, allowed] = (apiUsage(headers) ?? '').split('/').map(Number);
  return used !== undefined && allowed !== undefined && allowed > 0 && used >= allowed;
}

export class SalesforceConnector implements CrmConnector {
  readonly kind = 'salesforce';
  private readonly sessionKey: string;

  constructor(private readonly options: SalesforceOptions) {
    this.sessionKey = createHash('sha256').update([options.baseUrl, options.clientId, options.clientSecret, options.refreshToken].join('\n')).digest('hex');
  }

  /** A fresh access token from the refresh token; kept for the next calls. */
  private async refresh(): Promise<Session> {
    sessions.delete(this.sessionKey);
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: this.options.refreshToken,
      client_id: this.options.clientId,
      client_secret: this.options.clientSecret,
    });
    const res = await crmRequest(
      this.options,
      {
        url: this.options.baseUrl.replace(/\/+$/, '') + '/services/oauth2/token',
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        maxBodyBytes: 100_000,
      },
      (reason) => new SalesforceError(`Salesforce not reached: ${reason}`, null, null, null, null, true),
    );
    let parsed: TokenAnswer | null = null;
    try {
      parsed = JSON.parse(res.text) as TokenAnswer;
    } catch {
      /* not the token endpoint's JSON: handled below */
    }
    if (res.status === 200 && parsed?.access_token && parsed.instance_url) {
      const session = {
        accessToken: parsed.access_token,
        instanceUrl: parsed.instance_url.replace(/\/+$/, ''),
        scope: parsed.scope ?? null,
        rotated: parsed.refresh_token !== undefined && parsed.refresh_token !== this.options.refreshToken,
      };
      if (sessions.size >= SESSIONS_MAX) sessions.delete(sessions.keys().next().value!);
      sessions.set(this.sessionKey, session);
      return session;
    }
    if (parsed?.error) {
      const detail = parsed.error_description ?? '';
      throw new SalesforceError(`Salesforce token refresh ${res.status} ${parsed.error}: ${detail}`, res.status, retryAfterOf(null, null, res.headers), parsed.error, detail, true);
    }
    const why = res.status >= 500 ? 'Salesforce is unavailable' : "is the base URL the org's login address?";
    throw new SalesforceError(`Salesforce token endpoint answered ${res.status} with no token: ${why}`, res.status, retryAfterOf(null, null, res.headers), null, null, true);
  }

  private async session(): Promise<Session> {
    return sessions.get(this.sessionKey) ?? this.refresh();
  }

  /** A REST call; an expired access token (401 INVALID_SESSION_ID) is refreshed once. */
  private async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const session = await this.session();
    try {
      return await this.request<T>(session, method, path, body);
    } catch (err) {
      if (!(err instanceof SalesforceError) || err.status !== 401) throw err;
      return this.request<T>(await this.refresh(), method, path, body);
    }
  }

  private async request<T>(session: Session, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, maxBodyBytes = 2_000_000): Promise<T> {
    const res = await crmRequest(
      this.options,
      { url: session.instanceUrl + path, method, ...bearerJson(session.accessToken, body), maxBodyBytes },
      (reason) => new SalesforceError(`Salesforce not reached: ${reason}`, null, null, null, null),
    );
    const text = res.text;
    if (res.status >= 200 && res.status < 300) {
      return successJson<T>(res, () => new SalesforceError(`Salesforce answered ${res.status} with no JSON: is the instance URL the API's?`, res.status, null, null, null));
    }
    let first: SalesforceErrorItem | null = null;
    try {
      const parsed = JSON.parse(text) as SalesforceErrorItem[] | SalesforceErrorItem;
      first = Array.isArray(parsed) ? (parsed[0] ?? null) : parsed;
    } catch {
      /* not Salesforce's error shape: its first words are the message */
    }
    const code = first?.errorCode ?? null;
    const detail = first?.message ?? (text.slice(0, 300) || 'no message');
    const usage = apiUsage(res.headers);
    const message = `Salesforce ${res.status}${code ? ` ${code}` : ''}: ${detail}${first?.fields?.length ? ` (fields: ${first.fields.join(', ')})` : ''}${usage && code === 'REQUEST_LIMIT_EXCEEDED' ? ` (api-usage ${usage})` : ''}`;
    throw new SalesforceError(message, res.status, retryAfterOf(code, detail, res.headers), code, first ? detail : null);
  }

  /** A query's records, following nextRecordsUrl until `wanted` says stop or the pages run out. */
  private async query<R>(soql: string, wanted: (r: R) => boolean): Promise<R | null> {
    let answer = await this.call<QueryAnswer<R>>('GET', `${SALESFORCE_API}/query?q=${encodeURIComponent(soql)}`);
    for (let page = 1; ; page += 1) {
      const hit = answer.records.find(wanted);
      if (hit) return hit;
      if (answer.done || !answer.nextRecordsUrl || page >= QUERY_PAGES) return null;
      answer = await this.call<QueryAnswer<R>>('GET', answer.nextRecordsUrl);
    }
  }

  async findContactByPhone(phone: PhoneVariants): Promise<CrmContact | null> {
    const list = spellingsOf(phone).map(soqlString).join(', ');
    const matches = (r: PersonRecord): boolean => [r.Phone, r.MobilePhone].some((n) => digitsOf(n).endsWith(phone.key));
    for (const [object, also] of [['Contact', ''], ['Lead', ' AND IsConverted = false']] as const) {
      const hit = await this.query<PersonRecord>(
        `SELECT Id, Name, Phone, MobilePhone, OwnerId, Owner.Name FROM ${object} WHERE (Phone IN (${list}) OR MobilePhone IN (${list}))${also} ORDER BY LastModifiedDate DESC LIMIT ${QUERY_LIMIT}`,
        matches,
      );
      if (hit) return { id: hit.Id, ownerId: hit.OwnerId || null, name: hit.Name ?? null, ownerName: hit.Owner?.Name ?? null };
    }
    return null;
  }

  /**
   * A Lead, not a Contact: an unknown caller is a prospect until someone qualifies them, and a
   * Contact without an Account is private to its owner. Salesforce requires LastName and
   * Company; neither is known, so the number and "[not provided]" stand in.
   */
  async createContact(phone: PhoneVariants, name: string): Promise<CrmContact> {
    const words = /^[\d\s+()-]*$/.test(name) ? [] : name.trim().split(/\s+/).filter(Boolean);
    const lastName = words.length > 1 ? words.slice(1).join(' ') : (words[0] ?? phone.display);
    const fields: Record<string, string> = { LastName: lastName, Company: '[not provided]', Phone: phone.display };
    if (words.length > 1) fields.FirstName = words[0]!;
    const created = await this.call<{ id: string }>('POST', `${SALESFORCE_API}/sobjects/Lead`, fields);
    // The lead's owner is the integration user (or whom the org's rules say): the task gets the
    // same default owner, so no extra request is needed to learn it.
    return { id: created.id, ownerId: null, name: words.length ? words.join(' ') : null, ownerName: null };
  }

  async findTaskByMarker(marker: string): Promise<string | null> {
    const hit = await this.query<{ Id: string; Subject?: string | null }>(
      `SELECT Id, Subject FROM Task WHERE Subject LIKE ${soqlString(`%${likeEscaped(marker)}%`)} ORDER BY CreatedDate LIMIT 10`,
      (r) => (r.Subject ?? '').includes(marker),
    );
    return hit?.Id ?? null;
  }

  async createTask(task: CrmTask, contact: CrmContact | null): Promise<string> {
    const created = await this.call<{ id: string }>('POST', `${SALESFORCE_API}/sobjects/Task`, {
      ...taskFields(task),
      // TaskSubtype can be set on create only; 'Call' shows the task with the call icon.
      TaskSubtype: 'Call',
      ...(contact ? { WhoId: contact.id } : {}),
      ...(contact?.ownerId && USER_ID.test(contact.ownerId) ? { OwnerId: contact.ownerId } : {}),
    });
    return created.id;
  }

  async updateTask(id: string, task: CrmTask): Promise<void> {
    await this.call('PATCH', `${SALESFORCE_API}/sobjects/Task/${encodeURIComponent(id)}`, taskFields(task));
  }

  async deleteTask(id: string): Promise<void> {
    try {
      await this.call('DELETE', `${SALESFORCE_API}/sobjects/Task/${encodeURIComponent(id)}`);
    } catch (err) {
      if ((err as CrmError).status !== 404) throw err;
    }
  }

  /** The lead createContact made (ours, so forget removes it); to the recycle bin like a task. */
  async deleteContact(id: string): Promise<void> {
    try {
      await this.call('DELETE', `${SALESFORCE_API}/sobjects/Lead/${encodeURIComponent(id)}`);
    } catch (err) {
      if ((err as CrmError).status !== 404) throw err;
    }
  }

  async testConnection(needs: { createContact: boolean }): Promise<CrmDiagnosis> {
    const url = this.options.baseUrl;
    let session: Session;
    try {
      session = await this.refresh();
    } catch (err) {
      return diagnoseToken(err as SalesforceError, url);
    }
    if (session.rotated) {
      // The settings hold one refresh token; a rotating app voids it at each use.
      return { ok: false, template: 'The Connected App rotates refresh tokens, so the saved one stops working once used: turn off refresh token rotation in the Connected App, then get a new refresh token.', params: {} };
    }
    if (session.scope !== null && !/(^|\s)(api|full)(\s|$)/.test(session.scope)) {
      return { ok: false, template: 'The refresh token lacks the OAuth scope api: add “Manage user data via APIs (api)” to the Connected App and get a new refresh token.', params: {} };
    }
    let objects: { name: string; queryable?: boolean; createable?: boolean; updateable?: boolean }[];
    try {
      // describeGlobal: every object with what this user may do with it, in one request.
      const answer = await this.request<{ sobjects?: typeof objects }>(session, 'GET', `${SALESFORCE_API}/sobjects`, undefined, 20_000_000);
      objects = answer?.sobjects ?? [];
    } catch (err) {
      return diagnoseApi(err as SalesforceError, session.instanceUrl);
    }
    const may = (name: string) => objects.find((o) => o.name === name);
    for (const object of ['Contact', 'Lead']) {
      if (!may(object)?.queryable) return { ok: false, template: 'The Salesforce user cannot read {object} records: grant it Read on {object} in its profile or a permission set.', params: { object } };
    }
    const task = may('Task');
    if (!task?.createable || !task.updateable) return { ok: false, template: 'The Salesforce user cannot create and edit tasks: grant it “Edit Tasks” in its profile or a permission set.', params: {} };
    if (needs.createContact && !may('Lead')?.createable) {
      return { ok: false, template: 'The Salesforce user cannot create leads, needed to create a contact for unknown callers: grant it Create on Leads.', params: {} };
    }
    return { ok: true, template: 'Connected to Salesforce: the refresh token works and the user can read contacts and leads and create tasks.', params: {} };
  }
}

function diagnoseToken(err: SalesforceError, url: string): CrmDiagnosis {
  if (err.status === null) return { ok: false, template: 'Salesforce could not be reached at {url}: {reason}', params: { url, reason: err.message.replace(/^Salesforce not reached: /, '') } };
  switch (err.code) {
    case 'invalid_grant':
      return { ok: false, template: 'Salesforce refused the refresh token (invalid_grant: {message}): it was revoked or has expired. Get a new one as docs/crm.md says and save it.', params: { message: err.detail ?? '' } };
    case 'invalid_client_id':
      return { ok: false, template: 'Salesforce does not know the consumer key (invalid_client_id): copy it again from the Connected App.', params: {} };
    case 'invalid_client':
      return { ok: false, template: 'Salesforce refused the consumer secret (invalid_client): copy it again from the Connected App.', params: {} };
    case null:
      if (err.status >= 500) return { ok: false, template: 'Salesforce answered HTTP {status}: {message}', params: { status: err.status, message: err.message } };
      return { ok: false, template: '{url} does not answer like a Salesforce login (HTTP {status}): use the org’s My Domain address.', params: { url, status: err.status } };
    default:
      return { ok: false, template: 'Salesforce refused the token request ({error}): {message}', params: { error: err.code, message: err.detail ?? '' } };
  }
}

function diagnoseApi(err: SalesforceError, url: string): CrmDiagnosis {
  if (err.status === null) return { ok: false, template: 'Salesforce could not be reached at {url}: {reason}', params: { url, reason: err.message.replace(/^Salesforce not reached: /, '') } };
  const message = err.detail ?? err.message;
  if (err.code === 'API_DISABLED_FOR_ORG') {
    return { ok: false, template: 'The Salesforce org does not allow API access (API_DISABLED_FOR_ORG): its edition must include the API and the user’s profile needs “API Enabled”.', params: {} };
  }
  if (err.code === 'REQUEST_LIMIT_EXCEEDED') {
    return { ok: false, template: 'The Salesforce org has used up its API requests (REQUEST_LIMIT_EXCEEDED): tasks wait until requests are free again. Salesforce said: {message}', params: { message } };
  }
  if (err.code?.startsWith('INSUFFICIENT_ACCESS')) return { ok: false, template: 'The Salesforce user lacks a permission ({code}): {message}', params: { code: err.code, message } };
  if (err.status === 401) return { ok: false, template: 'Salesforce refused the new access token (401 {code}): {message}', params: { code: err.code ?? '', message } };
  if (err.status === 404 || !err.code) return { ok: false, template: '{url} does not answer like the Salesforce API (HTTP {status}): check the address.', params: { url, status: err.status } };
  return { ok: false, template: 'Salesforce answered HTTP {status}: {message}', params: { status: err.status, message: err.message } };
}

const STATUS = { open: 'Not Started', completed: 'Completed' } as const;
const PRIORITY = { HIGH: 'High', MEDIUM: 'Normal', LOW: 'Low' } as const;

function taskFields(task: CrmTask): Record<string, string> {
  const tail = ` [${task.marker}]`;
  const subject = task.subject.length + tail.length > SUBJECT_MAX ? task.subject.slice(0, SUBJECT_MAX - tail.length - 1) + '…' : task.subject;
  return {
    Subject: subject + tail,
    Description: task.body,
    ActivityDate: task.dueDay,
    Status: task.completed ? STATUS.completed : STATUS.open,
    Priority: PRIORITY[task.priority],
  };
}

/** The spellings sent to SOQL: ours, and libphonenumber's formats (Salesforce formats like them). */
function spellingsOf(phone: PhoneVariants): string[] {
  const out = new Set(phone.spellings);
  const parsed = phone.display.startsWith('+') ? parsePhoneNumberFromString(phone.display) : undefined;
  if (parsed?.isValid()) {
    out.add(parsed.formatInternational());
    out.add(parsed.formatNational());
  }
  return [...out].filter(Boolean);
}

/** A SOQL string literal: backslash and quote escaped, as the SOQL reference says. */
export function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;
}

/** LIKE's wildcards taken literally. */
function likeEscaped(value: string): string {
  return value.replace(/[%_]/g, (c) => `\\${c}`);
}

function digitsOf(n: string | null | undefined): string {
  return (n ?? '').replace(/\D/g, '');
}
