import type { Request, Response, Router } from 'express';
import type { Pool } from 'mysql2/promise';
import type { LedgerEvent } from '../ledger/entries.js';
import { JournalWatch } from '../ledger/journal-watch.js';
import { ALL_TENANTS, historyJobs, type HistoryJob, type HistoryProgress } from '../sync/history.js';
import type { SyncService } from '../sync/service.js';
import { viewerOf } from './auth.js';
import type { WebContext } from './context.js';
import { historyView } from './history.js';
import { THIS_PBX, type PbxSelection } from './tenant-scope.js';
import { revokedLinks } from './wallboard-links.js';

const KEEPALIVE_MS = 15_000;
/** How long the browser waits before it reconnects a stream that ended. */
const RECONNECT_MS = 3_000;
/** How often, while a page is open, the journal is read for changes made elsewhere. */
const ELSEWHERE_MS = 1_000;

export interface StreamLimits {
  /** Open streams one user (of one tenant) may hold: a few tabs, and a reload's overlap. */
  perUser: number;
  /** Open streams in all: each holds a socket and some buffers for as long as it lives. */
  total: number;
  /**
   * A stream ends after this long and the browser's EventSource opens a new one, so who
   * asks is checked again (a removed user, an expired session or a changed role stops
   * getting updates) and a forgotten tab does not hold its slot for ever.
   */
  lifetimeMs: number;
}

export const STREAM_LIMITS: StreamLimits = { perUser: 10, total: 200, lifetimeMs: 5 * 60_000 };

interface Stream {
  tenant: string;
  /** The PBXs whose changes the page shows: this one, or some of its group. */
  pbxs: PbxSelection;
  owner: string;
  res: Response;
  /** The history progress in this reader's language. */
  describe: (p: HistoryProgress | null) => unknown;
  /** A wallboard's stream: the id of the link it was opened with, which revoking closes. */
  wallboard?: number;
}

/** What a stream is opened for: whose changes, the reader's words, and the wallboard link if any. */
export interface StreamRequest {
  tenant: string;
  pbxs?: PbxSelection;
  owner: string;
  describe: Stream['describe'];
  wallboard?: number;
  healthy: boolean;
  /** The refusal's message when there is no room. */
  refused: (why: 'user' | 'total') => string;
}

/** What a stream says changed: a tenant's entry of a PBX, and how. */
interface ListChange {
  pbx: string;
  tenant: string;
  entryId: number;
  event: string;
}

/**
 * Every open event stream, fed by ONE listener on the sync (not one per stream): after each
 * sync commit, the ids of the tenant's entries that changed, the sync's health, and how far
 * the history job of the stream's tenant got.
 *
 * Changes made elsewhere — a user on another page, the CLI, the instance that syncs while
 * this one stands by — are read from the journal every ELSEWHERE_MS while a stream is open
 * (and not at all when none is). Rows of this instance's own sync are left to its direct
 * announcement, which comes sooner; a standing-by instance also follows the history jobs.
 */
export class EventStreams {
  private readonly streams = new Set<Stream>();
  private readonly perOwner = new Map<string, number>();
  private keepalive: NodeJS.Timeout | null = null;
  private elsewhere: NodeJS.Timeout | null = null;
  private journal: JournalWatch;
  /** The history jobs as a standing-by instance last read them. */
  private jobsSeen = new Map<string, string>();

  constructor(
    private readonly sync: SyncService,
    private readonly pool: Pool,
    readonly limits: StreamLimits,
    /** This PBX's id, and whether it is in a group (whose other PBXs' changes the group's pages show too). */
    private readonly pbx: { id: string; group: boolean },
    private readonly progressOf: (tenant: string) => Promise<HistoryProgress | null> = async () => null,
  ) {
    this.journal = new JournalWatch(pool, pbx.group);
    sync.on('changes', (events: LedgerEvent[]) =>
      this.changed(events.flatMap((e) => (e.entry.id === null ? [] : [{ pbx: this.pbx.id, tenant: e.entry.tenant, entryId: e.entry.id, event: e.event }]))),
    );
    sync.on('history', (job: HistoryJob) => void this.historyMoved(job).catch(() => {}));
    sync.on('health', (health: { ok: boolean }) => {
      for (const s of this.streams) send(s.res, 'health', { ok: health.ok });
    });
  }

  get size(): number {
    return this.streams.size;
  }

  /** Why a new stream for `owner` is refused, or null when there is room. */
  refusal(owner: string): 'user' | 'total' | null {
    if ((this.perOwner.get(owner) ?? 0) >= this.limits.perUser) return 'user';
    if (this.streams.size >= this.limits.total) return 'total';
    return null;
  }

  /**
   * Answers a request with an event stream, or with the refusal when there is no room. The
   * stream ends after its lifetime (the browser opens a new one, so who asks is checked again).
   */
  serve(req: Request, res: Response, want: StreamRequest): void {
    const refusal = this.refusal(want.owner);
    if (refusal) {
      res.set('Retry-After', '30');
      res.status(refusal === 'user' ? 429 : 503).json({ error: 'too_many_streams', message: want.refused(refusal) });
      return;
    }
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    res.flushHeaders();
    res.write(`retry: ${RECONNECT_MS}\n\n`);
    send(res, 'health', { ok: want.healthy });
    const close = this.open({
      tenant: want.tenant, pbxs: want.pbxs ?? THIS_PBX, owner: want.owner, res, describe: want.describe,
      ...(want.wallboard !== undefined ? { wallboard: want.wallboard } : {}),
    });
    const lifetime = setTimeout(() => res.end(), this.limits.lifetimeMs);
    const stop = () => {
      clearTimeout(lifetime);
      close();
    };
    req.on('close', stop);
    res.on('close', stop);
  }

