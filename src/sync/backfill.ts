import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import { poolsOf, type DbPools } from '../db/ledger-pool.js';
import { countBad, groupByCall, readWindow, rowsDigest, type WindowRead } from '../cdr/reader.js';
import { naiveDatetime, naiveSeconds, type CdrRow } from '../cdr/row.js';
import type { ClassifiedCall } from '../ledger/store.js';
import { Syncer, type ClassifiedBatch, type TenantOf } from './cycle.js';
import { readState, writeState } from './state.js';

export interface BackfillOptions {
  since: string;
  until?: string;
  chunkSeconds?: number;
  progress?: (line: string) => void;
  tenantOf?: TenantOf;
  /** Where the position is saved; default one key per range. */
  resumeKey?: string;
  /** Which classified calls this run records (the service's history of one tenant, each tenant's own days). */
  keep?: (tenant: string, call: ClassifiedCall) => boolean;
  /** The service's own Syncer (its directory and settings caches); `smc backfill` makes one. */
  syncer?: Syncer;
}

/** One chunk of history, committed: where it ends and what it held, per tenant. */
export interface BackfillChunk {
  since: string;
  until: string;
  /** Everything before this is committed and saved as the resume point. */
  done: string;
  rows: number;
  calls: number;
  byTenant: Map<string, { calls: number; missed: number }>;
}

/** `smc backfill`: every chunk, as fast as the database goes. */
export async function backfill(pool: Pool | DbPools, config: Config, options: BackfillOptions): Promise<{ rows: number; calls: number }> {
  let rows = 0;
  let calls = 0;
  for await (const chunk of backfillChunks(pool, config, options)) {
    rows += chunk.rows;
    calls += chunk.calls;
  }
  return { rows, calls };
}

/**
 * Classifies history in calldate chunks, yielding after each chunk is committed. A call
 * belongs to the chunk holding its first row; rows up to an hour past the chunk are read
 * too so calls crossing the boundary are whole. After each chunk the position is saved: an
 * interrupted backfill resumes there. History is recorded without notifying anyone.
 *
 * While the consumer holds a yielded chunk, no ledger write is in flight (only the read of
 * a next chunk): the service runs its live cycles between chunks without the two writing
 * at once.
 */
export async function* backfillChunks(pools: Pool | DbPools, config: Config, options: BackfillOptions): AsyncGenerator<BackfillChunk, void> {
  const { ledger: pool, cdr } = poolsOf(pools);
  const since = normaliseDate(options.since, 'since');
  const [[{ now }]] = (await cdr.query<RowDataPacket[]>('SELECT NOW() AS now')) as unknown as [[{ now: string }]];
  const until = options.until ? normaliseDate(options.until, 'until') : naiveDatetime(naiveSeconds(now) - config.sync.settleSeconds);
  const chunk = options.chunkSeconds ?? 6 * 3600;
  const lookahead = Math.min(config.sync.maxCallSeconds, 3600);
  const resumeKey = options.resumeKey ?? `backfill:${since}:${until}`;
  const resumed = await readState(pool, resumeKey);
  const syncer = options.syncer ?? new Syncer(pools, config, options.tenantOf);
  await syncer.prepare();
  let from = resumed ? naiveSeconds(resumed) : naiveSeconds(since);
  const end = naiveSeconds(until);
  let rowsSeen = 0;
  const bad: WindowRead['bad'] = [];
  if (resumed) options.progress?.(`resuming at ${resumed}`);
  // Calls that began in the previous chunk and run past its end: their later rows are read
  // again by the next chunk, which must not take them for calls of its own. After a resume
  // that memory is gone, so the first chunk looks back instead (see readChunk below).
  let carried = new Set<string>();
  const readChunk = (start: number, back: number) => {
    const read = readWindow(cdr, config.db, naiveDatetime(start - back), naiveDatetime(Math.min(start + chunk + lookahead, end)));
    // Awaited once the current chunk is written; a failure surfaces there, not as an unhandled rejection.
    read.catch(() => {});
    return read;
  };
  // Three things overlap: MariaDB reads the next chunk and writes the previous one's ledger
  // rows while Node classifies this one. Chunks still reach the ledger in order, and the
  // resume point moves only once a chunk is committed.
  let reading = from < end ? readChunk(from, resumed ? lookahead : 0) : null;
  let writing: Promise<BackfillChunk> | null = null;
  while (reading) {
    const to = Math.min(from + chunk, end);
    const read = await reading;
    reading = to < end ? readChunk(to, 0) : null;
    // Rows past the chunk are read again with the next one; count each bad row once.
    bad.push(...read.bad.filter((b) => b.calldate >= naiveDatetime(from) && b.calldate < naiveDatetime(to)));
    const owned: CdrRow[][] = [];
    const next = new Set<string>();
    for (const [linkedid, callRows] of groupByCall(read.rows)) {
      const first = Math.min(...callRows.map((r) => naiveSeconds(r.calldate)));
      if (first < from || first >= to || carried.has(linkedid)) continue;
      owned.push(callRows);
      if (callRows.some((r) => naiveSeconds(r.calldate) >= to)) next.add(linkedid);
    }
    const classified = kept(await syncer.classify(owned.map((callRows) => ({ rows: callRows, digest: rowsDigest(callRows) }))), options.keep);
    if (writing) yield await writing;
    const done = naiveDatetime(to);
    const counted: BackfillChunk = { since, until, done, rows: owned.reduce((n, c) => n + c.length, 0), calls: owned.length, byTenant: tally(classified) };
    writing = (async () => {
      await syncer.write(classified, false);
      await writeState(pool, { [resumeKey]: done });
      options.progress?.(`backfill ${done}: ${counted.calls} calls, ${counted.rows} rows`);
      return counted;
    })();
    writing.catch(() => {});
    rowsSeen += counted.rows;
    carried = next;
    from = to;
  }
  if (writing) yield await writing;
  // A resumed run that had nothing left to read keeps the previous run's count.
  if (rowsSeen > 0 || bad.length > 0) {
    await writeState(pool, { bad_rows_backfill: JSON.stringify(countBad(bad)) });
  }
}

function kept(batch: ClassifiedBatch, keep: BackfillOptions['keep']): ClassifiedBatch {
  if (!keep) return batch;
  const out: ClassifiedBatch = new Map();
  for (const [tenant, list] of batch) {
    const mine = list.filter((call) => keep(tenant, call));
    if (mine.length) out.set(tenant, mine);
  }
  return out;
}

function tally(batch: ClassifiedBatch): BackfillChunk['byTenant'] {
  return new Map([...batch].map(([tenant, list]) => [tenant, { calls: list.length, missed: list.filter((c) => c.verdict.verdict === 'missed').length }]));
}

export function normaliseDate(text: string, field: string): string {
  const t = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) return `${t} 00:00:00`;
  if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$/.test(t)) return (t.replace('T', ' ') + ':00').slice(0, 19);
  throw new Error(`--${field}: '${text}' is not a date (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)`);
}
