import assert from 'node:assert/strict';
import { normaliseNumber, NO_RULES } from '../../src/clear/numbers.js';
import type { Verdict } from '../../src/detect/verdict.js';
import type { Entry } from '../../src/ledger/entries.js';
import { fixtureText, type LabSet } from '../harness/db.js';

/** labels.json of a lab set: what really happened on the phones. */
export interface LabCall {
  scenario: string;
  /** internal: a phone's call to a PBX application, or a call an application started itself (freepbx17-internal). */
  kind: 'inbound' | 'outbound' | 'internal';
  linkedid: string;
  caller?: string;
  did?: string;
  missed: boolean;
  internal?: boolean;
  expected_answered_by?: string;
  observed_answered_via_trunk?: boolean;
  observed_rang_extensions: string[];
  observed_answering_extensions: string[];
  callback_answered?: boolean;
  /** FreePBX refused the call without a Dial (DND, no voicemail): missed, yet no CDR row exists. */
  cdr_invisible?: boolean;
}

export interface LabEntry {
  scenario: string;
  caller: string;
  did: string;
  expected_entry: boolean;
  episode?: number;
  missed_count?: number;
  cleared_by?: string | null;
  cleared_ext?: string;
  missed_linkedids: string[];
  clearing_linkedid?: string;
  cdr_invisible?: boolean;
}

export interface LabCheck {
  set?: LabSet;
  /** Scenarios (calls' `scenario`, entries' `scenario`) left to their own `todo` tests: known gaps. */
  knownGaps?: ReadonlySet<string>;
}

export function labLabels(set?: LabSet): { calls: LabCall[]; entries: LabEntry[] } {
  return JSON.parse(fixtureText('labels.json', set)) as { calls: LabCall[]; entries: LabEntry[] };
}

/** The verdict a correct team-level detector gives each labelled call. */
export function expectedVerdict(call: LabCall): Verdict['verdict'] {
  if (call.kind === 'internal') return 'internal';
  if (call.kind === 'outbound') return call.internal ? 'internal' : 'outbound';
  if (call.missed) return 'missed';
  // Not missed and nobody answered: hung up in the IVR before any phone rang (G2).
  return call.observed_answering_extensions.length === 0 && !call.observed_answered_via_trunk ? 'abandoned' : 'answered';
}

export function checkCalls(verdicts: Map<string, Pick<Verdict, 'verdict' | 'answeredBy' | 'rang'>>, options: LabCheck = {}): void {
  for (const call of labLabels(options.set).calls) {
    if (!options.knownGaps?.has(call.scenario)) checkCall(call, verdicts.get(call.linkedid));
  }
}

export function checkCall(call: LabCall, v: Pick<Verdict, 'verdict' | 'answeredBy' | 'rang'> | undefined): void {
  assert.ok(v, `scenario ${call.scenario}: call ${call.linkedid} was not classified`);
  assert.equal(v.verdict, expectedVerdict(call), `scenario ${call.scenario} (${call.linkedid})`);
  if (call.expected_answered_by) assert.equal(v.answeredBy?.replace(/^external:/, ''), call.expected_answered_by, `scenario ${call.scenario}: answered by`);
  if (call.observed_answered_via_trunk && call.kind === 'inbound') assert.match(v.answeredBy ?? '', /^external:/, `scenario ${call.scenario}`);
  if (call.kind === 'inbound' && call.missed) {
    assert.deepEqual(
      v.rang.map((r) => r.ext).sort(),
      [...call.observed_rang_extensions].sort(),
      `scenario ${call.scenario}: the extensions that rang`,
    );
  }
}

/**
 * Every expected entry of the lab agrees with the ledger's entries. An entry holds the
 * caller's latest episode; an earlier, cleared episode (K before K2) must show in `history`
 * (the journal) as cleared with its reason before the reopen.
 */
export function checkEntries(
  entries: Entry[],
  history?: (entry: Entry) => { event: string; reason: string | null; ext: string | null }[],
  options: LabCheck = {},
): void {
  const key = (caller: string, did: string) => `${normaliseNumber(caller, NO_RULES).key}|${did}`;
  const all = labLabels(options.set).entries;
  const gapKeys = new Set(all.filter((e) => options.knownGaps?.has(e.scenario)).map((e) => key(e.caller, e.did)));
  const expected = all.filter((e) => !gapKeys.has(key(e.caller, e.did)));
  entries = entries.filter((e) => !gapKeys.has(`${e.callerKey}|${e.did}`));
  const byKey = new Map(entries.map((e) => [`${e.callerKey}|${e.did}`, e]));
  const wanted = expected.filter((e) => e.expected_entry);
  const latest = new Map<string, LabEntry>();
  for (const e of wanted) {
    const k = key(e.caller, e.did);
    if ((latest.get(k)?.episode ?? 0) <= (e.episode ?? 1)) latest.set(k, e);
  }
  for (const e of expected.filter((x) => !x.expected_entry)) {
    assert.ok(!byKey.has(key(e.caller, e.did)), `scenario ${e.scenario}: ${e.caller} on ${e.did} must not be on the list`);
  }
  assert.equal(entries.length, latest.size, `number of entries (${entries.map((e) => e.caller + '/' + e.did).join(', ')})`);
  for (const [k, want] of latest) {
    const got = byKey.get(k);
    assert.ok(got, `scenario ${want.scenario}: no entry for ${want.caller} on ${want.did}`);
    assert.equal(got.missedCount, want.missed_count, `scenario ${want.scenario}: missed_count`);
    assert.equal(got.status, want.cleared_by ? 'cleared' : 'open', `scenario ${want.scenario}: status`);
    assert.equal(got.clearedBy, want.cleared_by ?? null, `scenario ${want.scenario}: cleared_by`);
    if (want.cleared_ext) assert.equal(got.clearedExt, want.cleared_ext, `scenario ${want.scenario}: cleared by extension`);
    if (want.clearing_linkedid) assert.equal(got.clearedLinkedid, want.clearing_linkedid, `scenario ${want.scenario}: clearing call`);
    if (want.caller === 'anonymous') assert.equal(got.anonymous, true);
    const earlier = wanted.filter((e) => key(e.caller, e.did) === k && e !== want);
    if (earlier.length && history) {
      const journal = history(got);
      for (const ep of earlier) {
        assert.ok(
          journal.some((j) => j.event === 'cleared' && j.reason === ep.cleared_by && (!ep.cleared_ext || j.ext === ep.cleared_ext)),
          `scenario ${ep.scenario}: the earlier episode's clear (${ep.cleared_by}) is in the journal`,
        );
      }
      assert.ok(journal.some((j) => j.event === 'reopened'), `scenario ${want.scenario}: reopened in the journal`);
    }
  }
}
