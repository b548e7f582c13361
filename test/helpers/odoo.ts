import type { IncomingMessage, ServerResponse } from 'node:http';
import { StandInServer } from './stand-in-server.js';

/**
 * A stand-in for one Odoo 14–17 database behind its external JSON-RPC API (`POST /jsonrpc`,
 * {"jsonrpc":"2.0","method":"call","params":{service, method, args}}), implementing the
 * subset the connector calls the way Odoo does it:
 *  - common.version, common.authenticate (false for a bad login or key, a psycopg2
 *    OperationalError for a database that does not exist), common.login;
 *  - object.execute_kw(db, uid, key, model, method, args, kwargs): the key checked on every
 *    call (odoo.exceptions.AccessDenied), per-model access rights (odoo.exceptions.AccessError
 *    with Odoo 17's wording), search_read with Polish-notation domains ('|', '&', '=', 'in',
 *    'ilike' wrapped in %…%, '=ilike' taken as given), limit / offset / order / active_test, create,
 *    write, unlink (MissingError on a deleted record; a record's activities and chatter go
 *    with it, as mail.thread / mail.activity.mixin do; a partner a sale order points at is
 *    refused, as PostgreSQL's foreign key makes Odoo refuse it), check_access_rights, and
 *    mail.activity.action_feedback: a "done" message on the record's chatter, then the
 *    activity deleted — or archived when the database is a 17 whose Call type keeps done
 *    activities;
 *  - errors as Odoo's JSON-RPC error objects, with HTTP 200: {code: 200, message: "Odoo Server
 *    Error", data: {name, debug, message, arguments, context}}; a model that is not installed
 *    is the registry's KeyError.
 * It knows nothing of our code: tests read its records as Odoo's UI would show them.
 */

export type OdooRecord = Record<string, unknown> & { id: number };

export interface SeenCall {
  service: string;
  method: string;
  /** execute_kw's model and method, e.g. "mail.activity create". */
  call: string;
  args: unknown[];
  at: number;
  answered: number;
  /** The exception Odoo answered with (error.data.name), null for a result. */
  error: string | null;
}

export type Interceptor = (call: SeenCall) => { status: number; body?: string; headers?: Record<string, string> } | undefined;

export interface OdooStandInOptions {
  database: string;
  login: string;
  apiKey: string;
  /** The CRM app installed (crm.lead exists). */
  crm?: boolean;
  /** The Sales app installed (sale.order exists, its required customer a partner Odoo will not delete). */
  sales?: boolean;
  version?: string;
  /** Odoo 17, with the Call type's "Keep Done" ticked: done activities are archived. */
  keepDone?: boolean;
  /** Access rights per model ('read' | 'write' | 'create' | 'unlink'); every right when absent. */
  rights?: Record<string, string[]>;
  timeZone?: string;
}

const API_USER = 2;
const CALL_TYPE = 2;
const MODEL_NAMES: Record<string, string> = {
  'res.partner': 'Contact', 'crm.lead': 'Lead/Opportunity', 'mail.activity': 'Activity', 'res.users': 'User',
  'ir.model': 'Models', 'ir.model.data': 'Model Data', 'mail.message': 'Message', 'sale.order': 'Sales Order',
};
/**
 * Required many2ones, which Odoo makes ON DELETE RESTRICT: the referenced record cannot be
 * unlinked while one of these points at it.
 */
const RESTRICTING: { model: string; field: string; target: string }[] = [{ model: 'sale.order', field: 'partner_id', target: 'res.partner' }];
const MANY2ONE: Record<string, string> = { user_id: 'res.users', activity_type_id: 'mail.activity.type', res_model_id: 'ir.model' };
const OPERATION_WORDS: Record<string, string> = { read: 'read', write: 'modify', create: 'create', unlink: 'delete' };

class OdooException extends Error {
  constructor(readonly name: string, message: string, readonly args: unknown[] = [message]) {
    super(message);
  }
}

