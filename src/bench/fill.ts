import type { Pool } from '../db/pool.js';
import { dayStart, SECONDS_PER_DAY } from '../cdr/generator/calendar.js';
import { demoPbx } from '../cdr/generator/pbx.js';
import { generateRange } from '../cdr/generator/traffic.js';
import { writeVolume, type VolumeSummary } from '../cdr/generator/volume.js';

export interface FillOptions {
  pool: Pool;
  cdrDb: string;
  cdrTable: string;
  /** About this many rows; the traffic ends on `lastDay` and starts as many days before as it takes. */
  rows: number;
  lastDay: string;
  callsPerDay: number;
  seed: number;
}

/**
 * Generated traffic of a given size that ends on a given day: the rows a day holds are
 * counted on a fortnight of the same traffic first (without writing), then that many
 * days are written, so the newest rows sit where the benchmark needs them.
 */
export async function fillCdr(options: FillOptions): Promise<VolumeSummary & { from: string; to: string }> {
  const model = demoPbx();
  const sampleDays = 14;
  let sampled = 0;
  for (const call of generateRange(model, { seed: options.seed, from: dayText(dayStart(options.lastDay) - (sampleDays - 1) * SECONDS_PER_DAY), to: options.lastDay, callsPerDay: options.callsPerDay })) {
    sampled += call.rows.length;
  }
  const days = Math.max(1, Math.floor(options.rows / (sampled / sampleDays)));
  const from = dayText(dayStart(options.lastDay) - (days - 1) * SECONDS_PER_DAY);
  const summary = await writeVolume({
    pool: options.pool, cdrDb: options.cdrDb, cdrTable: options.cdrTable, model, seed: options.seed,
    from, to: options.lastDay, callsPerDay: options.callsPerDay, maxRows: options.rows,
  });
  return { ...summary, from, to: options.lastDay };
}

function dayText(naive: number): string {
  return new Date(naive * 1000).toISOString().slice(0, 10);
}
