import type { Network } from '../../config/networks.js';
import { crmRequest } from './http.js';
import { CrmError, type CrmConnector, type CrmContact, type CrmDiagnosis, type CrmTask, type PhoneVariants } from './connector.js';

/**
 * Odoo 14–17 through its external JSON-RPC API: every call is a POST of
 * {"jsonrpc":"2.0","method":"call","params":{service, method, args}} to `/jsonrpc` under the
 * tenant's base URL, the user's API key standing in for the password. The calls (docs/crm.md
 * lists them with the access rights they need):
 *
 *   common.version                                        Test connection: is this Odoo?
 *   common.authenticate(db, login, key, {})               the user id (false: bad login or key)
 *   object.execute_kw(db, uid, key, model, method, args, kwargs) with
 *     res.users      search_read   the API user's time zone (the activity's date is a local date)
 *     res.partner    search_read   contact by phone / mobile
 *     crm.lead       search_read   lead by phone / mobile, when no contact has the number
 *     res.partner    create        contact for the caller (when the tenant asks for it)
 *     crm.lead       create        lead for an unknown caller (an activity needs a record)
 *     ir.model       search_read   the ids of res.partner and crm.lead (activities point at them)
 *     ir.model.data  search_read   the "Call" activity type, by its xml id
 *     mail.activity  search_read   activity by id, or by our marker in its note
 *     mail.activity  create        the activity, assigned to the record's salesperson
 *     mail.activity  write         summary, note, date updated
 *     mail.activity  action_feedback  marked done with the reason
 *     mail.activity  unlink        removed (forget)
 *     <model>        check_access_rights   Test connection: read / write / create granted?
 *
 * Marking an activity done is final in Odoo: action_feedback posts a "Call done" message with
 * the feedback on the record's chatter and deletes the activity (Odoo 14–16), or archives it
 * when its type keeps done activities (17); nothing reopens it. So a reopened entry gets a new
 * activity on the same record with the same marker, and the id we keep names the record and
 * the marker as well as the activity ("17@res.partner/42#smc…"): an update whose activity is
 * gone finds its successor by the marker, or, when the entry is open again, makes it.
 *
 * Plain HTTP through outboundRequest (the address is checked like a webhook's), no Odoo
 * client library: JSON-RPC is one request shape, and the retries must be the outbox's.
 */

/** The API user's id and time zone, found once per connector. */
interface Session {
  uid: number;
  timeZone: string;
}

/** Odoo's JSON-RPC error: {code, message: "Odoo Server Error", data: {name, message, debug, arguments, context}}. */
interface JsonRpcError {
  code?: number;
  message?: string;
  data?: { name?: string; message?: string };
}

type Many2one = [number, string] | false;

interface PartnerRow {
  id: number;
  name: string | false;
  phone: string | false;
  mobile: string | false;
  user_id: Many2one;
}

interface LeadRow extends PartnerRow {
  contact_name: string | false;
  partner_name: string | false;
}

interface ActivityRow {
  id: number;
  res_model: string;
  res_id: number;
  note: string | false;
}

/** Where an activity lives: which record, and the marker that finds it again. */
interface TaskHandle {
  activityId: number;
  model: string;
  resId: number;
  marker: string;
}

const ODOO_CALL_ACTIVITY = 'mail.mail_activity_data_call';
const LEAD_MODEL = 'crm.lead';
const PARTNER_MODEL = 'res.partner';
/** Pages of loose hits looked through for one whose digits really match. */
const SEARCH_PAGE = 80;
const SEARCH_PAGES = 5;
const ONE_MINUTE_MS = 60_000;

export interface OdooOptions {
  baseUrl: string;
  database: string;
  login: string;
  apiKey: string;
  allowedNetworks: readonly Network[];
  timeoutMs?: number;
}

export class OdooError extends CrmError {
  constructor(
    message: string,
    status: number | null,
    retryAfterMs: number | null,
    /** Odoo's exception class (error.data.name), e.g. odoo.exceptions.AccessError. */
    readonly exception: string | null,
    /** Odoo's own words, without our prefix. */
    readonly odooMessage: string | null,
  ) {
    super(message, status, retryAfterMs);
  }
}

/**
 * The status a JSON-RPC error stands for. Odoo answers them all with HTTP 200, but every one
 * rolled its transaction back, so nothing was created: a 4xx tells the delivery the create
 * need not wait for a search (src/notify/crm/deliver.ts). Server faults stay 500.
 */
