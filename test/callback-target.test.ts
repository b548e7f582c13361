/**
 * Callback targets, pure: the business-hours clock (weekends, nights, DST changes in both
 * directions, a 23-hour Sunday), per-route targets, the schedule's text and its refusals,
 * and how an entry counts for the "called back within target" share.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applySettings, ConfigError, DEFAULT_SETTINGS, type TenantSettings } from '../src/config/schema.js';
import { businessHoursText, parseBusinessHours, targetDueAt, targetOutcome, thresholdsReached, BusinessClock } from '../src/ledger/callback-target.js';

const BUCHAREST = 'Europe/Bucharest';

function settings(change: Record<string, unknown>): TenantSettings {
  return applySettings(DEFAULT_SETTINGS, { timezone: BUCHAREST, ...change });
}

/** An instant given as UTC text. */
const utc = (text: string) => new Date(`${text}Z`);
const iso = (d: Date | null) => d?.toISOString().slice(0, 16);

describe('targetDueAt', () => {
  const office = settings({ callbackTargetMinutes: 15, businessHours: 'mon-fri 09:00-17:00' });

  test('no target: null; every hour counts when no business hours are set', () => {
    assert.equal(targetDueAt(utc('2025-05-06T10:00:00'), settings({})), null);
    assert.equal(iso(targetDueAt(utc('2025-05-10T22:00:00'), settings({ callbackTargetMinutes: 90 }))), '2025-05-10T23:30');
  });

  test('inside business hours: plain minutes (Tuesday 10:00 local + 15 min)', () => {
    // 10:00 EEST is 07:00 UTC.
    assert.equal(iso(targetDueAt(utc('2025-05-06T07:00:00'), office)), '2025-05-06T07:15');
  });

  test('the clock stops at closing time and goes on the next morning', () => {
    // Tuesday 16:50 local: 10 min today, 5 min on Wednesday from 09:00 → 09:05 local = 06:05 UTC.
    assert.equal(iso(targetDueAt(utc('2025-05-06T13:50:00'), office)), '2025-05-07T06:05');
  });

  test('a weekend: Friday 16:55 is due Monday 09:10; a Saturday miss Monday 09:15', () => {
    assert.equal(iso(targetDueAt(utc('2025-05-09T13:55:00'), office)), '2025-05-12T06:10');
    assert.equal(iso(targetDueAt(utc('2025-05-10T08:00:00'), office)), '2025-05-12T06:15');
  });

  test('DST ends over the weekend: Friday 16:50 summer time is due Monday 09:05 winter time', () => {
    // Bucharest leaves summer time on Sunday 2025-10-26 (04:00 → 03:00): Friday is UTC+3, Monday
    // UTC+2. 10 min count on Friday, 5 on Monday from 09:00 local = 07:00 UTC.
    assert.equal(iso(targetDueAt(utc('2025-10-24T13:50:00'), office)), '2025-10-27T07:05');
  });

  test('DST starts in the night: with every hour counted, 60 min after 02:30 is 04:30 local (one real hour)', () => {
    // 2025-03-30 02:30 EET (UTC+2) is 00:30 UTC; the clock jumps 03:00 → 04:00.
    const due = targetDueAt(utc('2025-03-30T00:30:00'), settings({ callbackTargetMinutes: 60 }));
    assert.equal(iso(due), '2025-03-30T01:30');
  });

  test('the day DST starts has 23 business hours when the whole Sunday is open', () => {
    // Only Sundays open, 24 h target, missed on Saturday: the 23-hour Sunday leaves one hour for
    // the next Sunday, due 01:00 local on 2025-04-06 (UTC+3) = 2025-04-05 22:00 UTC.
    const sundays = settings({ callbackTargetMinutes: 1440, businessHours: 'sun 00:00-24:00' });
    assert.equal(iso(targetDueAt(utc('2025-03-29T10:00:00'), sundays)), '2025-04-05T22:00');
  });

  test('a route with its own target, and a route with none', () => {
    const s = settings({ callbackTargetMinutes: 30, callbackTargetRoutes: 'queue:400 = 5\nroute:0215550100 = 0' });
    assert.deepEqual(s.callbackTargetRoutes, [{ route: 'queue:400', minutes: 5 }, { route: 'route:0215550100', minutes: 0 }]);
    assert.equal(iso(targetDueAt(utc('2025-05-06T07:00:00'), s, 'queue:400')), '2025-05-06T07:05');
    assert.equal(targetDueAt(utc('2025-05-06T07:00:00'), s, 'route:0215550100'), null);
    assert.equal(iso(targetDueAt(utc('2025-05-06T07:00:00'), s, 'ringgroup:600')), '2025-05-06T07:30');
  });

  test('thresholds passed: at 1x and 2x the target, in business time', () => {
    const clock = new BusinessClock(office);
    const missed = utc('2025-05-09T13:40:00').getTime(); // Friday 16:40 local
    const at = (text: string) => utc(text).getTime();
    assert.deepEqual(thresholdsReached(missed, at('2025-05-09T13:54:00'), 15, [1, 2], clock), []);
    // 20 min of Friday count; 10 of the 30 are on Monday from 09:00.
    assert.deepEqual(thresholdsReached(missed, at('2025-05-10T12:00:00'), 15, [1, 2], clock), [1]);
    assert.deepEqual(thresholdsReached(missed, at('2025-05-12T06:09:00'), 15, [1, 2], clock), [1]);
    assert.deepEqual(thresholdsReached(missed, at('2025-05-12T06:10:00'), 15, [1, 2], clock), [1, 2]);
  });
});