export class OdooStandIn extends StandInServer {
  readonly tables = new Map<string, Map<number, OdooRecord>>();
  readonly calls: SeenCall[] = [];
  intercept: Interceptor | null = null;
  private nextId = 100;

  constructor(readonly options: OdooStandInOptions) {
    super();
    const models = ['res.partner', 'mail.activity', 'mail.message', 'res.users', 'ir.model', 'ir.model.data', 'mail.activity.type', ...(options.crm ? ['crm.lead'] : []), ...(options.sales ? ['sale.order'] : [])];
    for (const m of models) this.tables.set(m, new Map());
    this.put('res.users', { id: API_USER, name: 'Integration Bot', login: options.login, tz: options.timeZone ?? 'Europe/Bucharest', active: true });
    this.put('mail.activity.type', { id: 1, name: 'To-Do' });
    this.put('mail.activity.type', { id: CALL_TYPE, name: 'Call', keep_done: options.keepDone ?? false });
    this.put('ir.model.data', { id: 1, module: 'mail', name: 'mail_activity_data_todo', model: 'mail.activity.type', res_id: 1 });
    this.put('ir.model.data', { id: 2, module: 'mail', name: 'mail_activity_data_call', model: 'mail.activity.type', res_id: CALL_TYPE });
    models.forEach((model, i) => this.put('ir.model', { id: 80 + i, model, name: MODEL_NAMES[model] ?? model }));
  }

  addUser(name: string): number {
    return this.put('res.users', { name, login: name.toLowerCase().replace(/\W+/g, '.'), tz: 'Europe/Bucharest', active: true }).id;
  }

  addPartner(values: Record<string, unknown>): OdooRecord {
    return this.put('res.partner', { phone: false, mobile: false, user_id: false, active: true, ...values });
  }

  addLead(values: Record<string, unknown>): OdooRecord {
    return this.put('crm.lead', { phone: false, mobile: false, user_id: false, contact_name: false, partner_name: false, active: true, type: 'lead', ...values });
  }

  /** A quotation for the partner, as a salesperson makes one in the Sales app. */
  addSaleOrder(partnerId: number): OdooRecord {
    return this.put('sale.order', { name: `S${String(this.nextId + 1).padStart(5, '0')}`, partner_id: partnerId, state: 'draft' });
  }

  /** Every activity, archived ones included. */
  activities(): OdooRecord[] {
    return [...this.table('mail.activity').values()];
  }

  messages(): OdooRecord[] {
    return [...this.table('mail.message').values()];
  }

  table(model: string): Map<number, OdooRecord> {
    const t = this.tables.get(model);
    if (!t) throw new OdooException('builtins.KeyError', `'${model}'`);
    return t;
  }

  private put(model: string, values: Record<string, unknown>): OdooRecord {
    const id = typeof values.id === 'number' ? values.id : (this.nextId += 1);
    const r = { ...values, id } as OdooRecord;
    this.table(model).set(id, r);
    return r;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (req.method !== 'POST' || url.pathname !== '/jsonrpc') {
      // Werkzeug's page for a route Odoo does not have.
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server.</p>');
      return;
    }
    let request: { id?: unknown; params?: { service?: string; method?: string; args?: unknown[] } };
    try {
      request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof request;
    } catch {
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<p>Invalid JSON data</p>');
      return;
    }
    const { service = '', method = '', args = [] } = request.params ?? {};
    const call: SeenCall = {
      service, method, args, at: Date.now(), answered: 0, error: null,
      call: service === 'object' && method === 'execute_kw' ? `${String(args[3])} ${String(args[4])}` : `${service}.${method}`,
    };
    this.calls.push(call);
    const forced = this.intercept?.(call);
    if (forced) {
      call.answered = forced.status;
      res.writeHead(forced.status, { 'content-type': 'text/html; charset=utf-8', ...forced.headers });
      res.end(forced.body ?? '');
      return;
    }
    call.answered = 200;
    res.writeHead(200, { 'content-type': 'application/json' });
    try {
      res.end(JSON.stringify({ jsonrpc: '2.0', id: request.id ?? null, result: this.dispatch(service, method, args) }));
    } catch (err) {
      const e = err instanceof OdooException ? err : new OdooException(`builtins.${(err as Error).name}`, (err as Error).message);
      call.error = e.name;
      res.end(JSON.stringify({
        jsonrpc: '2.0', id: request.id ?? null,
        error: { code: 200, message: 'Odoo Server Error', data: { name: e.name, debug: `Traceback (most recent call last):\n  …\n${e.name}: ${e.message}\n`, message: e.message, arguments: e.args, context: {} } },
      }));
    }
  }