function statusOf(exception: string): number {
  if (exception.endsWith('.AccessDenied')) return 401;
  if (exception.endsWith('.AccessError')) return 403;
  if (exception.endsWith('.MissingError')) return 404;
  if (exception.startsWith('odoo.exceptions.')) return 422;
  return 500;
}

/** Retry-After in seconds or as an HTTP date; null when absent. */
function retryAfterOf(header: string | string[] | undefined): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

export class OdooConnector implements CrmConnector {
  readonly kind = 'odoo';
  private session: Promise<Session> | null = null;
  private modelIds: Promise<Map<string, number>> | null = null;
  private callType: Promise<number | null> | null = null;
  /** The number the last contact search was for: a lead made for an unknown caller carries it. */
  private lastPhone: PhoneVariants | null = null;
  private nextId = 1;

  constructor(private readonly options: OdooOptions) {}

  private async rpc<T>(service: 'common' | 'object', method: string, args: unknown[]): Promise<T> {
    const res = await crmRequest(
      this.options,
      {
        url: this.options.baseUrl.replace(/\/+$/, '') + '/jsonrpc',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'call', params: { service, method, args }, id: this.nextId++ }),
        maxBodyBytes: 4_000_000,
      },
      (reason) => new OdooError(`Odoo not reached: ${reason}`, null, null, null, null),
    );
    const text = res.text;
    if (res.status === 429 || res.status === 503) {
      // A proxy in front of Odoo (Odoo.sh, a load balancer) shedding load: wait as told.
      const wait = retryAfterOf(res.headers['retry-after']);
      throw new OdooError(`Odoo HTTP ${res.status}: ${pageText(text)}`, res.status, wait ?? (res.status === 429 ? ONE_MINUTE_MS : null), null, null);
    }
    if (res.status < 200 || res.status >= 300) throw new OdooError(`Odoo HTTP ${res.status}: ${pageText(text)}`, res.status, null, null, null);
    let answer: { result?: T; error?: JsonRpcError };
    try {
      answer = JSON.parse(text) as { result?: T; error?: JsonRpcError };
    } catch {
      throw new OdooError(`Odoo answered HTTP ${res.status} with no JSON-RPC: is the base URL Odoo's?`, res.status, null, null, null);
    }
    if (typeof answer !== 'object' || answer === null || (!('result' in answer) && !answer.error)) {
      throw new OdooError(`Odoo answered HTTP ${res.status} with no JSON-RPC: is the base URL Odoo's?`, res.status, null, null, null);
    }
    if (answer.error) {
      const exception = answer.error.data?.name ?? 'unknown';
      const words = (answer.error.data?.message || answer.error.message || 'no message').trim().slice(0, 600);
      throw new OdooError(`Odoo ${exception}: ${words}`, statusOf(exception), null, exception, words);
    }
    return answer.result as T;
  }

  private login(): Promise<Session> {
    this.session ??= (async () => {
      const { database, login, apiKey } = this.options;
      const uid = await this.rpc<number | false>('common', 'authenticate', [database, login, apiKey, {}]);
      if (typeof uid !== 'number' || uid <= 0) {
        throw new OdooError(`Odoo refused the login ${login} or its API key (authenticate answered false)`, 401, null, 'odoo.exceptions.AccessDenied', null);
      }
      const [me] = await this.execAs<{ tz: string | false }[]>(uid, 'res.users', 'search_read', [[['id', '=', uid]]], { fields: ['tz'], limit: 1 });
      return { uid, timeZone: me?.tz || 'UTC' };
    })();
    // A failed login is not remembered: the next call tries again.
    this.session.catch(() => (this.session = null));
    return this.session;
  }

  private execAs<T>(uid: number, model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}): Promise<T> {
    const { database, apiKey } = this.options;
    return this.rpc<T>('object', 'execute_kw', [database, uid, apiKey, model, method, args, kwargs]);
  }

  private async exec<T>(model: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}): Promise<T> {
    const { uid } = await this.login();
    return this.execAs<T>(uid, model, method, args, kwargs);
  }

  /** The ir.model ids of the models activities are put on; crm.lead is absent without the CRM app. */
  private models(): Promise<Map<string, number>> {
    this.modelIds ??= this.exec<{ id: number; model: string }[]>('ir.model', 'search_read', [[['model', 'in', [PARTNER_MODEL, LEAD_MODEL]]]], { fields: ['model'] })
      .then((rows) => new Map(rows.map((r) => [r.model, r.id])));
    this.modelIds.catch(() => (this.modelIds = null));
    return this.modelIds;
  }

  /** The "Call" activity type; null if a database deleted it (the activity then gets Odoo's default type). */
  private callActivityType(): Promise<number | null> {
    const [module, name] = ODOO_CALL_ACTIVITY.split('.') as [string, string];
    this.callType ??= this.exec<{ res_id: number }[]>('ir.model.data', 'search_read', [[['module', '=', module], ['name', '=', name]]], { fields: ['res_id'], limit: 1 })
      .then((rows) => rows[0]?.res_id ?? null);
    this.callType.catch(() => (this.callType = null));
    return this.callType;
  }

  /** Records of `model` whose phone or mobile holds the caller's last digits, however they were typed. */
  private async byPhone<T extends PartnerRow>(model: string, phone: PhoneVariants, fields: string[]): Promise<T | null> {
    // Odoo keeps numbers as typed ("+40 731 000 001", "0731-000-001"). '=ilike' takes the pattern
    // as given, so '%' between the digits lets any spaces, dashes or dots sit between them; the
    // digits check below keeps only true matches. The same domain works on every 14–17 database,
    // where phone_mobile_search exists only with the sms / phone_validation modules.
    const pattern = `%${[...phone.key].join('%')}%`;
    for (let page = 0; page < SEARCH_PAGES; page += 1) {
      const rows = await this.exec<T[]>(model, 'search_read', [['|', ['phone', '=ilike', pattern], ['mobile', '=ilike', pattern]]], {
        fields: ['name', 'phone', 'mobile', 'user_id', ...fields], limit: SEARCH_PAGE, offset: page * SEARCH_PAGE, order: 'id',
      });
      const hit = rows.find((r) => [r.phone, r.mobile].some((n) => digitsOf(n).endsWith(phone.key)));
      if (hit) return hit;
      if (rows.length < SEARCH_PAGE) return null;
    }
    return null;
  }

  async findContactByPhone(phone: PhoneVariants): Promise<CrmContact | null> {
    this.lastPhone = phone;
    const partner = await this.byPhone<PartnerRow>(PARTNER_MODEL, phone, []);
    if (partner) return contactOf(partner, String(partner.id), partner.name || null);
    // A caller Odoo knows only as a lead or opportunity: the activity goes on the lead.
    if (!(await this.models()).has(LEAD_MODEL)) return null;
    const lead = await this.byPhone<LeadRow>(LEAD_MODEL, phone, ['contact_name', 'partner_name']);
    return lead ? contactOf(lead, `${LEAD_MODEL}/${lead.id}`, lead.contact_name || lead.partner_name || null) : null;
  }

  async createContact(phone: PhoneVariants, name: string): Promise<CrmContact> {
    const named = name.trim() !== '' && !/^[\d\s+()-]*$/.test(name);
    // Odoo refuses a contact without a name: the number stands in for an unknown one.
    const id = await this.exec<number>(PARTNER_MODEL, 'create', [{ name: named ? name.trim() : phone.display, phone: phone.display }]);
    return { id: String(id), ownerId: null, name: named ? name.trim() : null, ownerName: null };
  }

  async findTaskByMarker(marker: string): Promise<string | null> {
    const found = await this.activityByMarker(marker);
    return found ? handleText({ activityId: found.id, model: found.res_model, resId: found.res_id, marker }) : null;
  }

  private async activityByMarker(marker: string): Promise<ActivityRow | null> {
    const rows = await this.exec<ActivityRow[]>('mail.activity', 'search_read', [[['note', 'ilike', marker]]], { fields: ['res_model', 'res_id', 'note'], limit: 10, order: 'id desc' });
    return rows.find((r) => (r.note || '').includes(marker)) ?? null;
  }

  async createTask(task: CrmTask, contact: CrmContact | null): Promise<string> {
    let record = contact ? recordOf(contact) : null;
    if (!record) record = await this.leadForUnknownCaller(task);
    const activityId = await this.createActivity(task, record.model, record.resId, contact?.ownerId ?? null);
    return handleText({ activityId, model: record.model, resId: record.resId, marker: task.marker });
  }

  /**
   * An activity needs a record, and nobody in Odoo has this number: the caller becomes a lead
   * (a missed call from an unknown number is one), found again by its number if a crash came
   * between the lead and its activity.
   */
  private async leadForUnknownCaller(task: CrmTask): Promise<{ model: string; resId: number }> {
    const phone = this.lastPhone;
    if (!phone || !(await this.models()).has(LEAD_MODEL)) {
      throw new OdooError(
        'Odoo has no contact with this number and the CRM app (crm.lead) is not installed, so the activity has no record to go on: turn on "Create a contact when none has the number"',
        422, null, null, null,
      );
    }
    const again = await this.byPhone<LeadRow>(LEAD_MODEL, phone, ['contact_name', 'partner_name']);
    if (again) return { model: LEAD_MODEL, resId: again.id };
    // No type: Odoo makes it a lead, or an opportunity where the database does not use leads.
    const resId = await this.exec<number>(LEAD_MODEL, 'create', [{ name: task.subject, phone: phone.display }]);
    return { model: LEAD_MODEL, resId };
  }

  private async createActivity(task: CrmTask, model: string, resId: number, userId: string | null): Promise<number> {
    const [models, callType, session] = await Promise.all([this.models(), this.callActivityType(), this.login()]);
    const modelId = models.get(model);
    if (modelId === undefined) throw new OdooError(`Odoo has no model ${model} (ir.model)`, 422, null, null, null);
    return this.exec<number>('mail.activity', 'create', [{
      res_model_id: modelId,
      res_id: resId,
      ...(callType ? { activity_type_id: callType } : {}),
      ...(userId ? { user_id: Number(userId) } : {}),
      ...activityValues(task, session.timeZone),
    }]);
  }

  async updateTask(id: string, task: CrmTask): Promise<void> {
    const handle = parseHandle(id);
    const live = await this.liveActivity(handle, task.marker);
    if (!live) {
      // Done (or deleted) in Odoo: nothing more to do for a completed entry; an entry open
      // again gets a new activity on the same record, for its salesperson of today.
      if (task.completed) return;
      const owner = await this.ownerOf(handle.model, handle.resId);
      await this.createActivity(task, handle.model, handle.resId, owner);
      return;
    }
    if (task.completed) {
      await this.exec('mail.activity', 'action_feedback', [[live]], { feedback: feedbackOf(task) });
      return;
    }
    const session = await this.login();
    await this.exec('mail.activity', 'write', [[live], activityValues(task, session.timeZone)]);
  }

  /** The open activity of a handle: the one it names, else one carrying its marker. */
  private async liveActivity(handle: TaskHandle, marker: string): Promise<number | null> {
    const [named] = await this.exec<ActivityRow[]>('mail.activity', 'search_read', [[['id', '=', handle.activityId]]], { fields: ['res_model', 'res_id'], limit: 1 });
    if (named) return named.id;
    return (await this.activityByMarker(marker))?.id ?? null;
  }

  private async ownerOf(model: string, resId: number): Promise<string | null> {
    const [row] = await this.exec<{ user_id: Many2one }[]>(model, 'search_read', [[['id', '=', resId]]], { fields: ['user_id'], limit: 1 });
    return row?.user_id ? String(row.user_id[0]) : null;
  }

  async deleteTask(id: string): Promise<void> {
    const handle = parseHandle(id);
    // Archived done activities (Odoo 17, types that keep them) go too: active_test off.
    const rows = await this.exec<ActivityRow[]>('mail.activity', 'search_read', [['|', ['id', '=', handle.activityId], ['note', 'ilike', handle.marker]]], {
      fields: ['note'], context: { active_test: false },
    });
    const ids = rows.filter((r) => r.id === handle.activityId || (r.note || '').includes(handle.marker)).map((r) => r.id);
    if (ids.length) await this.exec('mail.activity', 'unlink', [ids]);
  }

  /** The contact createContact made (ours, so forget removes it); one already gone is fine. */
  async deleteContact(id: string): Promise<void> {
    try {
      await this.exec(PARTNER_MODEL, 'unlink', [[Number(id)]]);
    } catch (err) {
      if ((err as OdooError).status !== 404) throw err;
    }
  }

  async testConnection(needs: { createContact: boolean }): Promise<CrmDiagnosis> {
    const { baseUrl: url, database, login } = this.options;
    let version: string;
    try {
      const about = await this.rpc<{ server_version?: string }>('common', 'version', []);
      version = String(about?.server_version ?? '');
      if (!version) throw new OdooError('no server_version', 200, null, null, null);
    } catch (err) {
      const e = err as OdooError;
      if (e.status === null) return { ok: false, template: 'Odoo could not be reached at {url}: {reason}', params: { url, reason: e.message.replace(/^Odoo not reached: /, '') } };
      if (e.retryAfterMs !== null || e.status === 503) return { ok: false, template: 'Odoo is busy (HTTP {status}): try again in a minute.', params: { status: e.status } };
      return { ok: false, template: '{url} does not answer like Odoo’s JSON-RPC API (/jsonrpc): check the base URL.', params: { url } };
    }
    const major = Number(/^(?:saas~)?(\d+)/.exec(version)?.[1] ?? 0);
    try {
      await this.login();
    } catch (err) {
      const e = err as OdooError;
      if (e.exception?.endsWith('AccessDenied')) return { ok: false, template: 'Odoo refused the login {login} or its API key: check both (the key is made under the user’s Preferences → Account Security).', params: { login } };
      if (/database .* does not exist|OperationalError|KeyError/i.test(`${e.exception ?? ''} ${e.odooMessage ?? ''}`)) {
        return { ok: false, template: 'Odoo has no database {database}: check the database name (Odoo shows it on its database selector, or ask the host).', params: { database } };
      }
      return { ok: false, template: 'Odoo answered: {message}', params: { message: e.message } };
    }
    const rights: [string, string][] = [[PARTNER_MODEL, 'read'], [PARTNER_MODEL, 'write'], ['mail.activity', 'create']];
    if (needs.createContact) rights.push([PARTNER_MODEL, 'create']);
    try {
      for (const [model, right] of rights) {
        const granted = await this.exec<boolean>(model, 'check_access_rights', [right], { raise_exception: false });
        if (!granted) return { ok: false, template: 'The Odoo user {login} lacks the access right “{right}” on {model}: grant it in Odoo (Settings → Users) and try again.', params: { login, right, model } };
      }
      // Unknown callers become leads where the CRM app is installed (and no contact is made).
      if ((await this.models()).has(LEAD_MODEL) && !needs.createContact) {
        const granted = await this.exec<boolean>(LEAD_MODEL, 'check_access_rights', ['create'], { raise_exception: false });
        if (!granted) return { ok: false, template: 'The Odoo user {login} lacks the access right “{right}” on {model}: grant it in Odoo (Settings → Users) and try again.', params: { login, right: 'create', model: LEAD_MODEL } };
      }
      await this.callActivityType();
    } catch (err) {
      const e = err as OdooError;
      if (e.exception?.endsWith('AccessError')) return { ok: false, template: 'The Odoo user {login} lacks an access right Odoo named: {message}', params: { login, message: e.odooMessage ?? e.message } };
      return { ok: false, template: 'Odoo answered: {message}', params: { message: e.message } };
    }
    if (major < 14 || major > 17) {
      return { ok: true, template: 'Connected to Odoo {version} as {login}; this connector is made for Odoo 14 to 17.', params: { version, login } };
    }
    return { ok: true, template: 'Connected to Odoo {version} as {login}: the API key works and can read contacts and schedule activities.', params: { version, login } };
  }
}

