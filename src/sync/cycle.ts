import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config, TenantSettings } from '../config/schema.js';
import { loadSettings } from '../config/settings-store.js';
import { CelFeed } from '../cdr/cel-reader.js';
import { celDigest, type CelEvent } from '../cdr/cel-row.js';
import { freepbxCallDirectory, loadDirectory, type CallDirectory, type TenantOf } from '../cdr/directory.js';
import { EMPTY_DIRECTORY } from '../cdr/freepbx-directory.js';
import { countBad, groupByCall, rowsDigest } from '../cdr/reader.js';
import { byText, naiveDatetime, naiveSeconds, type CdrRow } from '../cdr/row.js';
import { inRetriedTransaction, type PoolConnection } from '../db/pool.js';
import { poolsOf, type DbPools } from '../db/ledger-pool.js';
import type { SingleInstanceLock } from '../db/named-lock.js';
import { classifyCall, type ClassifyOptions } from '../detect/classify.js';
import { explain } from '../detect/explain.js';
import type { Verdict } from '../detect/verdict.js';
import { voicemailLeft } from '../cdr/voicemail-spool.js';
import type { LedgerEvent } from '../ledger/entries.js';
import { readAuditKey, type AuditKey } from '../ledger/audit-key.js';
import { anyClearFromOtherPbxs, clearFromOtherPbxs, recordCalls, type ClassifiedCall } from '../ledger/store.js';
import { faultPoint } from './faults.js';
import { measureSkewMs, processZone, type PbxClock } from './pbx-clock.js';
import { WindowCache } from './window-cache.js';
import { SettleTracker } from './settle.js';
import { QUIET_BEFORE_KEY, readState, writeState } from './state.js';

export interface CycleReport {
  now: string;
  windowStart: string;
  rowsRead: number;
  badRows: number;
  pending: number;
  classified: number;
  events: LedgerEvent[];
}

export type { TenantOf };

/** A call's CDR rows (and CEL events, when CEL is on) and their fingerprint, waiting to be classified. */
export interface PendingCall {
  rows: CdrRow[];
  /** With CDR rows, they decide and CEL fills their gaps; with none, CEL alone decides. */
  cel?: CelEvent[];
  /** rowsDigest of the rows, or celDigest of the events for a call with no CDR row. */
  digest: string;
}

/** Verdicts of one batch by tenant, each list oldest first. */
export type ClassifiedBatch = Map<string, ClassifiedCall[]>;

const DIRECTORY_TTL_SECONDS = 300;
const BATCH = 2000;
const YIELD_EVERY = 200;
const SETTINGS_TTL_MS = 60_000;
/** How often a group member measures its clock against the ledger's (every cycle reads it at most this often). */
const SKEW_TTL_MS = 10_000;
/**
 * The other PBXs' calls are read again this far back from the last look (on the ledger's
 * clock): a call committed late, or stamped by a cluster node whose clock is behind, is still
 * seen. Reading one twice changes nothing.
 */
const OTHER_PBX_LOOK_BACK_SECONDS = 600;
/** The state key of the last look at the other PBXs' calls (ledger time). */
export const OTHER_PBX_CURSOR_KEY = 'other_pbx_cursor';
/** The state key of this PBX's measured clock skew against the ledger, in ms (smc doctor reports the live one). */
export const CLOCK_SKEW_KEY = 'clock_skew_ms';
/** The full scan fetches its rows at least this often, even when none came (see WindowCache). */
const FULL_SCAN_REFETCH_MS = 600_000;

/**
 * One sync step: read the recent CDR window, find the calls whose rows changed, wait until
 * they settle, classify them, and record them (in chronological order, so a callback is
 * seen after the miss it clears) in the ledger.
 */
