import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StandInServer } from './stand-in-server.js';

/**
 * A stand-in for one Salesforce org: an HTTP server implementing the subset of Salesforce's
 * REST API and OAuth 2.0 token endpoint the connector calls, the way Salesforce's reference
 * describes them —
 *  - POST /services/oauth2/token, form-encoded, grant_type=refresh_token: {access_token,
 *    instance_url, id, token_type, issued_at, signature, scope}, or 400 {error,
 *    error_description} (invalid_grant "expired access/refresh token", invalid_client_id,
 *    invalid_client, unsupported_grant_type);
 *  - access tokens that expire (401 [{message: "Session expired or invalid", errorCode:
 *    "INVALID_SESSION_ID"}]);
 *  - the REST error body, an array of {message, errorCode, fields}; Sforce-Limit-Info:
 *    api-usage=n/limit on every answer; 403 REQUEST_LIMIT_EXCEEDED past the daily limit;
 *    403 API_DISABLED_FOR_ORG;
 *  - GET query?q= with a SOQL subset (SELECT fields incl. Owner.Name, FROM, WHERE with = != IN
 *    LIKE, AND / OR — never mixed without parentheses — and parentheses, ORDER BY, LIMIT), 400
 *    MALFORMED_QUERY / INVALID_FIELD (a long text area such as Task.Description cannot be
 *    filtered), paged by batches with `done` and `nextRecordsUrl`;
 *  - sobjects Contact / Lead / Task: POST (201 {id, success, errors}), PATCH (204), DELETE
 *    (204; the record goes to the recycle bin, later calls 404 ENTITY_IS_DELETED), required
 *    fields, restricted picklists, TaskSubtype settable on create only;
 *  - GET sobjects (describeGlobal) with the user's queryable / createable / updateable flags.
 * It knows nothing of our code: tests read its records as Salesforce's UI would show them.
 */

export const API = '/services/data/v60.0';

/** What the org fills in on a new record: a lead is unconverted, in the first Lead Status. */
const CREATE_DEFAULTS: Record<'Contact' | 'Lead' | 'Task', Record<string, unknown>> = {
  Contact: {},
  Lead: { IsConverted: false, Status: 'Open - Not Contacted' },
  Task: { Status: 'Not Started', Priority: 'Normal', TaskSubtype: 'Task' },
};

export type SalesforceRecord = Record<string, unknown> & { Id: string };

export interface SeenRequest {
  method: string;
  path: string;
  body: unknown;
  at: number;
  answered: number;
}

/** Answers a request instead of the org (a forced limit, 500, …), or undefined to let it through. */
export type Interceptor = (req: SeenRequest) => { status: number; body?: unknown; headers?: Record<string, string> } | undefined;

export interface OrgOptions {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** The scopes the refresh token was granted. */
  scope?: string;
  /** Records per query answer; the rest is paged (Salesforce: up to 2,000). */
  batchSize?: number;
  apiEnabled?: boolean;
  /** Object permissions of the integration user; all granted when left out. */
  permissions?: Partial<Record<'Contact' | 'Lead' | 'Task', { read?: boolean; create?: boolean; edit?: boolean; delete?: boolean }>>;
  /** The org's daily API request allowance. */
  dailyLimit?: number;
  /** The Connected App rotates refresh tokens: each refresh answers a new one and voids the old. */
  rotateRefreshTokens?: boolean;
}

/** The integration user: the default owner of what it creates. */
export const INTEGRATION_USER = '005000000000001AAA';

