import type { Pool } from 'mysql2/promise';
import type { TenantSettings } from '../../src/config/schema.js';
import { loadSettings } from '../../src/config/settings-store.js';
import { naiveDatetime, naiveSeconds } from '../../src/cdr/row.js';
import { inTransaction } from '../../src/db/pool.js';
import type { Verdict } from '../../src/detect/verdict.js';
import { readAuditKey } from '../../src/ledger/audit-key.js';
import { recordCalls, type RecordOptions, type RecordResult } from '../../src/ledger/store.js';
import { testAuditKeyFile } from '../harness/db.js';

let sequence = 0;

/** A verdict as the classifier makes it for one call (explainRows-style), for the real ledger. */
export function callVerdict(kind: 'missed' | 'answered' | 'callback', o: { caller: string; did?: string; at: string; ext?: string; name?: string }): Verdict {
  sequence += 1;
  const ext = o.ext ?? '101';
  const linkedid = `${Math.floor(naiveSeconds(o.at))}.${sequence}`;
  const base: Verdict = {
    linkedid, verdict: 'missed', direction: 'inbound', caller: o.caller, callerName: o.name ?? '', anonymous: false,
    did: o.did ?? '0215550100', dialled: o.did ?? '0215550100', startedAt: o.at, endedAt: naiveDatetime(naiveSeconds(o.at) + 25),
    waitSeconds: 20, rang: [{ ext, tries: 1, ringSeconds: 18, outcome: 'no_answer' }], answeredBy: null,
    route: { kind: 'queue', id: '400', label: 'Sales queue' }, voicemail: null, reasons: ['extension_rang_no_answer'],
    explanation: [`rang ${ext} for 18 s; nobody answered`], rowCount: 2,
  };
  if (kind === 'answered') {
    return { ...base, verdict: 'answered', answeredBy: ext, rang: [{ ext, tries: 1, ringSeconds: 5, outcome: 'answered' }], reasons: ['answered_by_extension'], explanation: [`${ext} answered`] };
  }
  if (kind === 'callback') {
    return {
      ...base, verdict: 'outbound', direction: 'outbound', caller: ext, did: '', dialled: o.caller, answeredBy: ext, rang: [],
      route: { kind: 'route', id: '', label: '' }, reasons: ['outbound_answered'], explanation: [`${ext} called back`],
    };
  }
  return base;
}

/** Records calls through the real ledger (entries, audit, outbox), as the sync does, with the test databases' audit key. */
export async function record(
  pool: Pool, tenant: string, verdicts: Verdict[], settings?: TenantSettings, auditKey = readAuditKey(testAuditKeyFile()), options?: RecordOptions,
): Promise<RecordResult> {
  const s = settings ?? (await loadSettings(pool, tenant));
  return inTransaction(pool, (conn) => recordCalls(conn, auditKey, tenant, verdicts.map((verdict) => ({ verdict, rowsDigest: verdict.linkedid.padEnd(40, '0').slice(0, 40) })), s, options));
}

/** `minutes` after a naive datetime. */
export function plusMinutes(at: string, minutes: number): string {
  return naiveDatetime(naiveSeconds(at) + minutes * 60);
}