export class Syncer {
  private tracker: SettleTracker;
  private cel: CelFeed;
  /** The hot window's reads and the full scan's, each fetched again only when a row came since its last fetch. */
  private hotWindow: WindowCache;
  private fullWindow: WindowCache;
  private directory: CallDirectory = freepbxCallDirectory(EMPTY_DIRECTORY);
  private directoryAt = 0;
  private lastFullScan = 0;
  /** Our own cursor after the first cycle; read from the state table only at start. */
  private cursor: string | null | undefined;
  /** Calls over before the install are history: nobody is told about them (state.ts). */
  private quietBefore: string | null | undefined;
  /** Tenant settings, read once a minute (the page calls forgetSettings() on a change). */
  private settingsCache = new Map<string, TenantSettings>();
  /** Each tenant's classifier options, built from its settings and the directory: once per refresh, not per call. */
  private optionsCache = new Map<string, ClassifyOptions>();
  private settingsAt = 0;
  /** calldate's zone and this PBX's clock skew against the ledger: the group's common time base. */
  private clock: PbxClock;
  private skewMeasuredAt = 0;
  /** The ledger's time of the last look at the other PBXs' calls; read from the state table at start. */
  private otherPbxCursor: string | null | undefined;
  /** Read once: the journal's rows are keyed with it (audit-key.ts). */
  readonly auditKey: AuditKey;

  /** Our tables. */
  private readonly pool: Pool;
  /** The PBX's own database: cdr, cel and its configuration tables, read only. */
  private readonly cdrPool: Pool;

  constructor(
    /** One pool: the ledger is in the PBX's database (a single PBX); else each its own. */
    pools: Pool | DbPools,
    private readonly config: Config,
    /** Overrides the PBX directory's own tenant resolution (FreePBX: `default`; VitalPBX: per call). */
    private readonly tenantOf?: TenantOf,
    /** The sync's lock, when it fences writes (a cluster lease): each ledger transaction checks it first. */
    private readonly lock?: SingleInstanceLock,
  ) {
    ({ ledger: this.pool, cdr: this.cdrPool } = poolsOf(pools));
    this.auditKey = readAuditKey(config.auditKeyFile);
    this.tracker = new SettleTracker(config.sync.settleSeconds);
    this.cel = new CelFeed(this.cdrPool, config.db);
    this.hotWindow = new WindowCache(this.cdrPool, config.db);
    this.fullWindow = new WindowCache(this.cdrPool, config.db, FULL_SCAN_REFETCH_MS);
    this.clock = { zone: config.timezone || processZone(), skewMs: 0 };
  }

  /** A group member: its ledger is the group's, shared with the other PBXs. */
  private get inGroup(): boolean {
    return this.config.group.nodes.length > 0;
  }

  /**
   * The clock, its skew measured again when stale. A single PBX's CDR and ledger are one
   * server: no skew to measure, and its comparisons stay on local time anyway.
   */
  private async currentClock(): Promise<PbxClock> {
    if (this.inGroup && Date.now() - this.skewMeasuredAt >= SKEW_TTL_MS) {
      this.clock = { ...this.clock, skewMs: await measureSkewMs(this.cdrPool, this.pool) };
      this.skewMeasuredAt = Date.now();
    }
    return this.clock;
  }

  /** Settings change on the page; the sync reads them again at the next cycle. */
  forgetSettings(): void {
    this.settingsCache.clear();
    this.optionsCache.clear();
    this.settingsAt = Date.now();
  }

  /** Calls the PBX said are over (AMI): the next cycle after their grace classifies them without the settle time. */
  callsOver(linkedids: Iterable<string>): void {
    this.tracker.callEnded(linkedids);
  }

  /** When (performance.now() ms) a call known over is due a look, for the service to wake then; null when none waits. */
  nextCallEndDue(): number | null {
    return this.tracker.nextCallEndDue();
  }

  /** Loads the PBX directory (extensions, labels) before the first classification. */
  async prepare(): Promise<void> {
    await this.refreshDirectory();
  }

