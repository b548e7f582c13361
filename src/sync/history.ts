import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import { loadSettings } from '../config/settings-store.js';
import { naiveDatetime, naiveSeconds } from '../cdr/row.js';
import { backfillChunks, normaliseDate, type BackfillChunk } from './backfill.js';
import type { Syncer } from './cycle.js';
import { poolsOf, type DbPools } from '../db/ledger-pool.js';
import { historyChunkDelayMs } from './faults.js';
import { INSTALL_HISTORY_KEY, QUIET_BEFORE_KEY, readState, writeState } from './state.js';

/** A job's scope when it covers every tenant (the one install asks for). */
export const ALL_TENANTS = '*';

/**
 * "Classify the history since …": one per scope (a tenant, or every tenant), kept in the
 * state table. A newer request for the same scope replaces the older one; calls already
 * classified are skipped by the ledger, so a request over a range done before costs reading
 * time only.
 */
export interface HistoryJob {
  scope: string;
  since: string;
  until: string;
  requestedAt: string;
  requestedBy: string;
  finishedAt: string | null;
}

const JOB_KEY = 'history_job:';
/** Set once the service decided whether this install wants its history (so an upgrade is not asked again). */
/** How often an idle service looks for a request made by another process (the page wakes it at once). */
const IDLE_LOOK_MS = 30_000;
/** An estimate needs some work done in this run to be honest. */
const ESTIMATE_AFTER_MS = 3_000;
const ESTIMATE_AFTER_CHUNKS = 3;
/** Progress for the pages at most this often (each is a count per tenant with a page open). */
const TELL_EVERY_MS = 500;

const SECONDS_PER_DAY = 86_400;

export async function historyJobs(pool: Pool): Promise<HistoryJob[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT v FROM smart_missed_calls_state WHERE pbx = @smc_pbx AND k LIKE ?', [`${JOB_KEY}%`]);
  return rows.map((r) => JSON.parse(String(r.v)) as HistoryJob).sort((a, b) => (a.requestedAt < b.requestedAt ? -1 : a.requestedAt > b.requestedAt ? 1 : 0));
}

async function saveJob(pool: Pool, job: HistoryJob): Promise<void> {
  await writeState(pool, { [JOB_KEY + job.scope]: JSON.stringify(job) });
}

/**
 * Asks for the history of `scope` from `since` (a date or date and time) up to where the
 * live sync's window begins (sync.max_call_seconds ago): the live sync owns the recent calls,
 * and a call taken by the history would never be mailed about. An install's history goes up
 * to the install itself (`upToNow`): every call over before it is history, told to nobody
 * whoever classifies it (QUIET_BEFORE_KEY), so its summary counts them all.
 */