  private dispatch(service: string, method: string, args: unknown[]): unknown {
    const version = this.options.version ?? '17.0';
    if (service === 'common' && method === 'version') {
      return { server_version: version, server_version_info: [Number(version.split('.')[0]), 0, 0, 'final', 0, ''], server_serie: version, protocol_version: 1 };
    }
    if (service === 'common' && (method === 'authenticate' || method === 'login')) {
      const [db, login, key] = args as [string, string, string];
      this.database(db);
      return login === this.options.login && key === this.options.apiKey ? API_USER : false;
    }
    if (service === 'object' && method === 'execute_kw') {
      const [db, uid, key, model, fn, fnArgs = [], kwargs = {}] = args as [string, number, string, string, string, unknown[], Record<string, unknown>];
      this.database(db);
      if (uid !== API_USER || key !== this.options.apiKey) throw new OdooException('odoo.exceptions.AccessDenied', 'Access Denied');
      return this.execute(model, fn, fnArgs, kwargs);
    }
    throw new OdooException('builtins.Exception', `Method not found: ${method}`);
  }

  private database(db: string): void {
    if (db !== this.options.database) {
      throw new OdooException('psycopg2.OperationalError', `connection to server at "localhost" (127.0.0.1), port 5432 failed: FATAL:  database "${db}" does not exist\n`);
    }
  }

  private allowed(model: string, operation: string): boolean {
    const rights = this.options.rights?.[model];
    return rights === undefined || rights.includes(operation);
  }

  private check(model: string, operation: string): void {
    if (this.allowed(model, operation)) return;
    throw new OdooException('odoo.exceptions.AccessError',
      `You are not allowed to ${OPERATION_WORDS[operation]} '${MODEL_NAMES[model] ?? model}' (${model}) records.\n\nThis operation is allowed for the following groups:\n\t- Sales/Administrator\n\nContact your administrator to request access if necessary.`);
  }