const FIELDS: Record<string, { fields: string[]; create: string[]; update: string[]; required: string[]; unfilterable?: string[] }> = {
  Contact: {
    fields: ['Id', 'Name', 'FirstName', 'LastName', 'Phone', 'MobilePhone', 'OwnerId', 'AccountId', 'CreatedDate', 'LastModifiedDate', 'IsDeleted'],
    create: ['FirstName', 'LastName', 'Phone', 'MobilePhone', 'OwnerId', 'AccountId'],
    update: ['FirstName', 'LastName', 'Phone', 'MobilePhone', 'OwnerId', 'AccountId'],
    required: ['LastName'],
  },
  Lead: {
    fields: ['Id', 'Name', 'FirstName', 'LastName', 'Company', 'Phone', 'MobilePhone', 'OwnerId', 'Status', 'IsConverted', 'CreatedDate', 'LastModifiedDate', 'IsDeleted'],
    create: ['FirstName', 'LastName', 'Company', 'Phone', 'MobilePhone', 'OwnerId', 'Status'],
    update: ['FirstName', 'LastName', 'Company', 'Phone', 'MobilePhone', 'OwnerId', 'Status'],
    required: ['LastName', 'Company'],
  },
  Task: {
    fields: ['Id', 'Subject', 'Description', 'WhoId', 'WhatId', 'OwnerId', 'ActivityDate', 'Status', 'Priority', 'TaskSubtype', 'IsClosed', 'CreatedDate', 'LastModifiedDate', 'IsDeleted'],
    create: ['Subject', 'Description', 'WhoId', 'WhatId', 'OwnerId', 'ActivityDate', 'Status', 'Priority', 'TaskSubtype'],
    update: ['Subject', 'Description', 'WhoId', 'WhatId', 'OwnerId', 'ActivityDate', 'Status', 'Priority'],
    required: [],
    unfilterable: ['Description'],
  },
};
const PICKLISTS: Record<string, string[]> = {
  'Task.Status': ['Not Started', 'In Progress', 'Completed', 'Waiting on someone else', 'Deferred'],
  'Task.Priority': ['High', 'Normal', 'Low'],
  'Task.TaskSubtype': ['Task', 'Email', 'ListEmail', 'Cadence', 'Call', 'LinkedIn'],
};
const PREFIX: Record<string, string> = { Contact: '003', Lead: '00Q', Task: '00T' };

export class SalesforceOrg extends StandInServer {
  readonly records = { Contact: new Map<string, SalesforceRecord>(), Lead: new Map<string, SalesforceRecord>(), Task: new Map<string, SalesforceRecord>() };
  readonly recycleBin = new Map<string, SalesforceRecord>();
  readonly users = new Map<string, string>([[INTEGRATION_USER, 'Integration User']]);
  readonly requests: SeenRequest[] = [];
  intercept: Interceptor | null = null;
  apiUsage = 0;
  private readonly sessions = new Set<string>();
  private readonly cursors = new Map<string, SalesforceRecord[]>();
  private revoked = false;
  private nextId = 1;

  constructor(readonly options: OrgOptions) {
    super();
  }

  /** Every access token expires (the session timeout passed); the refresh token still works. */
  expireSessions(): void {
    this.sessions.clear();
  }

  /** The admin revoked the app's access (or the refresh token policy expired it). */
  revokeRefreshToken(): void {
    this.revoked = true;
    this.sessions.clear();
  }

  add(object: 'Contact' | 'Lead', fields: Record<string, unknown>): SalesforceRecord {
    return this.store(object, { OwnerId: INTEGRATION_USER, ...CREATE_DEFAULTS[object], ...fields });
  }

  tasks(): SalesforceRecord[] {
    return [...this.records.Task.values()];
  }

  tokenRequests(): SeenRequest[] {
    return this.requests.filter((r) => r.path === '/services/oauth2/token');
  }