  /** Ends the open streams of these wallboard links (revoked): their next request is refused. */
  closeWallboards(ids: number[]): void {
    for (const s of [...this.streams]) if (s.wallboard !== undefined && ids.includes(s.wallboard)) s.res.end();
  }

  open(stream: Stream): () => void {
    this.streams.add(stream);
    this.perOwner.set(stream.owner, (this.perOwner.get(stream.owner) ?? 0) + 1);
    this.keepalive ??= setInterval(() => {
      for (const s of this.streams) s.res.write(': keepalive\n\n');
    }, KEEPALIVE_MS).unref();
    // The first look at once: it finds the journal's end, from which changes are told.
    if (!this.elsewhere) this.watchElsewhere(0);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.streams.delete(stream);
      const left = (this.perOwner.get(stream.owner) ?? 1) - 1;
      if (left > 0) this.perOwner.set(stream.owner, left);
      else this.perOwner.delete(stream.owner);
      if (this.streams.size === 0 && this.keepalive) {
        clearInterval(this.keepalive);
        this.keepalive = null;
      }
    };
  }

  private changed(changes: ListChange[]): void {
    const byTenant = new Map<string, ListChange[]>();
    for (const c of changes) byTenant.set(c.tenant, [...(byTenant.get(c.tenant) ?? []), c]);
    for (const s of this.streams) {
      // Nothing about another tenant is ever written to a stream, nor about a PBX its page does not show.
      const mine = byTenant.get(s.tenant)?.filter((c) => (s.pbxs === THIS_PBX ? c.pbx === this.pbx.id : s.pbxs.ids.includes(c.pbx)));
      if (mine?.length) send(s.res, 'changes', { entries: [...new Set(mine.map((c) => c.entryId))], events: mine.map((c) => c.event) });
    }
  }

  /** One look at the journal (and, standing by, at the history jobs), then the next, while streams are open. */
  private watchElsewhere(delay = ELSEWHERE_MS): void {
    this.elsewhere = setTimeout(async () => {
      try {
        const syncing = this.sync.isSyncing;
        // 'agent' is the sync: when it is ours, it announced this PBX's rows itself.
        const changes = (await this.journal.changes()).filter((c) => !(syncing && c.actor === 'agent' && c.pbx === this.pbx.id));
        if (changes.length) this.changed(changes);
        if (!syncing) await this.followHistory();
        // A link revoked on another instance (or by the CLI) closes its boards here too.
        const boards = [...new Set([...this.streams].flatMap((s) => (s.wallboard === undefined ? [] : [s.wallboard])))];
        if (boards.length) this.closeWallboards(await revokedLinks(this.pool, boards));
      } catch {
        /* the database is away: the sync's health event tells the pages; the next look catches up */
      }
      this.elsewhere = null;
      if (this.streams.size > 0) {
        this.watchElsewhere();
      } else {
        // Nobody is watching: the next page starts from the journal's end then.
        this.journal = new JournalWatch(this.pool, this.pbx.group);
        this.jobsSeen.clear();
      }
    }, delay).unref();
  }

  /** Standing by, the history runs in the other instance: a job that moved (or runs) is told like our own. */
  private async followHistory(): Promise<void> {
    const seen = new Map<string, string>();
    for (const job of await historyJobs(this.pool)) {
      const text = JSON.stringify(job);
      seen.set(job.scope, text);
      if (job.finishedAt === null || this.jobsSeen.get(job.scope) !== text) await this.historyMoved(job);
    }
    this.jobsSeen = seen;
  }

  /** Progress in order: one count per tenant with a page open, sent before the next is asked. */
  private historyQueue: Promise<void> = Promise.resolve();

  private historyMoved(job: HistoryJob): Promise<void> {
    this.historyQueue = this.historyQueue.then(async () => {
      const tenants = new Set([...this.streams].map((s) => s.tenant).filter((t) => job.scope === ALL_TENANTS || t === job.scope));
      for (const tenant of tenants) {
        const progress = await this.progressOf(tenant);
        for (const s of this.streams) if (s.tenant === tenant) send(s.res, 'history', s.describe(progress));
      }
    }).catch(() => {});
    return this.historyQueue;
  }
}

function send(res: Response, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * Server-sent events: the page re-reads what it shows, through the same tenant-scoped
 * routes, when the stream says this tenant's entries changed.
 */
export function eventRoutes(router: Router, ctx: WebContext, streams: EventStreams): void {
  router.get('/api/events', (req: Request, res: Response) => {
    const viewer = viewerOf(res);
    streams.serve(req, res, {
      tenant: viewer.tenant,
      pbxs: viewer.scope.pbxs,
      owner: `${viewer.tenant}\n${viewer.user}`,
      describe: (p: HistoryProgress | null) => ({ history: historyView(p, viewer, (p?.finishedAt ?? p?.until ?? '').slice(0, 10)) }),
      healthy: ctx.sync.healthy,
      refused: (why) => (why === 'user'
        ? viewer.t('Too many pages with live updates are open for you: close some tabs, then reload this page.')
        : viewer.t('Too many pages with live updates are open on this PBX: reload this page later.')),
    });
  });

  router.get('/api/health', (_req: Request, res: Response) => {
    const viewer = viewerOf(res);
    if (ctx.sync.healthy) res.json({ ok: true });
    else res.status(503).json({ ok: false, message: viewer.t('The database is unavailable, so nothing can be shown until it is back. No call is lost: the list catches up then.') });
  });
}