  private execute(model: string, fn: string, args: unknown[], kwargs: Record<string, unknown>): unknown {
    const table = this.table(model);
    switch (fn) {
      case 'check_access_rights': {
        const ok = this.allowed(model, String(args[0]));
        if (!ok && kwargs.raise_exception !== false) this.check(model, String(args[0]));
        return ok;
      }
      case 'search_read': {
        this.check(model, 'read');
        const domain = (args[0] ?? kwargs.domain ?? []) as unknown[];
        const fields = (args[1] ?? kwargs.fields ?? []) as string[];
        const context = (kwargs.context ?? {}) as Record<string, unknown>;
        let rows = [...table.values()].filter((r) => matches(r, domain));
        if (context.active_test !== false && !domain.some((t) => Array.isArray(t) && t[0] === 'active')) rows = rows.filter((r) => r.active !== false);
        rows.sort((a, b) => (String(kwargs.order ?? 'id').includes('desc') ? b.id - a.id : a.id - b.id));
        const offset = typeof kwargs.offset === 'number' ? kwargs.offset : 0;
        rows = rows.slice(offset, typeof kwargs.limit === 'number' && kwargs.limit > 0 ? offset + kwargs.limit : undefined);
        return rows.map((r) => this.shown(r, fields));
      }
      case 'create': {
        this.check(model, 'create');
        const values = { ...(args[0] as Record<string, unknown>) };
        if (model === 'mail.activity') return this.createActivity(values).id;
        if (model === 'res.partner' && !values.name) throw new OdooException('odoo.exceptions.ValidationError', 'Contacts require a name', ['Contacts require a name']);
        if (model === 'crm.lead' && !values.name) throw new OdooException('odoo.exceptions.ValidationError', 'The operation cannot be completed: missing required field Opportunity');
        return this.put(model, { phone: false, mobile: false, user_id: model === 'crm.lead' ? API_USER : false, active: true, ...values }).id;
      }
      case 'write': {
        const [ids, values] = args as [number[], Record<string, unknown>];
        for (const r of this.browse(model, ids)) {
          if (model === 'mail.activity') this.checkDocument(r, 'write');
          else this.check(model, 'write');
          Object.assign(r, values);
        }
        return true;
      }
      case 'unlink': {
        const doomed = this.browse(model, args[0] as number[]);
        for (const r of doomed) {
          if (model === 'mail.activity') this.checkDocument(r, 'write');
          else this.check(model, 'unlink');
          this.refuseIfReferenced(model, r.id);
        }
        for (const r of doomed) {
          table.delete(r.id);
          if (model === 'mail.activity' || model === 'mail.message') continue;
          // mail.activity.mixin and mail.thread: the record's activities and chatter go with it.
          for (const a of this.activities()) if (a.res_model === model && a.res_id === r.id) this.table('mail.activity').delete(a.id);
          for (const m of this.messages()) if (m.model === model && m.res_id === r.id) this.table('mail.message').delete(m.id);
        }
        return true;
      }
      case 'action_feedback': {
        if (model !== 'mail.activity') break;
        const feedback = kwargs.feedback ?? args[1] ?? false;
        let first: number | false = false;
        for (const a of this.browse(model, args[0] as number[])) {
          // Like _action_done: the message is posted on the record, then the activity goes.
          const message = this.put('mail.message', {
            model: a.res_model, res_id: a.res_id, message_type: 'notification', subtype: 'Activities', mail_activity_type_id: a.activity_type_id,
            body: `<div><p>${a.activity_type_id === CALL_TYPE ? 'Call' : 'To-Do'} done: ${String(a.summary ?? '')}</p>${feedback ? `<div>${String(feedback).split('\n').join('<br>')}</div>` : ''}<div><strong>Original note:</strong></div>${String(a.note ?? '')}</div>`,
          });
          first ||= message.id;
          const type = this.table('mail.activity.type').get(a.activity_type_id as number);
          if (type?.keep_done) Object.assign(a, { active: false, date_done: new Date().toISOString().slice(0, 10) });
          else this.table('mail.activity').delete(a.id);
        }
        return first;
      }
    }
    throw new OdooException('builtins.AttributeError', `The method '${fn}' does not exist on the model '${model}'`);
  }

  /** The whole unlink is one transaction: PostgreSQL's foreign key violation rolls it all back. */
  private refuseIfReferenced(model: string, id: number): void {
    for (const ref of RESTRICTING) {
      if (ref.target !== model || !this.tables.has(ref.model)) continue;
      if (![...this.table(ref.model).values()].some((r) => r[ref.field] === id)) continue;
      // odoo/service/model.py turns the IntegrityError into this ValidationError (Odoo 16–17 wording).
      throw new OdooException('odoo.exceptions.ValidationError',
        `The operation cannot be completed: another model requires the record being deleted. If possible, archive it instead.\n\nModel: ${MODEL_NAMES[ref.model]} (${ref.model})\nConstraint: ${ref.model.replace('.', '_')}_${ref.field}_fkey\n`);
    }
  }

