/**
 * What every CRM connector offers the delivery of channel `crm` (src/notify/crm/deliver.ts).
 * The connector speaks its CRM's API and nothing else: which task belongs to which entry,
 * when to create and when to update, retries and backoff are the delivery's business, so
 * HubSpot, Odoo and Salesforce differ only here.
 *
 * Tasks are written as a desired state (open or completed, with its text), not as actions:
 * "complete with a reason" and "reopen" are updates to that state, so repeating one after a
 * crash changes nothing the first one did not.
 */

export interface CrmContact {
  id: string;
  /** The CRM user who owns the contact; the task is assigned to them. */
  ownerId: string | null;
  /**
   * The contact's display name and its owner's name: the caller-name chain
   * (src/notify/caller-names.ts, src/notify/crm-names.ts) shows them on the list. A connector
   * that needs a second request for the owner's name caches it; a failure there leaves
   * ownerName null rather than failing the find.
   */
  name?: string | null;
  ownerName?: string | null;
}

export interface CrmTask {
  /**
   * One token, letters and digits only, written into the task's text: how a retry finds a
   * task whose creation it never saw acknowledged. It names neither tenant nor number.
   */
  marker: string;
  subject: string;
  body: string;
  /** When the caller last tried: the task's date. */
  dueAt: Date;
  /** Its day in the tenant's time zone (YYYY-MM-DD), for a CRM whose due date has no time. */
  dueDay: string;
  completed: boolean;
  priority: 'HIGH' | 'MEDIUM' | 'LOW';
}

/** A precise answer for the settings page's Test button; `template` is a gettext msgid. */
export interface CrmDiagnosis {
  ok: boolean;
  template: string;
  params: Record<string, string | number>;
}

export interface CrmConnector {
  readonly kind: string;
  /** Every number variant the caller may be stored under; the connector checks each hit's digits. */
  findContactByPhone(phone: PhoneVariants): Promise<CrmContact | null>;
  createContact(phone: PhoneVariants, name: string): Promise<CrmContact>;
  /** The task that carries this marker, if the CRM has one (a create we never saw answered). */
  findTaskByMarker(marker: string): Promise<string | null>;
  createTask(task: CrmTask, contact: CrmContact | null): Promise<string>;
  updateTask(id: string, task: CrmTask): Promise<void>;
  /** For `smc forget`: the task is removed; a CRM that keeps a trash says so in docs/crm.md. An id already gone is no error. */
  deleteTask(id: string): Promise<void>;
  /**
   * For `smc forget`: a contact the delivery created for the caller (never one the CRM
   * already had: smart_missed_calls_crm_objects.contact_created says which) is removed, as
   * permanently as the CRM allows. An id already gone is no error.
   */
  deleteContact(id: string): Promise<void>;
  testConnection(needs: { createContact: boolean }): Promise<CrmDiagnosis>;
}

export interface PhoneVariants {
  /** E.164 when the tenant's default country makes it known, else the digits as given. */
  display: string;
  /** Every spelling worth an exact search: E.164, national, bare digits. */
  spellings: string[];
  /** The national significant number (no country code, no trunk 0); the key when unknown. */
  national: string;
  /** The last digits two numbers must share to be one caller (the tenant's matchDigits). */
  key: string;
}

/**
 * A failed call to a CRM. `message` is the CRM's own words when it gave some (shown on the
 * settings page and by `smc deliveries --failures`); `retryAfterMs` is set on a 429 (or the
 * CRM's equivalent): its Retry-After, or the reset of a daily limit. Every failure is retried with backoff, a bad
 * token or a missing scope included: the admin fixes the settings and nothing is lost.
 */
export class CrmError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }

  /**
   * The CRM refused for its rate or daily limit: the tenant's other CRM deliveries wait too.
   * A 429 for most CRMs; a CRM that says so otherwise (Salesforce: 403) overrides this.
   */
  get rateLimited(): boolean {
    return this.status === 429;
  }
}