  private store(object: keyof SalesforceOrg['records'], fields: Record<string, unknown>): SalesforceRecord {
    const id = `${PREFIX[object]}${String(this.nextId++).padStart(12, '0')}AAA`;
    const now = new Date(Date.now() + this.nextId).toISOString().replace('Z', '+0000');
    const r: SalesforceRecord = { ...fields, Id: id, CreatedDate: now, LastModifiedDate: now, IsDeleted: false };
    if (object !== 'Task') r.Name = [r.FirstName, r.LastName].filter(Boolean).join(' ');
    else r.IsClosed = r.Status === 'Completed';
    this.records[object].set(id, r);
    return r;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const seen: SeenRequest = { method: req.method ?? 'GET', path: url.pathname + url.search, body: raw, at: Date.now(), answered: 0 };
    this.requests.push(seen);
    const forced = this.intercept?.(seen);
    if (forced) return this.answer(res, seen, forced.status, forced.body ?? null, forced.headers);
    if (url.pathname === '/services/oauth2/token') return this.token(res, seen, req, raw);
    if (!url.pathname.startsWith(`${API}/`) && url.pathname !== API) {
      return this.answer(res, seen, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !this.sessions.has(bearer)) return this.answer(res, seen, 401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    if (this.options.apiEnabled === false) return this.answer(res, seen, 403, [{ message: 'The REST API is not enabled for this Organization.', errorCode: 'API_DISABLED_FOR_ORG' }]);
    if (this.apiUsage >= (this.options.dailyLimit ?? 15_000)) return this.answer(res, seen, 403, [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }]);
    this.apiUsage += 1;
    try {
      seen.body = raw ? JSON.parse(raw) : null;
    } catch {
      return this.answer(res, seen, 400, [{ message: 'Unexpected character at [line:1, column:1]', errorCode: 'JSON_PARSER_ERROR' }]);
    }
    const rest = url.pathname.slice(API.length);
    if (seen.method === 'GET' && rest === '/sobjects') return this.answer(res, seen, 200, this.describeGlobal());
    if (seen.method === 'GET' && rest === '/query') return this.query(res, seen, url.searchParams.get('q') ?? '');
    const more = /^\/query\/(01g[\w]+)-(\d+)$/.exec(rest);
    if (seen.method === 'GET' && more) return this.queryMore(res, seen, more[1]!, Number(more[2]));
    const m = /^\/sobjects\/(Contact|Lead|Task)(?:\/(\w+))?$/.exec(rest);
    if (!m) return this.answer(res, seen, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    const object = m[1] as 'Contact' | 'Lead' | 'Task';
    const id = m[2];
    if (seen.method === 'POST' && !id) return this.create(res, seen, object, seen.body as Record<string, unknown>);
    if (id && (seen.method === 'PATCH' || seen.method === 'DELETE')) return this.change(res, seen, object, id, seen.body as Record<string, unknown>);
    return this.answer(res, seen, 405, [{ errorCode: 'METHOD_NOT_ALLOWED', message: `HTTP Method '${seen.method}' not allowed. Allowed are GET,HEAD,POST` }]);
  }

  private token(res: ServerResponse, seen: SeenRequest, req: IncomingMessage, raw: string): void {
    const o = this.options;
    if (seen.method !== 'POST') return this.answer(res, seen, 400, { error: 'invalid_request', error_description: 'must use HTTP POST' });
    if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return this.answer(res, seen, 400, { error: 'unsupported_grant_type', error_description: 'grant type not supported' });
    }
    const form = new URLSearchParams(raw);
    seen.body = Object.fromEntries([...form.keys()].map((k) => [k, '(form field)']));
    if (form.get('grant_type') !== 'refresh_token') return this.answer(res, seen, 400, { error: 'unsupported_grant_type', error_description: 'grant type not supported' });
    if (form.get('client_id') !== o.clientId) return this.answer(res, seen, 400, { error: 'invalid_client_id', error_description: 'client identifier invalid' });
    if (form.get('client_secret') !== o.clientSecret) return this.answer(res, seen, 400, { error: 'invalid_client', error_description: 'invalid client credentials' });
    if (this.revoked || form.get('refresh_token') !== o.refreshToken) return this.answer(res, seen, 400, { error: 'invalid_grant', error_description: 'expired access/refresh token' });
    const accessToken = `00D000000000001!${randomBytes(24).toString('base64url')}`;
    this.sessions.add(accessToken);
    let rotated: string | undefined;
    if (o.rotateRefreshTokens) {
      rotated = `5Aep861${randomBytes(30).toString('base64url')}`;
      o.refreshToken = rotated;
    }
    this.answer(res, seen, 200, {
      access_token: accessToken,
      signature: randomBytes(32).toString('base64'),
      scope: o.scope ?? 'api refresh_token',
      instance_url: this.url,
      id: `${this.url}/id/00D000000000001AAA/${INTEGRATION_USER}`,
      token_type: 'Bearer',
      issued_at: String(Date.now()),
      ...(rotated ? { refresh_token: rotated } : {}),
    });
  }

  private may(object: string, what: 'read' | 'create' | 'edit' | 'delete'): boolean {
    return (this.options.permissions?.[object as 'Task'] ?? {})[what] ?? true;
  }

  private describeGlobal(): unknown {
    return {
      encoding: 'UTF-8',
      maxBatchSize: 200,
      sobjects: Object.keys(FIELDS).map((name) => ({
        name, label: name, keyPrefix: PREFIX[name], custom: false,
        queryable: this.may(name, 'read'), retrieveable: this.may(name, 'read'), searchable: this.may(name, 'read'),
        createable: this.may(name, 'create'), updateable: this.may(name, 'edit'), deletable: this.may(name, 'delete'),
        urls: { sobject: `${API}/sobjects/${name}` },
      })),
    };
  }

  private query(res: ServerResponse, seen: SeenRequest, soql: string): void {
    let q: Query;
    try {
      q = parseSoql(soql);
    } catch (err) {
      return this.answer(res, seen, 400, [{ message: (err as Error).message, errorCode: 'MALFORMED_QUERY' }]);
    }
    const spec = FIELDS[q.object];
    if (!spec || !this.may(q.object, 'read')) {
      return this.answer(res, seen, 400, [{ message: `sObject type '${q.object}' is not supported.`, errorCode: 'INVALID_TYPE' }]);
    }
    const known = (f: string) => spec.fields.includes(f) || (f === 'Owner.Name' && spec.fields.includes('OwnerId'));
    for (const f of [...q.fields, ...fieldsOf(q.where), ...(q.orderBy ? [q.orderBy.field] : [])]) {
      if (!known(f)) return this.answer(res, seen, 400, [{ message: `No such column '${f}' on entity '${q.object}'.`, errorCode: 'INVALID_FIELD' }]);
    }
    for (const f of fieldsOf(q.where)) {
      if (spec.unfilterable?.includes(f)) return this.answer(res, seen, 400, [{ message: `field '${f}' can not be filtered in a query call`, errorCode: 'INVALID_FIELD' }]);
    }
    let rows = [...this.records[q.object as 'Task'].values()].filter((r) => !q.where || evaluate(q.where, r));
    if (q.orderBy) {
      const { field, desc } = q.orderBy;
      rows.sort((a, b) => String(a[field] ?? '').localeCompare(String(b[field] ?? '')) * (desc ? -1 : 1));
    }
    if (q.limit !== null) rows = rows.slice(0, q.limit);
    const shaped = rows.map((r) => this.shape(q.object, r, q.fields));
    this.page(res, seen, shaped, 0, shaped.length);
  }

  private queryMore(res: ServerResponse, seen: SeenRequest, locator: string, offset: number): void {
    const rows = this.cursors.get(locator);
    if (!rows) return this.answer(res, seen, 400, [{ message: 'invalid query locator', errorCode: 'INVALID_QUERY_LOCATOR' }]);
    this.page(res, seen, rows, offset, rows.length, locator);
  }

  private page(res: ServerResponse, seen: SeenRequest, rows: SalesforceRecord[], offset: number, totalSize: number, locator?: string): void {
    const size = this.options.batchSize ?? 2000;
    const batch = rows.slice(offset, offset + size);
    const done = offset + size >= rows.length;
    let next: string | undefined;
    if (!done) {
      const id = locator ?? `01g${String(this.nextId++).padStart(12, '0')}`;
      this.cursors.set(id, rows);
      next = `${API}/query/${id}-${offset + size}`;
    }
    this.answer(res, seen, 200, { totalSize, done, ...(next ? { nextRecordsUrl: next } : {}), records: batch });
  }

  private shape(object: string, r: SalesforceRecord, fields: string[]): SalesforceRecord {
    const out: SalesforceRecord = { attributes: { type: object, url: `${API}/sobjects/${object}/${r.Id}` }, Id: r.Id } as SalesforceRecord;
    for (const f of fields) {
      if (f === 'Owner.Name') {
        const owner = String(r.OwnerId ?? '');
        out.Owner = { attributes: { type: owner.startsWith('00G') ? 'Name' : 'User', url: `${API}/sobjects/User/${owner}` }, Name: this.users.get(owner) ?? null };
      } else out[f] = r[f] ?? null;
    }
    return out;
  }

  private create(res: ServerResponse, seen: SeenRequest, object: 'Contact' | 'Lead' | 'Task', body: Record<string, unknown> | null): void {
    if (!this.may(object, 'create')) {
      return this.answer(res, seen, 403, [{ message: `insufficient access rights on cross-reference id`, errorCode: 'INSUFFICIENT_ACCESS_OR_READONLY', fields: [] }]);
    }
    const fields = body ?? {};
    const refused = this.validate(object, fields, 'create');
    if (refused) return this.answer(res, seen, 400, [refused]);
    const r = this.store(object, { OwnerId: INTEGRATION_USER, ...CREATE_DEFAULTS[object], ...fields });
    this.answer(res, seen, 201, { id: r.Id, success: true, errors: [] });
  }

  private change(res: ServerResponse, seen: SeenRequest, object: 'Contact' | 'Lead' | 'Task', id: string, body: Record<string, unknown> | null): void {
    const r = this.records[object].get(id);
    if (!r) {
      return this.recycleBin.has(id)
        ? this.answer(res, seen, 404, [{ message: 'entity is deleted', errorCode: 'ENTITY_IS_DELETED', fields: [] }])
        : this.answer(res, seen, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
    }
    if (seen.method === 'DELETE') {
      if (!this.may(object, 'delete')) return this.answer(res, seen, 403, [{ message: 'insufficient access rights on object id', errorCode: 'INSUFFICIENT_ACCESS_OR_READONLY', fields: [] }]);
      this.records[object].delete(id);
      this.recycleBin.set(id, { ...r, IsDeleted: true });
      return this.answer(res, seen, 204, null);
    }
    if (!this.may(object, 'edit')) return this.answer(res, seen, 403, [{ message: 'insufficient access rights on object id', errorCode: 'INSUFFICIENT_ACCESS_OR_READONLY', fields: [] }]);
    const refused = this.validate(object, body ?? {}, 'update');
    if (refused) return this.answer(res, seen, 400, [refused]);
    Object.assign(r, body, { LastModifiedDate: new Date().toISOString().replace('Z', '+0000') });
    if (object === 'Task') r.IsClosed = r.Status === 'Completed';
    this.answer(res, seen, 204, null);
  }

  private validate(object: 'Contact' | 'Lead' | 'Task', fields: Record<string, unknown>, how: 'create' | 'update'): { message: string; errorCode: string; fields: string[] } | null {
    const spec = FIELDS[object]!;
    for (const f of Object.keys(fields)) {
      if (!spec.fields.includes(f)) return { message: `No such column '${f}' on sobject of type ${object}`, errorCode: 'INVALID_FIELD', fields: [] };
      if (!spec[how].includes(f)) return { message: `Unable to create/update fields: ${f}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.`, errorCode: 'INVALID_FIELD_FOR_INSERT_UPDATE', fields: [f] };
      const allowed = PICKLISTS[`${object}.${f}`];
      if (allowed && !allowed.includes(String(fields[f]))) return { message: `bad value for restricted picklist field: ${String(fields[f])}`, errorCode: 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', fields: [f] };
    }
    if (how === 'create') {
      const missing = spec.required.filter((f) => String(fields[f] ?? '').trim() === '');
      if (missing.length) return { message: `Required fields are missing: [${missing.join(', ')}]`, errorCode: 'REQUIRED_FIELD_MISSING', fields: missing };
    }
    if (typeof fields.Subject === 'string' && fields.Subject.length > 255) {
      return { message: 'Subject: data value too large', errorCode: 'STRING_TOO_LONG', fields: ['Subject'] };
    }
    if (fields.WhoId !== undefined && fields.WhoId !== null && !this.records.Contact.has(String(fields.WhoId)) && !this.records.Lead.has(String(fields.WhoId))) {
      return { message: 'Name ID: id value of incorrect type: ' + String(fields.WhoId), errorCode: 'FIELD_INTEGRITY_EXCEPTION', fields: ['WhoId'] };
    }
    if (fields.OwnerId !== undefined && !this.users.has(String(fields.OwnerId))) {
      return { message: 'Assigned To ID: owner cannot be blank', errorCode: 'INVALID_CROSS_REFERENCE_KEY', fields: ['OwnerId'] };
    }
    return null;
  }

  private answer(res: ServerResponse, seen: SeenRequest, status: number, body: unknown, headers: Record<string, string> = {}): void {
    seen.answered = status;
    res.writeHead(status, {
      'content-type': 'application/json;charset=UTF-8',
      ...(seen.path.startsWith(API) ? { 'sforce-limit-info': `api-usage=${this.apiUsage}/${this.options.dailyLimit ?? 15_000}` } : {}),
      ...headers,
    });
    res.end(body === null ? '' : JSON.stringify(body));
  }
}

/** A 403 as Salesforce sends it when the org's daily API requests are used up. */
export function requestLimitExceeded(used = 15_000, limit = 15_000): { status: number; body: unknown; headers: Record<string, string> } {
  return { status: 403, body: [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }], headers: { 'sforce-limit-info': `api-usage=${used}/${limit}` } };
}

// --- a SOQL subset ---------------------------------------------------------------------

type Value = string | number | boolean | null;
type Condition =
  | { kind: 'compare'; field: string; op: '=' | '!=' | 'LIKE'; value: Value }
  | { kind: 'in'; field: string; values: Value[] }
  | { kind: 'and' | 'or'; parts: Condition[] }
  | { kind: 'not'; part: Condition };

interface Query {
  fields: string[];
  object: string;
  where: Condition | null;
  orderBy: { field: string; desc: boolean } | null;
  limit: number | null;
}

type Token = { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'word'; v: string } | { t: 'sym'; v: string };

function tokenize(soql: string): Token[] {
  const out: Token[] = [];
  const re = /\s+|'((?:[^'\\]|\\.)*)'|(\d+(?:\.\d+)?)|([A-Za-z_][\w.]*)|(!=|<=|>=|[(),=<>])/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < soql.length) {
    re.lastIndex = at;
    m = re.exec(soql);
    if (!m) throw new Error(`unexpected token: '${soql.slice(at, at + 10)}'`);
    at = re.lastIndex;
    // Escapes resolved, but LIKE's escaped wildcards (\% and \_) are kept for its matcher.
    if (m[1] !== undefined) out.push({ t: 'str', v: m[1].replace(/\\([^%_])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c) });
    else if (m[2] !== undefined) out.push({ t: 'num', v: Number(m[2]) });
    else if (m[3] !== undefined) out.push({ t: 'word', v: m[3] });
    else if (m[4] !== undefined) out.push({ t: 'sym', v: m[4] });
  }
  return out;
}