export async function requestHistory(pool: Pool, config: Config, scope: string, since: string, requestedBy: string, upToNow = false): Promise<HistoryJob> {
  const [[{ now }]] = (await pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now")) as unknown as [[{ now: string }]];
  const from = normaliseDate(since, 'since');
  if (from >= now) throw new RangeError('since must be in the past');
  const until = upToNow ? now : naiveDatetime(Math.max(naiveSeconds(from), naiveSeconds(now) - config.sync.maxCallSeconds));
  const job: HistoryJob = { scope, since: from, until, requestedAt: now, requestedBy, finishedAt: null };
  await saveJob(pool, job);
  return job;
}

/** The newest job that covers `tenant`'s calls. */
export function jobFor(jobs: HistoryJob[], tenant: string): HistoryJob | undefined {
  return jobs.filter((j) => j.scope === tenant || j.scope === ALL_TENANTS).at(-1);
}

function resumeKeyOf(job: HistoryJob): string {
  return `history:${job.scope}:${job.since}:${job.until}`;
}

/** Where a tenant's part of a job begins: an install's job reaches back each tenant's own history_days. */
async function tenantSince(pool: Pool, job: HistoryJob, tenant: string): Promise<number> {
  const since = naiveSeconds(job.since);
  if (job.scope !== ALL_TENANTS) return since;
  const days = (await loadSettings(pool, tenant)).historyDays;
  return Math.max(since, naiveSeconds(job.requestedAt) - days * SECONDS_PER_DAY);
}

/** What the page shows of one tenant's history job, from the database (any instance can answer). */
export interface HistoryProgress {
  running: boolean;
  since: string;
  until: string;
  finishedAt: string | null;
  daysDone: number;
  daysTotal: number;
  /** 0..1 of the time range. */
  fraction: number;
  calls: number;
  missed: number;
  /** Seconds left, estimated from this run's pace; null until there is enough to go by. */
  etaSeconds: number | null;
}

export async function historyProgress(pool: Pool, tenant: string, etaOf: (job: HistoryJob) => number | null = () => null): Promise<HistoryProgress | null> {
  const job = jobFor(await historyJobs(pool), tenant);
  if (!job) return null;
  const since = await tenantSince(pool, job, tenant);
  const until = naiveSeconds(job.until);
  const position = job.finishedAt ? until : naiveSeconds((await readState(pool, resumeKeyOf(job))) ?? job.since);
  const done = Math.min(until, Math.max(since, position));
  const [[counts]] = (await pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS calls, COALESCE(SUM(verdict = 'missed'), 0) AS missed FROM smart_missed_calls_calls
      WHERE tenant = ? AND pbx = @smc_pbx AND started_at >= ? AND started_at < ?`,
    [tenant, naiveDatetime(since), naiveDatetime(done)],
  )) as unknown as [[{ calls: number; missed: number }]];
  const span = Math.max(1, until - since);
  return {
    running: job.finishedAt === null,
    since: naiveDatetime(since),
    until: job.until,
    finishedAt: job.finishedAt,
    daysTotal: Math.max(1, Math.ceil(span / SECONDS_PER_DAY - 1e-9)),
    daysDone: job.finishedAt ? Math.max(1, Math.ceil(span / SECONDS_PER_DAY - 1e-9)) : Math.floor((done - since) / SECONDS_PER_DAY),
    fraction: job.finishedAt ? 1 : (done - since) / span,
    calls: Number(counts.calls),
    missed: Number(counts.missed),
    etaSeconds: job.finishedAt ? null : etaOf(job),
  };
}

/**
 * A fresh install (our ledger holds no call yet) wants its PBX's recent history: one job for
 * every tenant, reaching back the longest history_days of any tenant (each tenant keeps its
 * own). Decided once; an upgrade of a running install finds its calls and asks for nothing.
 */
export async function ensureInstallHistory(pool: Pool, config: Config, tenants: string[]): Promise<HistoryJob | null> {
  if (await readState(pool, INSTALL_HISTORY_KEY)) return null;
  const [[{ any }]] = (await pool.query<RowDataPacket[]>('SELECT EXISTS (SELECT 1 FROM smart_missed_calls_calls WHERE pbx = @smc_pbx) AS `any`')) as unknown as [[{ any: number }]];
  if (Number(any)) {
    await writeState(pool, { [INSTALL_HISTORY_KEY]: 'not asked: the ledger already held calls' });
    return null;
  }
  let days = 1;
  for (const tenant of tenants) days = Math.max(days, (await loadSettings(pool, tenant)).historyDays);
  const [[{ since }]] = (await pool.query<RowDataPacket[]>(
    "SELECT DATE_FORMAT(NOW() - INTERVAL ? DAY, '%Y-%m-%d %H:%i:%s') AS since",
    [days],
  )) as unknown as [[{ since: string }]];
  const job = await requestHistory(pool, config, ALL_TENANTS, since, 'install', true);
  // Every call that began before the install is history, also the recent ones the live sync
  // takes (its window reaches sync.max_call_seconds back): listed, but nobody is told.
  await writeState(pool, { [INSTALL_HISTORY_KEY]: `asked ${job.requestedAt}`, [QUIET_BEFORE_KEY]: job.requestedAt });
  return job;
}

interface Running {
  job: HistoryJob;
  chunks: AsyncGenerator<BackfillChunk, void>;
  startedMs: number;
  /** Where this run began (a resumed job's earlier runs do not count for its pace). */
  startedAt: number;
  position: number | null;
  chunksDone: number;
}

/**
 * The history jobs, run by the service in the time its live cycles leave: one chunk (an
 * hour of calldate) at a time, between cycles. History goes through `smc backfill`'s code,
 * which records without notifying anyone; the resume point is saved with every chunk.
 */
export class HistoryRunner {
  private current: Running | null = null;
  private lookedAt = 0;
  private installChecked = false;
  private replaced = false;
  private toldAt = 0;

  /** Our tables. */
  private readonly pool: Pool;

  constructor(
    private readonly pools: Pool | DbPools,
    private readonly config: Config,
    private readonly syncer: Syncer,
    private readonly tenants: () => Promise<string[]>,
    /** After each chunk and at the end: the page's progress bars listen. */
    private readonly progressed: (job: HistoryJob) => void,
    private readonly log: (line: string) => void,
  ) {
    this.pool = poolsOf(pools).ledger;
  }

  /** A request was just made (it may replace the running job): look for it at the next idle moment. */
  wake(): void {
    this.lookedAt = 0;
    this.replaced = true;
  }

  /** The running job's time left, from the pace of this run (a resumed job's earlier runs do not count). */
  etaSeconds(job: HistoryJob): number | null {
    const c = this.current;
    if (!c || c.job.scope !== job.scope || c.job.requestedAt !== job.requestedAt || c.position === null) return null;
    const elapsed = Date.now() - c.startedMs;
    const covered = c.position - c.startedAt;
    if (elapsed < ESTIMATE_AFTER_MS || c.chunksDone < ESTIMATE_AFTER_CHUNKS || covered <= 0) return null;
    return Math.round(((naiveSeconds(c.job.until) - c.position) * elapsed) / covered / 1000);
  }

  /** Runs history chunks until `deadline` (ms since the epoch), until there is none left, or while `keepGoing` says so. */
  async run(deadline: number, keepGoing: () => boolean = () => true): Promise<void> {
    while (Date.now() < deadline && keepGoing()) {
      if (this.replaced) {
        this.replaced = false;
        await this.drop();
      }
      if (!this.current && !(await this.pick())) return;
      const c = this.current!;
      const step = await c.chunks.next();
      if (step.done) {
        await this.finish(c);
        continue;
      }
      c.position = naiveSeconds(step.value.done);
      c.chunksDone += 1;
      if (historyChunkDelayMs) await new Promise((resolve) => setTimeout(resolve, historyChunkDelayMs));
      if (Date.now() - this.toldAt >= TELL_EVERY_MS) this.tell(c.job);
    }
  }

  /** Before the first live cycle, which would otherwise make a fresh install's ledger look used. */
  async checkInstall(): Promise<void> {
    if (this.installChecked) return;
    const job = await ensureInstallHistory(this.pool, this.config, await this.tenants());
    this.installChecked = true;
    if (job) this.log(`history: classifying the calls since ${job.since} in the background`);
  }

  /** The sync lock was lost or the service stops: the resume point is in the database. */
  async drop(): Promise<void> {
    const c = this.current;
    this.current = null;
    this.lookedAt = 0;
    await c?.chunks.return();
  }

  private async pick(): Promise<boolean> {
    if (Date.now() - this.lookedAt < IDLE_LOOK_MS) return false;
    this.lookedAt = Date.now();
    const job = (await historyJobs(this.pool)).find((j) => j.finishedAt === null);
    if (!job) return false;
    const tenantsSince = new Map<string, number>();
    const keep = job.scope === ALL_TENANTS ? undefined : (tenant: string) => tenant === job.scope;
    this.current = {
      job,
      chunks: backfillChunks(this.pools, this.config, {
        since: job.since,
        until: job.until,
        chunkSeconds: this.config.sync.historyChunkSeconds,
        resumeKey: resumeKeyOf(job),
        syncer: this.syncer,
        keep: (tenant, call) => {
          if (keep && !keep(tenant)) return false;
          // An install's job: each tenant from its own history_days (read when the job (re)starts).
          const from = tenantsSince.get(tenant);
          return from === undefined || naiveSeconds(call.verdict.startedAt) >= from;
        },
      }),
      startedMs: Date.now(),
      startedAt: naiveSeconds((await readState(this.pool, resumeKeyOf(job))) ?? job.since),
      position: null,
      chunksDone: 0,
    };
    if (job.scope === ALL_TENANTS) for (const tenant of await this.tenants()) tenantsSince.set(tenant, await tenantSince(this.pool, job, tenant));
    this.log(`history: ${job.scope === ALL_TENANTS ? 'every tenant' : `tenant ${job.scope}`} from ${job.since} to ${job.until}`);
    this.tell(job);
    return true;
  }

  private async finish(c: Running): Promise<void> {
    this.current = null;
    // A newer request for the same scope may have replaced this one meanwhile: it runs next.
    const latest = (await historyJobs(this.pool)).find((j) => j.scope === c.job.scope);
    const [[{ now }]] = (await this.pool.query<RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now")) as unknown as [[{ now: string }]];
    const finished = { ...c.job, finishedAt: now };
    if (latest && latest.requestedAt === c.job.requestedAt) await saveJob(this.pool, finished);
    this.lookedAt = 0;
    this.log(`history: done from ${c.job.since} to ${c.job.until}`);
    this.tell(finished);
  }

  private tell(job: HistoryJob): void {
    this.toldAt = Date.now();
    this.progressed(job);
  }
}
