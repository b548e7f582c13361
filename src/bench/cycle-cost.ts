import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import { naiveSeconds } from '../cdr/row.js';
import { ident } from '../db/pool.js';
import { Syncer, type CycleReport } from '../sync/cycle.js';
import { blockSpan, insertShiftedCopy, type Block } from './copies.js';
import { peakRssMb, round } from './stats.js';

export interface CycleSample {
  /** The cycle that first reads the newest minute (its calls then wait to settle). */
  sightMs: number;
  /** The cycle, settle seconds later, that classifies and records them. */
  classifyMs: number;
  windowSeconds: number;
  rowsRead: number;
  classified: number;
}

export interface CycleCost {
  cdrRows: number;
  samples: CycleSample[];
  /** Median of sight + classify over the samples. */
  medianMs: number;
  peakRssMb: number;
}

/**
 * The steady state of the sync loop on a table of any size: the block is laid into cdr
 * so that it ends now, minus its last `reps` minutes; then, minute by minute, those rows
 * arrive and the two cycles that see and then classify them are timed.
 */
export async function measureCycleCost(pool: Pool, config: Config, blockTable: string, reps: number): Promise<CycleCost> {
  const block: Block = { pool, cdrDb: config.db.cdrDatabase, cdrTable: config.db.cdrTable, blockTable };
  const span = await blockSpan(block);
  const shift = (await dbNow(pool)) - span.last;
  const held = span.last + 1 - reps * 60;
  await insertShiftedCopy(block, shift, { from: span.first, to: held });

  const syncer = new Syncer(pool, config);
  await syncer.prepare();
  const settleMs = config.sync.settleSeconds * 1000 + 300;
  // Everything already in the window gets classified first: a full cycle, then the one that settles it.
  await syncer.cycle();
  await sleep(settleMs);
  await syncer.cycle();

  const samples: CycleSample[] = [];
  for (let r = 0; r < reps; r++) {
    await insertShiftedCopy(block, shift, { from: held + r * 60, to: held + (r + 1) * 60 });
    const a = await timed(() => syncer.cycle());
    await sleep(settleMs);
    const b = await timed(() => syncer.cycle());
    samples.push({
      sightMs: a.ms, classifyMs: b.ms, windowSeconds: naiveSeconds(b.report.now) - naiveSeconds(b.report.windowStart),
      rowsRead: b.report.rowsRead, classified: a.report.classified + b.report.classified,
    });
  }
  const [[{ n }]] = (await pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM ${ident(config.db.cdrDatabase)}.${ident(config.db.cdrTable)}`,
  )) as unknown as [[{ n: number }]];
  const totals = samples.map((s) => s.sightMs + s.classifyMs).sort((x, y) => x - y);
  return { cdrRows: Number(n), samples, medianMs: totals[Math.floor(totals.length / 2)]!, peakRssMb: peakRssMb() };
}

async function timed(work: () => Promise<CycleReport>): Promise<{ ms: number; report: CycleReport }> {
  const t = performance.now();
  const report = await work();
  return { ms: round(performance.now() - t), report };
}

async function dbNow(pool: Pool): Promise<number> {
  const [[{ now }]] = (await pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  return naiveSeconds(now);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