function contactOf(row: PartnerRow, id: string, name: string | null): CrmContact {
  return { id, ownerId: row.user_id ? String(row.user_id[0]) : null, name, ownerName: row.user_id ? row.user_id[1] : null };
}

/** A contact id names a partner ("42") or a lead ("crm.lead/7"). */
function recordOf(contact: CrmContact): { model: string; resId: number } {
  const lead = /^crm\.lead\/(\d+)$/.exec(contact.id);
  return lead ? { model: LEAD_MODEL, resId: Number(lead[1]) } : { model: PARTNER_MODEL, resId: Number(contact.id) };
}

function handleText(h: TaskHandle): string {
  return `${h.activityId}@${h.model}/${h.resId}#${h.marker}`;
}

function parseHandle(id: string): TaskHandle {
  const m = /^(\d+)@([a-z_.]+)\/(\d+)#([a-z0-9]+)$/.exec(id);
  if (!m) throw new OdooError(`not an Odoo activity of ours: ${id}`, 422, null, null, null);
  return { activityId: Number(m[1]), model: m[2]!, resId: Number(m[3]), marker: m[4]! };
}

function activityValues(task: CrmTask, timeZone: string): Record<string, string> {
  return { summary: task.subject, note: noteOf(task.body), date_deadline: localDate(task.dueAt, timeZone) };
}

/** The note is HTML: a paragraph per line, escaped (the marker line among them). */
function noteOf(body: string): string {
  return body.split('\n').map((line) => `<p>${escapeHtml(line)}</p>`).join('');
}

/** What action_feedback posts on the chatter: the final text, without the marker. */
function feedbackOf(task: CrmTask): string {
  return task.body.split('\n').filter((line) => !line.includes(task.marker)).join('\n');
}

/** The activity's due date: a calendar date, in the Odoo user's zone as Odoo's own UI sets it. */
function localDate(at: Date, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
  } catch {
    return at.toISOString().slice(0, 10);
  }
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** An error page's words (Odoo's and proxies' are HTML), short enough for a status line. */
function pageText(body: string): string {
  return body.replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300) || 'no message';
}

function digitsOf(n: string | false | null | undefined): string {
  return (n || '').replace(/\D/g, '');
}
