/**
 * The lamp on the phones, the pure part: device names, which lamps are lit from the open
 * entries and their claims at a given time, and which Setvar actions bring the PBX there.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LampScope } from '../src/config/schema.js';
import { applySettings, ConfigError, DEFAULT_SETTINGS } from '../src/config/schema.js';
import type { ClaimRow } from '../src/ledger/claims.js';
import { desiredLamps, lampChanges, lampDevice, type LampEntry, type LampState } from '../src/pbx/lamp-state.js';

const NOW = '2026-12-03 10:00:00';

function entry(tenant: string, kind: string, id: string, claim: Partial<ClaimRow> | null = null, firstAttempt = '2026-12-03 09:00:00'): LampEntry {
  return {
    tenant, routeKind: kind, routeId: id, firstAttempt,
    claim: claim && { user: 'ana', ext: '104', episode: firstAttempt, claimedAt: '2026-12-03 09:55:00', expiresAt: '2026-12-03 10:10:00', ...claim },
  };
}

function states(entries: LampEntry[], tenants: [string, LampScope][], pbx: 'freepbx' | 'vitalpbx' = 'freepbx', now = NOW): Record<string, LampState> {
  return Object.fromEntries(desiredLamps(entries, new Map(tenants), pbx, now).states);
}

describe('lamp device names', () => {
  test('FreePBX: Custom:SMC for the tenant, Custom:SMC_<kind>_<id> per route', () => {
    assert.equal(lampDevice('freepbx', 'default'), 'Custom:SMC');
    assert.equal(lampDevice('freepbx', 'default', { kind: 'queue', id: '400' }), 'Custom:SMC_queue_400');
    assert.equal(lampDevice('freepbx', 'default', { kind: 'route', id: '' }), 'Custom:SMC_route');
  });

  test('VitalPBX: the tenant is in every name, so two tenants never share a lamp', () => {
    assert.equal(lampDevice('vitalpbx', 'acme'), 'Custom:SMC_acme');
    assert.equal(lampDevice('vitalpbx', 'acme', { kind: 'queue', id: '400' }), 'Custom:SMC_acme_queue_400');
    assert.notEqual(lampDevice('vitalpbx', 'acme', { kind: 'queue', id: '400' }), lampDevice('vitalpbx', 'beta', { kind: 'queue', id: '400' }));
  });

  test('only letters, digits, _ and - reach a hint or DEVICE_STATE(); a long name is cut with a hash and stays distinct', () => {
    assert.equal(lampDevice('vitalpbx', 'a.b', { kind: 'route', id: '+40 21,5&5(0):1/2' }), 'Custom:SMC_a_b_route__40_21_5_5_0__1_2');
    const long = (id: string) => lampDevice('freepbx', 'default', { kind: 'route', id });
    const a = long('1'.repeat(64));
    const b = long(`${'1'.repeat(63)}2`);
    assert.ok(a.length <= 'Custom:'.length + 64, a);
    assert.match(a, /^Custom:SMC_route_1+_[0-9a-f]{8}$/);
    assert.notEqual(a, b);
  });
});

describe('which lamps are lit', () => {
  test('a tenant lamp is lit while any open entry is unclaimed, and off (not absent) with none', () => {
    assert.deepEqual(states([], [['default', 'tenant']]), { 'Custom:SMC': 'NOT_INUSE' });
    assert.deepEqual(states([entry('default', 'queue', '400')], [['default', 'tenant']]), { 'Custom:SMC': 'INUSE' });
    assert.deepEqual(states([entry('default', 'queue', '400', {})], [['default', 'tenant']]), { 'Custom:SMC': 'NOT_INUSE' });
    assert.deepEqual(states([entry('default', 'queue', '400', {}), entry('default', 'ivr', '2')], [['default', 'tenant']]), { 'Custom:SMC': 'INUSE' });
  });

  test('per route: each route with open entries has its lamp, lit while one of them is unclaimed', () => {
    const entries = [entry('default', 'queue', '400', {}), entry('default', 'queue', '400'), entry('default', 'ringgroup', '600', {})];
    assert.deepEqual(states(entries, [['default', 'route']]), { 'Custom:SMC_queue_400': 'INUSE', 'Custom:SMC_ringgroup_600': 'NOT_INUSE' });
    assert.deepEqual(states(entries, [['default', 'both']]), { 'Custom:SMC': 'INUSE', 'Custom:SMC_queue_400': 'INUSE', 'Custom:SMC_ringgroup_600': 'NOT_INUSE' });
  });

  test('a claim that lapsed, or one made in an earlier episode (the entry reopened), leaves the entry unclaimed: lamp on', () => {
    assert.deepEqual(states([entry('default', 'queue', '400', { expiresAt: NOW })], [['default', 'tenant']]), { 'Custom:SMC': 'INUSE' });
    assert.deepEqual(states([entry('default', 'queue', '400', { episode: '2026-12-01 08:00:00' })], [['default', 'tenant']]), { 'Custom:SMC': 'INUSE' });
  });

  test('the soonest lapse of an active claim is when the lamps must be looked at again', () => {
    const entries = [entry('default', 'queue', '400', { expiresAt: '2026-12-03 10:20:00' }), entry('default', 'ivr', '2', { expiresAt: '2026-12-03 10:05:00' }), entry('default', 'ivr', '3', { expiresAt: '2026-12-03 09:59:00' })];
    assert.equal(desiredLamps(entries, new Map([['default', 'tenant']]), 'freepbx', NOW).nextChangeAt, '2026-12-03 10:05:00');
    assert.equal(desiredLamps([entry('default', 'queue', '400')], new Map([['default', 'tenant']]), 'freepbx', NOW).nextChangeAt, null);
  });

  test('tenants without the lamp have none; each tenant of a VitalPBX its own', () => {
    const entries = [entry('acme', 'queue', '400'), entry('beta', 'queue', '400', {}), entry('gamma', 'queue', '400')];
    assert.deepEqual(states(entries, [['acme', 'both'], ['beta', 'both']], 'vitalpbx'), {
      'Custom:SMC_acme': 'INUSE', 'Custom:SMC_acme_queue_400': 'INUSE', 'Custom:SMC_beta': 'NOT_INUSE', 'Custom:SMC_beta_queue_400': 'NOT_INUSE',
    });
  });
});

describe('the actions that set them', () => {
  const desired = new Map<string, LampState>([['Custom:SMC', 'INUSE'], ['Custom:SMC_queue_400', 'NOT_INUSE']]);

  test('one action per lamp whose state differs from what was last set; none when nothing changed', () => {
    assert.deepEqual(lampChanges(desired, new Map()), [['Custom:SMC', 'INUSE'], ['Custom:SMC_queue_400', 'NOT_INUSE']]);
    assert.deepEqual(lampChanges(desired, new Map([['Custom:SMC', 'INUSE']])), [['Custom:SMC_queue_400', 'NOT_INUSE']]);
    assert.deepEqual(lampChanges(desired, new Map(desired)), []);
  });

  test('a lamp lit before and no longer wanted (last entry cleared, lamp or scope changed) goes off once', () => {
    const lastSet = new Map<string, LampState>([...desired, ['Custom:SMC_ivr_2', 'INUSE'], ['Custom:SMC_ivr_3', 'NOT_INUSE']]);
    assert.deepEqual(lampChanges(desired, lastSet), [['Custom:SMC_ivr_2', 'NOT_INUSE']]);
    lastSet.set('Custom:SMC_ivr_2', 'NOT_INUSE');
    assert.deepEqual(lampChanges(desired, lastSet), []);
  });

  test('a new AMI session sets every lamp once: the wanted ones, the ones set before, and the known routes with no open entry', () => {
    const lastSet = new Map<string, LampState>([...desired, ['Custom:SMC_ivr_2', 'NOT_INUSE']]);
    assert.deepEqual(lampChanges(desired, lastSet, true, ['Custom:SMC_ringgroup_600', 'Custom:SMC_queue_400']), [
      ['Custom:SMC', 'INUSE'], ['Custom:SMC_ivr_2', 'NOT_INUSE'], ['Custom:SMC_queue_400', 'NOT_INUSE'], ['Custom:SMC_ringgroup_600', 'NOT_INUSE'],
    ]);
  });
});

test('settings: the lamp is off by default; lamp_enabled and lamp_scope are checked by name', () => {
  assert.equal(DEFAULT_SETTINGS.lampEnabled, false);
  assert.equal(DEFAULT_SETTINGS.lampScope, 'tenant');
  const on = applySettings(DEFAULT_SETTINGS, { lamp_enabled: 'on', lamp_scope: 'both' });
  assert.equal(on.lampEnabled, true);
  assert.equal(on.lampScope, 'both');
  assert.throws(() => applySettings(DEFAULT_SETTINGS, { lamp_scope: 'floor' }), (err: ConfigError) => err.field === 'lamp_scope' && /one of tenant, route, both/.test(err.problem));
  assert.throws(() => applySettings(DEFAULT_SETTINGS, { lampEnabled: 'maybe' }), (err: ConfigError) => err.field === 'lampEnabled');
});
