import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SETTINGS } from '../src/config/schema.js';
import { applyCall, CallerEntries } from '../src/ledger/entries.js';
import { callVerdict } from './helpers/ledger-calls.js';

// The entry state machine, pure: the rules a PBX admin would check by hand.
const settings = DEFAULT_SETTINGS;
const events = (entries: CallerEntries, v: ReturnType<typeof callVerdict>, s = settings) => applyCall(entries, 'default', v, s).map((e) => e.event + (e.reason ? `:${e.reason}` : ''));

test('a name from the contacts is kept when a later miss brings only the carrier CNAM', () => {
  const entries = new CallerEntries();
  applyCall(entries, 'default', callVerdict('missed', { caller: '0722000001', at: '2026-11-26 10:00:00' }), settings);
  entries.list()[0]!.callerName = 'Ana Pop (contacts)';
  applyCall(entries, 'default', callVerdict('missed', { caller: '0722000001', at: '2026-11-26 10:05:00', name: 'CARRIER CNAM' }), settings);
  assert.equal(entries.list()[0]!.callerName, 'Ana Pop (contacts)');
  assert.equal(entries.list()[0]!.missedCount, 2);
  entries.list()[0]!.callerName = '0722000001';
  applyCall(entries, 'default', callVerdict('missed', { caller: '0722000001', at: '2026-11-26 10:06:00', name: 'Ana Pop' }), settings);
  assert.equal(entries.list()[0]!.callerName, 'Ana Pop', 'CNAM fills a name that was only digits');
});

test('an unanswered callback is recorded but clears nothing; an answered one clears as returned', () => {
  const entries = new CallerEntries();
  events(entries, callVerdict('missed', { caller: '+40722000002', at: '2026-11-26 10:00:00' }));
  const unanswered = { ...callVerdict('callback', { caller: '0722000002', at: '2026-11-26 10:10:00', ext: '104' }), answeredBy: null };
  assert.deepEqual(events(entries, unanswered), ['callback_attempted']);
  assert.equal(entries.list()[0]!.status, 'open');
  assert.equal(entries.list()[0]!.callbackAttempts, 1);
  assert.equal(entries.list()[0]!.lastCallbackExt, '104');
  assert.deepEqual(events(entries, callVerdict('callback', { caller: '0040722000002', at: '2026-11-26 10:20:00', ext: '102' })), ['cleared:returned']);
  assert.equal(entries.list()[0]!.clearedExt, '102');
});

test('a callback placed before the miss does not clear it', () => {
  const entries = new CallerEntries();
  events(entries, callVerdict('missed', { caller: '0722000003', at: '2026-11-26 10:00:00' }));
  assert.deepEqual(events(entries, callVerdict('callback', { caller: '0722000003', at: '2026-11-26 09:59:00' })), []);
  assert.equal(entries.list()[0]!.status, 'open');
});

test('a withheld caller gets an entry but is never cleared by number matching', () => {
  const entries = new CallerEntries();
  const anonymous = { ...callVerdict('missed', { caller: 'anonymous', at: '2026-11-26 10:00:00' }), anonymous: true };
  assert.deepEqual(events(entries, anonymous), ['created']);
  assert.equal(entries.list()[0]!.anonymous, true);
  assert.deepEqual(events(entries, { ...callVerdict('answered', { caller: 'anonymous', at: '2026-11-26 10:05:00' }), anonymous: true }), []);
  assert.deepEqual(events(entries, callVerdict('callback', { caller: 'anonymous', at: '2026-11-26 10:06:00' })), []);
  assert.equal(entries.list()[0]!.status, 'open');
});

test('answered later clears the caller on every DID, or only on the same DID when clear_across_dids is off', () => {
  const run = (clearAcrossDids: boolean) => {
    const entries = new CallerEntries();
    events(entries, callVerdict('missed', { caller: '0722000004', did: '0215550100', at: '2026-11-26 10:00:00' }));
    events(entries, callVerdict('missed', { caller: '0722000004', did: '0215550103', at: '2026-11-26 10:01:00' }));
    events(entries, callVerdict('answered', { caller: '0722000004', did: '0215550100', at: '2026-11-26 10:30:00', ext: '105' }), { ...settings, clearAcrossDids });
    return entries.list().map((e) => `${e.did}:${e.status}${e.clearedBy ? `:${e.clearedBy}:${e.clearedExt}` : ''}`);
  };
  assert.deepEqual(run(true), ['0215550100:cleared:answered_later:105', '0215550103:cleared:answered_later:105']);
  assert.deepEqual(run(false), ['0215550100:cleared:answered_later:105', '0215550103:open']);
});

test('a miss after a clear reopens the entry as a new episode', () => {
  const entries = new CallerEntries();
  events(entries, callVerdict('missed', { caller: '0722000005', at: '2026-11-26 10:00:00' }));
  events(entries, callVerdict('missed', { caller: '0722000005', at: '2026-11-26 10:01:00' }));
  events(entries, callVerdict('callback', { caller: '0722000005', at: '2026-11-26 10:30:00' }));
  assert.deepEqual(events(entries, callVerdict('missed', { caller: '0722000005', at: '2026-11-26 11:00:00' })), ['reopened']);
  assert.equal(entries.list().length, 1);
  assert.equal(entries.list()[0]!.missedCount, 1);
  assert.equal(entries.list()[0]!.totalMissed, 3);
  assert.equal(entries.list()[0]!.firstAttempt, '2026-11-26 11:00:00');
  assert.equal(entries.list()[0]!.clearedBy, null);
});
