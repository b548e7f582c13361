/**
 * What the PBX pays for us, in CPU-seconds: the accounting of the bench's "PBX cost" part,
 * pure so it can be checked on its own. Measuring is pbx-cost.ts's job.
 */
import { round } from './stats.js';

/**
 * CPU seconds (user + system, every thread, dead ones included) of a process, from the text
 * of /proc/<pid>/stat and the kernel's clock ticks per second (`getconf CLK_TCK`). The command
 * name in parentheses may itself hold spaces and parentheses, so the fields are counted from
 * the last ')': utime and stime are the 14th and 15th fields of the line.
 */
export function cpuSecondsOfStat(stat: string, ticksPerSecond: number): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line: no command name');
  // After ") " come field 3 (state) onwards: utime is field 14, stime field 15.
  const fields = stat.slice(close + 2).trim().split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('not a /proc/<pid>/stat line: no utime/stime');
  return (utime + stime) / ticksPerSecond;
}

export type Situation = 'idle' | 'steady' | 'burst';

/** One measured window: the traffic of a situation, with or without `smc serve` running. */
export interface CostPhase {
  situation: Situation;
  /** Whether `smc serve` ran (and the AMI stand-in had it connected). */
  service: boolean;
  seconds: number;
  /** CPU seconds the MariaDB server used over the window. */
  mariadbCpu: number;
  /** CPU seconds `smc serve` used over the window; 0 when it was not running. */
  serviceCpu: number;
  calls: number;
  rows: number;
}

/** A situation's figures, in CPU-seconds per hour (medians of its windows, each scaled to an hour). */
export interface SituationCost {
  /** MariaDB with the traffic alone (the PBX writing its CDR), and with `smc serve` too. */
  mariadbWithout: number;
  mariadbWith: number;
  /** CDR rows the traffic wrote, per hour. */
  rowsPerHour: number;
  /** MariaDB's work for the CDR inserts as measured: above its own background (MariaDB without traffic or service). */
  cdrInsertsMeasured: number;
  /**
   * The CDR inserts' cost the ratio uses: as measured in the burst; at 20 k calls a day (a
   * row every 1.5 s, below what MariaDB's background lets one tell) the burst's cost per row
   * times this traffic's rows.
   */
  cdrInserts: number;
  ourService: number;
  /** What MariaDB did for us: with the service minus without, for the same traffic. */
  ourMariadb: number;
  ours: number;
  /** ours as a share of one core. */
  percentOfCore: number;
  /** ours / cdrInserts; null where there are no inserts (idle) or they cost less than two clock ticks over the burst windows. */
  ratio: number | null;
  windows: { with: number; without: number };
}

const HOUR = 3600;

/** The middle value, or the mean of the two middle ones: with two windows of a kind, both count. */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const perHour = (cpuSeconds: number, seconds: number): number => (cpuSeconds * HOUR) / seconds;

/**
 * Each situation's cost per hour. Every window is scaled to an hour on its own, then the
 * windows of a kind give their median (the machine is shared: a window another job weighed on
 * should not drag the figure). MariaDB's background is its idle windows without the service:
 * the CDR inserts' cost is what MariaDB spent above it while the PBX alone wrote the traffic's
 * rows; ours is the service's own CPU plus what MariaDB spent more with the service running.
 */
export function costPerHour(phases: CostPhase[], tickSeconds = 0.01): Record<Situation, SituationCost> {
  const of = (situation: Situation, service: boolean) => phases.filter((p) => p.situation === situation && p.service === service);
  const mariadb = (situation: Situation, service: boolean) => median(of(situation, service).map((p) => perHour(p.mariadbCpu, p.seconds)));
  const rowsPerHour = (situation: Situation) => median(phases.filter((p) => p.situation === situation).map((p) => perHour(p.rows, p.seconds)));
  const background = mariadb('idle', false);
  // Less than two clock ticks over a burst window is tick noise, not a cost one can divide by.
  const burstWindow = median(of('burst', false).map((p) => p.seconds));
  const measurable = mariadb('burst', false) - background >= perHour(2 * tickSeconds, burstWindow);
  const burstCdr = measurable ? mariadb('burst', false) - background : NaN;
  const burstCostPerRow = burstCdr / rowsPerHour('burst');
  const figures = (situation: Situation): SituationCost => {
    const without = mariadb(situation, false);
    const withService = mariadb(situation, true);
    const ourService = median(of(situation, true).map((p) => perHour(p.serviceCpu, p.seconds)));
    const ourMariadb = withService - without;
    const ours = ourService + ourMariadb;
    const rows = situation === 'idle' ? 0 : rowsPerHour(situation);
    const measured = situation === 'idle' ? 0 : without - background;
    const cdrInserts = situation === 'idle' ? 0 : situation === 'burst' ? burstCdr : burstCostPerRow * rows;
    return {
      mariadbWithout: round(without, 2), mariadbWith: round(withService, 2), rowsPerHour: Math.round(rows),
      cdrInsertsMeasured: round(measured, 2), cdrInserts: round(cdrInserts, 2),
      ourService: round(ourService, 2), ourMariadb: round(ourMariadb, 2), ours: round(ours, 2),
      percentOfCore: round((ours / HOUR) * 100, 3),
      ratio: situation !== 'idle' && cdrInserts > 0 ? round(ours / cdrInserts, 2) : null,
      windows: { with: of(situation, true).length, without: of(situation, false).length },
    };
  };
  return { idle: figures('idle'), steady: figures('steady'), burst: figures('burst') };
}
