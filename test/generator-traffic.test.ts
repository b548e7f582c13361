import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { demoPbx } from '../src/cdr/generator/pbx.js';
import { generateDay, generateRange } from '../src/cdr/generator/traffic.js';
import { nationalForm, numberSentToTrunk } from '../src/cdr/generator/numbers.js';

describe('generated traffic', () => {
  const model = demoPbx();

  test('a day is the same for the same seed and different for another', () => {
    const once = generateDay(model, { seed: 11, date: '2026-03-10', calls: 150 });
    const again = generateDay(model, { seed: 11, date: '2026-03-10', calls: 150 });
    const other = generateDay(model, { seed: 12, date: '2026-03-10', calls: 150 });
    assert.deepEqual(again, once);
    assert.notDeepEqual(other.map((c) => c.rows), once.map((c) => c.rows));
  });

  test('calls follow office hours: far more from 9 to 17 than from 0 to 6', () => {
    const calls = generateDay(model, { seed: 3, date: '2026-03-11', calls: 600 });
    const hour = (c: (typeof calls)[number]) => Number(c.label.startedAt.slice(11, 13));
    const office = calls.filter((c) => hour(c) >= 9 && hour(c) < 17).length;
    const night = calls.filter((c) => hour(c) < 6).length;
    assert.ok(office > 400, `${office} office-hour calls`);
    assert.ok(night < office / 20, `${night} night calls against ${office}`);
    assert.ok(calls.every((c) => c.label.startedAt.startsWith('2026-03-11')));
  });

  test('a weekday gets many more calls than a Sunday', () => {
    let weekday = 0;
    let sunday = 0;
    for (const call of generateRange(model, { seed: 5, from: '2026-03-09', to: '2026-03-15', callsPerDay: 300 })) {
      const date = call.label.startedAt.slice(0, 10);
      if (date === '2026-03-10') weekday++;
      if (date === '2026-03-15') sunday++;
    }
    assert.ok(weekday > 5 * sunday, `weekday ${weekday}, sunday ${sunday}`);
  });

  test('a week has a realistic mix: mostly answered, some missed, repeat callers and callbacks', () => {
    const calls = [...generateRange(model, { seed: 8, from: '2026-03-09', to: '2026-03-15', callsPerDay: 400 })];
    const inbound = calls.filter((c) => c.label.direction === 'inbound');
    const missed = inbound.filter((c) => c.label.missed);
    const share = missed.length / inbound.length;
    assert.ok(share > 0.1 && share < 0.3, `missed share ${share}`);
    const byLinkedid = new Map(calls.map((c) => [c.label.linkedid, c.label]));
    const repeats = inbound.filter((c) => c.label.repeatOf);
    assert.ok(repeats.length > 20, `${repeats.length} repeat calls`);
    for (const repeat of repeats) {
      const first = byLinkedid.get(repeat.label.repeatOf!);
      assert.ok(first?.missed, 'a caller tries again after a miss');
      assert.equal(first.caller, repeat.label.caller);
      assert.ok(first.startedAt < repeat.label.startedAt);
    }
    assert.ok(repeats.some((c) => !c.label.missed), 'some callers are answered the next time');
    const callbacks = calls.filter((c) => c.label.scenario === 'callback');
    assert.ok(callbacks.length > 20, `${callbacks.length} callbacks`);
    const missedCallers = new Set(missed.map((c) => nationalForm(c.label.caller)));
    for (const cb of callbacks) {
      assert.ok(missedCallers.has(nationalForm(cb.label.callbackFor!)));
      assert.equal(nationalForm(numberSentToTrunk(cb.label.dialled!, model.outboundPrefix)), nationalForm(cb.label.callbackFor!));
    }
    assert.ok(callbacks.some((c) => c.label.callbackAnswered) && callbacks.some((c) => !c.label.callbackAnswered));
    assert.ok(inbound.some((c) => c.label.caller === 'anonymous'));
    assert.ok(inbound.some((c) => c.label.caller.startsWith('+40')) && inbound.some((c) => c.label.caller.startsWith('0040')));
  });

  test('ids keep increasing across calls, as one Asterisk numbers them', () => {
    const calls = generateDay(model, { seed: 9, date: '2026-03-12', calls: 200 });
    const suffix = (id: string) => Number(id.split('.')[1]);
    for (let i = 1; i < calls.length; i++) {
      assert.ok(suffix(calls[i]!.label.linkedid) > suffix(calls[i - 1]!.label.linkedid));
      assert.ok(calls[i]!.label.startedAt >= calls[i - 1]!.label.startedAt);
    }
    const sequences = calls.flatMap((c) => c.rows.map((r) => r.sequence));
    assert.equal(new Set(sequences).size, sequences.length);
  });
});