function parseSoql(soql: string): Query {
  const tokens = tokenize(soql);
  let i = 0;
  const peek = () => tokens[i];
  const isWord = (w: string) => peek()?.t === 'word' && (peek()!.v as string).toUpperCase() === w;
  const expectWord = (w: string) => {
    if (!isWord(w)) throw new Error(`unexpected token: '${peek()?.v ?? '<EOF>'}', expecting ${w}`);
    i += 1;
  };
  const expectSym = (s: string) => {
    if (peek()?.t !== 'sym' || peek()!.v !== s) throw new Error(`unexpected token: '${peek()?.v ?? '<EOF>'}', expecting '${s}'`);
    i += 1;
  };
  const field = (): string => {
    const tok = peek();
    if (tok?.t !== 'word') throw new Error(`unexpected token: '${tok?.v ?? '<EOF>'}'`);
    i += 1;
    return tok.v;
  };
  const value = (): Value => {
    const tok = peek();
    i += 1;
    if (tok?.t === 'str' || tok?.t === 'num') return tok.v;
    if (tok?.t === 'word' && /^(true|false|null)$/i.test(tok.v)) return tok.v.toLowerCase() === 'null' ? null : tok.v.toLowerCase() === 'true';
    throw new Error(`unexpected token: '${tok?.v ?? '<EOF>'}'`);
  };
  const factor = (): Condition => {
    if (peek()?.t === 'sym' && peek()!.v === '(') {
      i += 1;
      const inner = expression();
      expectSym(')');
      return inner;
    }
    if (isWord('NOT')) {
      i += 1;
      return { kind: 'not', part: factor() };
    }
    const f = field();
    if (isWord('IN')) {
      i += 1;
      expectSym('(');
      const values = [value()];
      while (peek()?.t === 'sym' && peek()!.v === ',') {
        i += 1;
        values.push(value());
      }
      expectSym(')');
      return { kind: 'in', field: f, values };
    }
    if (isWord('LIKE')) {
      i += 1;
      return { kind: 'compare', field: f, op: 'LIKE', value: value() };
    }
    const op = peek();
    if (op?.t !== 'sym' || (op.v !== '=' && op.v !== '!=')) throw new Error(`unexpected token: '${op?.v ?? '<EOF>'}'`);
    i += 1;
    return { kind: 'compare', field: f, op: op.v, value: value() };
  };
  // SOQL refuses AND and OR side by side without parentheses.
  const expression = (): Condition => {
    const parts = [factor()];
    let joiner: 'and' | 'or' | null = null;
    while (isWord('AND') || isWord('OR')) {
      const j = (peek()!.v as string).toLowerCase() as 'and' | 'or';
      if (joiner && joiner !== j) throw new Error("unexpected token: '" + j.toUpperCase() + "'");
      joiner = j;
      i += 1;
      parts.push(factor());
    }
    return joiner ? { kind: joiner, parts } : parts[0]!;
  };
  expectWord('SELECT');
  const fields = [field()];
  while (peek()?.t === 'sym' && peek()!.v === ',') {
    i += 1;
    fields.push(field());
  }
  expectWord('FROM');
  const object = field();
  let where: Condition | null = null;
  if (isWord('WHERE')) {
    i += 1;
    where = expression();
  }
  let orderBy: Query['orderBy'] = null;
  if (isWord('ORDER')) {
    i += 1;
    expectWord('BY');
    orderBy = { field: field(), desc: false };
    if (isWord('DESC') || isWord('ASC')) orderBy.desc = (tokens[i++]!.v as string).toUpperCase() === 'DESC';
  }
  let limit: number | null = null;
  if (isWord('LIMIT')) {
    i += 1;
    const n = value();
    if (typeof n !== 'number') throw new Error('LIMIT must be a number');
    limit = n;
  }
  if (i < tokens.length) throw new Error(`unexpected token: '${tokens[i]!.v}'`);
  return { fields, object, where, orderBy, limit };
}