  async cycle(): Promise<CycleReport> {
    if (Date.now() - this.settingsAt > SETTINGS_TTL_MS) this.forgetSettings();
    await this.refreshDirectory();
    // The CDR's clock: calldate is the PBX's local time, whatever the ledger's server says.
    const [[{ now }]] = (await this.cdrPool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
    const t = naiveSeconds(now);
    const full = t - this.lastFullScan >= this.config.sync.fullScanEverySeconds;
    if (this.cursor === undefined) this.cursor = await readState(this.pool, 'cdr_cursor');
    if (this.quietBefore === undefined) this.quietBefore = await readState(this.pool, QUIET_BEFORE_KEY);
    const cursor = this.cursor;
    let windowStart = t - (full ? this.config.sync.maxCallSeconds : this.config.sync.hotWindowSeconds);
    // After a stop, start where we left off (bounded: older history is `smc backfill`'s job).
    if (cursor) windowStart = Math.max(Math.min(windowStart, naiveSeconds(cursor)), t - this.config.sync.maxCallSeconds);
    const since = naiveDatetime(windowStart);
    const read = await (full ? this.fullWindow : this.hotWindow).read(since, now);
    faultPoint('after-read');
    if (full) {
      this.lastFullScan = t;
      await writeState(this.pool, { bad_rows_window: JSON.stringify(countBad(read.bad)) });
    }
    const groups = groupByCall(read.rows);
    const known = await this.storedDigests(since);
    this.tracker.callEnded(await this.cel.read(since));
    // VitalPBX's CEL is read for call ends only: its tenants are told by CDR rows.
    const celDecides = this.config.pbx !== 'vitalpbx';
    const pending = new Map<string, PendingCall>();
    for (const [linkedid, rows] of groups) {
      const digest = rowsDigest(rows);
      if (known.get(linkedid) !== digest) pending.set(linkedid, { rows, digest, cel: celDecides ? this.cel.eventsOf(linkedid) : undefined });
    }
    if (celDecides) this.addCelOnlyCalls(pending, groups, known, windowStart);
    this.cel.forget(t - this.config.sync.hotWindowSeconds, t - this.config.sync.maxCallSeconds);
    const ready = this.tracker.settled(pending, read.now);
    // Only a full scan sees every call still in play; a hot cycle must not forget a long
    // call it cannot see, or that call's settle clock would restart at every full scan.
    if (full) this.tracker.prune(new Set(pending.keys()));
    const calls = ready.map((id) => pending.get(id)!);
    const events = await this.record(calls);
    const group = this.inGroup ? await this.clearFromOtherPbxs() : null;
    if (group) events.push(...group.events);

    const readySet = new Set(ready);
    const waiting = [...pending.keys()].filter((id) => !readySet.has(id));
    // The cursor follows calls that are about to settle; root-less fragments (a long call still
    // up, a lost root row) are found by the periodic full scan and must not hold it back.
    const nearlyDone = waiting.filter((id) => pending.get(id)!.rows.some((r) => r.uniqueid === id) || this.celCallOver(pending.get(id)!));
    const startOf = (call: PendingCall) =>
      call.rows.length ? Math.min(...call.rows.map((r) => naiveSeconds(r.calldate))) : Math.min(...(call.cel ?? []).map((e) => naiveSeconds(e.eventtime)));
    const oldestWaiting = nearlyDone.length ? Math.min(...nearlyDone.map((id) => startOf(pending.get(id)!))) : Infinity;
    const nextCursor = naiveDatetime(Math.min(oldestWaiting, naiveSeconds(read.now) - this.config.sync.settleSeconds));
    const groupState: Record<string, string> = group ? { [OTHER_PBX_CURSOR_KEY]: group.lookedAt, [CLOCK_SKEW_KEY]: String(this.clock.skewMs) } : {};
    await this.fencedTransaction((conn) => writeState(conn, { cdr_cursor: nextCursor, last_cycle: read.now, ...groupState }));
    // Moved only once stored: a refused write (lease lost) leaves it where the database has it.
    this.cursor = nextCursor;
    if (group) this.otherPbxCursor = group.lookedAt;
    return {
      now: read.now, windowStart: since, rowsRead: read.rows.length, badRows: read.bad.length,
      pending: waiting.length, classified: calls.length, events,
    };
  }

  /**
   * Classifies and records calls, oldest first, in transactions of up to BATCH calls.
   * @param notify false for history (`smc backfill`): its entries and their journal are
   *   written, but nobody is mailed or webhooked about misses that are days old.
   */
  async record(calls: PendingCall[], notify = true): Promise<LedgerEvent[]> {
    return this.write(await this.classify(calls), notify);
  }

  /**
   * The classifier's verdicts for calls, by tenant, oldest first. It lets the event loop
   * turn now and then, so a backfill's ledger writes of the previous chunk go on meanwhile.
   */
  async classify(calls: PendingCall[]): Promise<ClassifiedBatch> {
    const byTenant: ClassifiedBatch = new Map();
    for (const [i, { rows, cel, digest }] of calls.entries()) {
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve));
      const tenant = (this.tenantOf ?? this.directory.tenantOf)(rows);
      const classified = classifyCall(this.directory.adapt(tenant, rows), await this.optionsFor(tenant), cel);
      const verdict = this.withVoicemailMessage(this.directory.present(tenant, classified));
      faultPoint('after-classify');
      const list = byTenant.get(tenant) ?? [];
      list.push({ verdict, rowsDigest: digest });
      byTenant.set(tenant, list);
    }
    for (const list of byTenant.values()) {
      list.sort((a, b) => byText(a.verdict.startedAt, b.verdict.startedAt) || byText(a.verdict.linkedid, b.verdict.linkedid));
    }
    return byTenant;
  }

  /**
   * Records classified calls in the ledger, in order, in transactions of up to BATCH calls.
   * Calls that were over before the install are history, told to nobody.
   */
  async write(byTenant: ClassifiedBatch, notify = true): Promise<LedgerEvent[]> {
    const events: LedgerEvent[] = [];
    const quietBefore = notify ? this.quietBefore ?? null : null;
    const tell = (call: ClassifiedCall) => notify && (quietBefore === null || call.verdict.endedAt >= quietBefore);
    const clock = await this.currentClock();
    for (const [tenant, list] of byTenant) {
      const settings = await this.settings(tenant);
      for (let i = 0; i < list.length; ) {
        // A run of calls told alike, at most BATCH, keeps the ledger's chronological order.
        let end = i + 1;
        while (end < list.length && end - i < BATCH && tell(list[end]!) === tell(list[i]!)) end += 1;
        const run = list.slice(i, end);
        const result = await this.fencedTransaction((conn) => recordCalls(conn, this.auditKey, tenant, run, settings, { notify: tell(run[0]!), clock, group: this.inGroup }));
        faultPoint('after-commit');
        events.push(...result.events);
        i = end;
      }
    }
    return events;
  }

  /**
   * Clears this PBX's entries by the calls the other PBXs of the group recorded since the
   * last look (store.ts, clearFromOtherPbxs). The first look reads them all.
   */
  private async clearFromOtherPbxs(): Promise<{ events: LedgerEvent[]; lookedAt: string }> {
    const clock = await this.currentClock();
    if (this.otherPbxCursor === undefined) this.otherPbxCursor = await readState(this.pool, OTHER_PBX_CURSOR_KEY);
    const [[{ now }]] = (await this.pool.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
    const since = this.otherPbxCursor === null ? '1970-01-01 00:00:00' : naiveDatetime(naiveSeconds(this.otherPbxCursor) - OTHER_PBX_LOOK_BACK_SECONDS);
    if (!(await anyClearFromOtherPbxs(this.pool, since))) return { events: [], lookedAt: now };
    const events = await this.fencedTransaction((conn) => clearFromOtherPbxs(conn, this.auditKey, clock, since, (tenant) => this.settings(tenant)));
    return { events, lookedAt: now };
  }

  /**
   * A ledger write: fenced by the sync's lock (a holder that lost it writes nothing), and run
   * again whole on a conflict (Galera's certification, a deadlock). recordCalls keeps nothing
   * of an attempt in memory, so the batch is written intact or not at all.
   */
  private fencedTransaction<T>(work: (conn: PoolConnection) => Promise<T>): Promise<T> {
    return inRetriedTransaction(this.pool, async (conn) => {
      await this.lock?.fence(conn);
      return work(conn);
    });
  }

  /** Fills "left a message?" from the voicemail spool for recent calls (older messages may have been deleted since). */
  private withVoicemailMessage(verdict: Verdict): Verdict {
    if (!verdict.voicemail) return verdict;
    const ended = naiveSeconds(verdict.endedAt);
    if (Math.abs(Date.now() / 1000 - ended) > 2 * 86_400) return verdict;
    verdict.voicemail.messageLeft = voicemailLeft(this.config.voicemailSpool, verdict.voicemail, ended);
    verdict.explanation = explain(verdict);
    return verdict;
  }

  private classifyOptions(settings: TenantSettings, tenant: string): ClassifyOptions {
    return {
      isExtension: this.directory.isExtension(tenant, this.config.sync.extensions),
      queueAbandonMinWait: settings.queueAbandonMinWait,
      countIvrAbandon: settings.countIvrAbandon,
      labels: this.directory.labels(tenant),
      routes: this.directory.routes(tenant),
    };
  }

  private async optionsFor(tenant: string): Promise<ClassifyOptions> {
    let options = this.optionsCache.get(tenant);
    if (!options) {
      options = this.classifyOptions(await this.settings(tenant), tenant);
      this.optionsCache.set(tenant, options);
    }
    return options;
  }

  private async settings(tenant: string): Promise<TenantSettings> {
    let s = this.settingsCache.get(tenant);
    if (!s) {
      s = await loadSettings(this.pool, tenant);
      this.settingsCache.set(tenant, s);
    }
    return s;
  }

  private async refreshDirectory(): Promise<void> {
    const t = Date.now() / 1000;
    if (t - this.directoryAt < DIRECTORY_TTL_SECONDS) return;
    this.directory = await loadDirectory(this.cdrPool, this.config);
    this.directoryAt = t;
    this.optionsCache.clear();
  }

  /**
   * Calls CEL knows and CDR does not (FreePBX writes no row for a caller refused before any
   * Dial), once they started inside the CDR window: only there does "no CDR row" mean none was
   * written. A call whose stored verdict came from CDR rows (now outside the window) is left
   * to them. The same linkedid keys both, so a call later seen in CDR is classified again,
   * never twice.
   */
  private addCelOnlyCalls(pending: Map<string, PendingCall>, groups: Map<string, CdrRow[]>, known: Map<string, string>, windowStart: number): void {
    for (const linkedid of this.cel.linkedids()) {
      if (groups.has(linkedid)) continue;
      const stored = known.get(linkedid);
      if (stored !== undefined && !stored.startsWith('cel:')) continue;
      const events = this.cel.eventsOf(linkedid);
      const rootStart = events.find((e) => e.eventtype === 'CHAN_START' && e.uniqueid === linkedid);
      if (!rootStart || naiveSeconds(rootStart.eventtime) < windowStart) continue;
      const digest = celDigest(events);
      if (stored !== digest) pending.set(linkedid, { rows: [], cel: events, digest });
    }
  }

  /** A call known from CEL alone whose caller's channel is gone: about to settle. */
  private celCallOver(call: PendingCall): boolean {
    return call.rows.length === 0 && (call.cel ?? []).some((e) => e.eventtype === 'LINKEDID_END' || (e.eventtype === 'CHAN_END' && e.uniqueid === e.linkedid));
  }

  private async storedDigests(since: string): Promise<Map<string, string>> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      'SELECT linkedid, rows_digest FROM smart_missed_calls_calls WHERE pbx = @smc_pbx AND started_at >= ?',
      [since],
    );
    return new Map(rows.map((r) => [String(r.linkedid), String(r.rows_digest)]));
  }
}
