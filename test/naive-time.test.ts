/**
 * CDR times are naive 'YYYY-MM-DD HH:MM:SS' strings read as if UTC (src/cdr/row.ts). The
 * backfill reads millions of them, so naiveSeconds and naiveDatetime compute the usual shape
 * by arithmetic: they must give what Date gives, for every value.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { naiveDatetime, naiveSeconds } from '../src/cdr/row.js';

const byDateParse = (text: string) => Date.parse(text.replace(' ', 'T') + 'Z') / 1000;
const byDate = (seconds: number) => new Date(Math.round(seconds) * 1000).toISOString().slice(0, 19).replace('T', ' ');

test('naive times by arithmetic equal those of Date, over four centuries and at the edges', () => {
  // A seeded walk over 1600–2400 (leap days, century years) in uneven steps, fractions included.
  let seed = 17;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const from = byDateParse('1600-01-01 00:00:00');
  const to = byDateParse('2400-12-31 23:59:59');
  for (let i = 0; i < 200_000; i++) {
    const seconds = from + next() * (to - from);
    const text = byDate(seconds);
    assert.equal(naiveDatetime(seconds), text, String(seconds));
    assert.equal(naiveSeconds(text), byDateParse(text), text);
  }
  for (const text of [
    '2024-02-29 12:00:00', '2100-02-28 23:59:59', '2000-02-29 00:00:00', '1970-01-01 00:00:00', '1969-12-31 23:59:59',
    '1000-01-01 00:00:00', '9999-12-31 23:59:59',
    // Not of the usual shape or out of range: whatever Date.parse makes of them.
    '2026-02-30 00:00:00', '2026-02-29 10:00:00', '2024-02-29 24:00:00', '2026-13-01 00:00:00', '2026-11-03 10:60:00',
    '0999-12-31 00:00:00', '0000-00-00 00:00:00', '2026-11-03 10:00:00.250', '2026-11-03', '2026-11-3 10:00:00', 'not a date', '',
  ]) {
    assert.ok(Object.is(naiveSeconds(text), byDateParse(text)), text);
  }
  for (const seconds of [0, -0.5, 0.5, -1, 253_402_300_799, 253_402_300_800, -30_610_224_000, -30_610_224_001, 1e12]) {
    assert.equal(naiveDatetime(seconds), byDate(seconds), String(seconds));
  }
  assert.throws(() => naiveDatetime(Number.NaN), RangeError);
});