function fieldsOf(c: Condition | null): string[] {
  if (!c) return [];
  switch (c.kind) {
    case 'and':
    case 'or':
      return c.parts.flatMap(fieldsOf);
    case 'not':
      return fieldsOf(c.part);
    default:
      return [c.field];
  }
}

/** SOQL compares text case-insensitively; LIKE has % and _ as wildcards, \ escaping them. */
function evaluate(c: Condition, r: SalesforceRecord): boolean {
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v).toLowerCase());
  switch (c.kind) {
    case 'and':
      return c.parts.every((p) => evaluate(p, r));
    case 'or':
      return c.parts.some((p) => evaluate(p, r));
    case 'not':
      return !evaluate(c.part, r);
    case 'in':
      return c.values.some((v) => text(r[c.field]) !== null && text(r[c.field]) === text(v));
    case 'compare': {
      const have = text(r[c.field]);
      if (c.op === 'LIKE') {
        if (have === null || typeof c.value !== 'string') return false;
        const pattern = c.value.toLowerCase().replace(/\\([%_])|([%_])|([.*+?^${}()|[\]\\])/g, (_, escaped: string, wild: string, special: string) =>
          escaped ? `\\${escaped}` : wild ? (wild === '%' ? '.*' : '.') : `\\${special}`);
        return new RegExp(`^${pattern}$`, 's').test(have);
      }
      const equal = have === text(c.value);
      return c.op === '=' ? equal : !equal;
    }
  }
}