  private createActivity(values: Record<string, unknown>): OdooRecord {
    const model = this.table('ir.model').get(values.res_model_id as number)?.model as string | undefined;
    if (!model) throw new OdooException('odoo.exceptions.ValidationError', 'The operation cannot be completed: missing required field Document Model');
    if (!values.res_id) throw new OdooException('odoo.exceptions.ValidationError', 'Activities have to be linked to records with a not null res_id.');
    if (!values.date_deadline) throw new OdooException('odoo.exceptions.ValidationError', 'The operation cannot be completed: missing required field Due Date');
    if (!this.table(model).has(values.res_id as number)) throw new OdooException('odoo.exceptions.MissingError', `Record does not exist or has been deleted.\n(Record: ${model}(${String(values.res_id)},), User: ${API_USER})`);
    const activity = { id: 0, active: true, activity_type_id: 1, user_id: API_USER, summary: false, note: false, ...values, res_model: model } as OdooRecord;
    this.checkDocument(activity, 'write');
    if (!this.table('res.users').has(activity.user_id as number)) throw new OdooException('odoo.exceptions.ValidationError', 'The operation cannot be completed: Assigned to');
    const { id: _unsaved, ...fields } = activity;
    return this.put('mail.activity', fields);
  }

  /** Activities are created, written and deleted with write access on their record. */
  private checkDocument(activity: OdooRecord, operation: string): void {
    this.check('mail.activity', operation === 'write' ? 'write' : operation);
    this.check(activity.res_model as string, 'write');
  }

  private browse(model: string, ids: number[]): OdooRecord[] {
    return ids.map((id) => {
      const r = this.table(model).get(id);
      if (!r) throw new OdooException('odoo.exceptions.MissingError', `Record does not exist or has been deleted.\n(Record: ${model}(${id},), User: ${API_USER})`);
      return r;
    });
  }

  private shown(r: OdooRecord, fields: string[]): Record<string, unknown> {
    const names = fields.length ? fields : Object.keys(r);
    const out: Record<string, unknown> = { id: r.id };
    for (const f of names) {
      const v = r[f] ?? false;
      const target = MANY2ONE[f];
      if (target && typeof v === 'number') {
        const linked = this.tables.get(target)?.get(v);
        out[f] = [v, String(linked?.name ?? linked?.model ?? v)];
      } else out[f] = v;
    }
    return out;
  }
}

/** Odoo's domain: a list in Polish notation, terms joined by '&' unless an operator says otherwise. */
function matches(r: OdooRecord, domain: unknown[]): boolean {
  let i = 0;
  const next = (): boolean => {
    const token = domain[i++];
    if (token === '|') return [next(), next()].some(Boolean);
    if (token === '&') return [next(), next()].every(Boolean);
    if (token === '!') return !next();
    return term(r, token as [string, string, unknown]);
  };
  let all = true;
  while (i < domain.length) all = next() && all;
  return all;
}

function term(r: OdooRecord, [field, op, value]: [string, string, unknown]): boolean {
  const v = r[field] ?? false;
  switch (op) {
    case '=':
      return v === value;
    case '!=':
      return v !== value;
    case 'in':
      return (value as unknown[]).includes(v);
    case 'ilike':
      return typeof v === 'string' && like(`%${String(value)}%`).test(v);
    case '=ilike':
      return typeof v === 'string' && like(String(value)).test(v);
    default:
      throw new OdooException('builtins.ValueError', `Invalid leaf ${JSON.stringify([field, op, value])}`);
  }
}

/** SQL ILIKE: % any run, _ any one character, the rest literal, case-insensitive. */
function like(pattern: string): RegExp {
  const body = [...pattern].map((c) => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'is');
}

/** A 429 as a proxy in front of Odoo sends it. */
export function rateLimited(retryAfterSeconds: number): { status: number; body: string; headers: Record<string, string> } {
  return { status: 429, body: '<html><body><h1>429 Too Many Requests</h1></body></html>', headers: { 'retry-after': String(retryAfterSeconds) } };
}
