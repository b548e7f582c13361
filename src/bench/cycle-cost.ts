import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import { naiveSeconds } from '../cdr/row.js';
import { ident } from '../db/pool.js';
import { Syncer, type CycleReport } from '../sync/cycle.js';
import { blockSpan, insertShiftedCopy, type Block } from './copies.js';
import { waitForQuietInnodb, type InnodbQuiet } from './innodb-quiet.js';
import { peakRssMb, round } from './stats.js';

/** One PBX's databases (its config) in the MariaDB both setups share, and its block of generated rows. */
export interface CycleSetup {
  pool: Pool;
  config: Config;
  blockTable: string;
}

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
}

export interface CycleComparison {
  /** The setup of --config. */
  base: CycleCost;
  /** The other setup, timed in alternation with the base. */
  against: CycleCost;
  /** The waits for InnoDB's background work: after earlier bulk loads, then after laying the block. */
  quiet: InnodbQuiet[];
  peakRssMb: number;
}

/** Long enough for purge and the page cleaner to finish after 10 M copied rows on a slow disk. */
const QUIET_TIMEOUT_SECONDS = 600;

/**
 * The steady state of the sync loop on two cdr tables in one MariaDB, timed in alternation
 * so that whatever else the machine is doing weighs on both alike. The same block is laid
 * into each cdr so that it ends now, minus its last `reps` minutes; then, minute by minute,
 * those rows arrive in both and the two cycles that see and then classify them are timed,
 * the setups taking turns at going first. Timing starts once InnoDB has finished the
 * background work of the bulk loads before it, which a PBX writing a few rows a second
 * never has.
 */
export async function compareCycleCost(base: CycleSetup, against: CycleSetup, reps: number, log: (line: string) => void): Promise<CycleComparison> {
  const quiet = [await waitQuiet(base.pool, 'after the earlier bulk loads', log)];
  const sides = [base, against].map((setup) => ({
    setup,
    block: { pool: setup.pool, cdrDb: setup.config.db.cdrDatabase, cdrTable: setup.config.db.cdrTable, blockTable: setup.blockTable },
    syncer: new Syncer(setup.pool, setup.config),
    samples: [] as CycleSample[],
  }));
  const span = await sameSpan(sides.map((s) => s.block));
  // One shift for both: each cycle of one setup reads the very rows its counterpart reads.
  const shift = (await dbNow(base.pool)) - span.last;
  const held = span.last + 1 - reps * 60;
  for (const side of sides) {
    await insertShiftedCopy(side.block, shift, { from: span.first, to: held });
    await side.syncer.prepare();
  }
  const settleMs = Math.max(base.config.sync.settleSeconds, against.config.sync.settleSeconds) * 1000 + 300;
  // Everything already in the window gets classified first: a full cycle, then the one that settles it.
  for (const side of sides) await side.syncer.cycle();
  await sleep(settleMs);
  for (const side of sides) await side.syncer.cycle();
  quiet.push(await waitQuiet(base.pool, 'after laying the block', log));
  // The wait may outlast the full-scan interval: the first cycle after it, untimed, is then
  // that full scan, and the timed ones are the hot cycles of the steady state.
  for (const side of sides) await side.syncer.cycle();

  for (let r = 0; r < reps; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    const sight = new Map<(typeof sides)[number], { ms: number; report: CycleReport }>();
    for (const side of order) {
      await insertShiftedCopy(side.block, shift, { from: held + r * 60, to: held + (r + 1) * 60 });
      sight.set(side, await timed(() => side.syncer.cycle()));
    }
    await sleep(settleMs);
    for (const side of order) {
      const a = sight.get(side)!;
      const b = await timed(() => side.syncer.cycle());
      side.samples.push({
        sightMs: a.ms, classifyMs: b.ms, windowSeconds: naiveSeconds(b.report.now) - naiveSeconds(b.report.windowStart),
        rowsRead: b.report.rowsRead, classified: a.report.classified + b.report.classified,
      });
    }
  }
  const [baseCost, againstCost] = await Promise.all(sides.map((s) => summary(s.block, s.samples)));
  return { base: baseCost!, against: againstCost!, quiet, peakRssMb: peakRssMb() };
}

async function waitQuiet(pool: Pool, when: string, log: (line: string) => void): Promise<InnodbQuiet> {
  const q = await waitForQuietInnodb(pool, QUIET_TIMEOUT_SECONDS);
  log(
    `InnoDB ${when}: ${q.quiet ? 'quiet' : `NOT quiet, gave up`} after ${q.seconds} s ` +
      `(dirty pages ${q.dirtyPages.before} -> ${q.dirtyPages.after}, history list ${q.historyLength.before} -> ${q.historyLength.after})`,
  );
  return q;
}

async function sameSpan(blocks: Block[]): Promise<{ first: number; last: number }> {
  const spans = await Promise.all(blocks.map(blockSpan));
  const [span, ...others] = spans;
  for (const [i, other] of others.entries()) {
    if (other.first !== span!.first || other.last !== span!.last) {
      throw new Error(`${blocks[i + 1]!.cdrDb}.${blocks[i + 1]!.blockTable} spans other times than ${blocks[0]!.cdrDb}.${blocks[0]!.blockTable}: the setups must hold the same block`);
    }
  }
  return span!;
}

async function summary(block: Block, samples: CycleSample[]): Promise<CycleCost> {
  const [[{ n }]] = (await block.pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM ${ident(block.cdrDb)}.${ident(block.cdrTable)}`,
  )) as unknown as [[{ n: number }]];
  const totals = samples.map((s) => s.sightMs + s.classifyMs).sort((x, y) => x - y);
  return { cdrRows: Number(n), samples, medianMs: round(totals[Math.floor(totals.length / 2)]!) };
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