describe('business hours as text', () => {
  test('ranges, lists, several windows and overlaps become one canonical text', () => {
    assert.equal(businessHoursText(parseBusinessHours('Mon-Fri 09:00-12:00 13:00-17:00; sat 10:00-13:00')), 'mon-fri 09:00-12:00 13:00-17:00; sat 10:00-13:00');
    assert.equal(businessHoursText(parseBusinessHours('mon,wed 09:00-11:00, 10:00-12:00\nfri-sun 08:00-24:00')), 'mon 09:00-12:00; wed 09:00-12:00; fri-sun 08:00-24:00');
    assert.equal(parseBusinessHours('  '), null);
  });

  test('a bad schedule is refused with the field named, nothing saved', () => {
    for (const [text, problem] of [
      ['weekdays 09:00-17:00', /does not start with days/],
      ['mon-fri', /has no hours/],
      ['mon-fri 9-17', /is not hours/],
      ['mon 22:00-06:00', /ends before it starts/],
      ['mon 09:00-24:30', /is not hours/],
    ] as const) {
      assert.throws(() => settings({ businessHours: text }), (err: unknown) => err instanceof ConfigError && err.field === 'businessHours' && problem.test(err.problem), text);
    }
  });

  test('targets, routes and thresholds refuse bad values by field name', () => {
    const refused = (change: Record<string, unknown>, field: string) =>
      assert.throws(() => settings(change), (err: unknown) => err instanceof ConfigError && err.field.startsWith(field), JSON.stringify(change));
    refused({ callbackTargetMinutes: 10_081 }, 'callbackTargetMinutes');
    refused({ callbackTargetMinutes: -1 }, 'callbackTargetMinutes');
    refused({ callbackTargetRoutes: 'queue 400 = 5' }, 'callbackTargetRoutes[0].route');
    refused({ callbackTargetRoutes: 'queue:400 = 5; queue:400 = 6' }, 'callbackTargetRoutes[1].route');
    refused({ escalationThresholds: [] }, 'escalationThresholds');
    refused({ escalationThresholds: '1, 50' }, 'escalationThresholds[1]');
    refused({ escalationRecipients: 'lead@example.test, nobody' }, 'escalationRecipients[1]');
    assert.deepEqual(settings({ escalationThresholds: '3, 1, 3' }).escalationThresholds, [1, 3]);
  });
});

describe('targetOutcome', () => {
  const due = 1_000_000;
  test('within only when the team cleared it in time; late when past due; not counted otherwise', () => {
    const cleared = (by: string, at: number) => targetOutcome({ status: 'cleared', clearedBy: by, clearedAtMs: at }, due, 2_000_000);
    assert.equal(cleared('returned', due), 'within');
    assert.equal(cleared('manual', due - 1), 'within');
    assert.equal(cleared('returned', due + 1), 'late');
    assert.equal(cleared('answered_later', due - 1), null);
    assert.equal(cleared('answered_later', due + 1), 'late');
    assert.equal(cleared('expired', due - 1), 'late');
    assert.equal(cleared('reclassified', due + 1), null);
    assert.equal(targetOutcome({ status: 'open', clearedBy: null, clearedAtMs: null }, due, due - 1), null);
    assert.equal(targetOutcome({ status: 'open', clearedBy: null, clearedAtMs: null }, due, due), 'late');
    assert.equal(targetOutcome({ status: 'cleared', clearedBy: 'returned', clearedAtMs: 5 }, null, due), null);
  });
});
