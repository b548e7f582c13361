import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Pool } from 'mysql2/promise';
import { findModuleDir } from '../config/module-dir.js';
import { machineContext, supervisorOf } from '../health/probes.js';
import type { Config } from '../config/schema.js';
import { readAuditKey } from '../ledger/audit-key.js';
import type { SyncService } from '../sync/service.js';
import { groupView, identify, viewerOf } from './auth.js';
import { calculatorRoutes } from './calculator.js';
import type { WebContext } from './context.js';
import { requireCsrf } from './csrf.js';
import { dashboardRoutes } from './dashboard.js';
import { callbackRoute, entryRoutes } from './entries.js';
import { claimRoutes } from './claims.js';
import { EventStreams, eventRoutes, STREAM_LIMITS, type StreamLimits } from './events.js';
import { HealthMonitor } from '../health/monitor.js';
import { healthRoutes } from './health.js';
import { historyProgress } from '../sync/history.js';
import { historyRoutes } from './history.js';
import { Catalogues, defaultI18nDir } from './i18n.js';
import { loginRoutes } from './login.js';
import { groupMode } from './pbx-view.js';
import { renderPage } from './render.js';
import { PbxLabels } from './route-labels.js';
import { securityHeaders } from './security-headers.js';
import { SessionStore } from './session.js';
import { settingsRoutes } from './settings.js';
import { wallboardAdminRoutes, wallboardRoutes } from './wallboard.js';

export interface AppOptions {
  /** Our tables (the ledger). */
  pool: Pool;
  /** The PBX's own database when the ledger is elsewhere (group mode); default: pool. */
  cdrPool?: Pool;
  config: Config;
  sync: SyncService;
  /** Folder holding views/, assets/, i18n/ and build/vendor/; default: the module folder (config/module-dir.ts). */
  moduleDir?: string;
  i18nDir?: string;
  /** Milliseconds; tests move the clock to check stale identities and to let the health checks run again. */
  now?: () => number;
  /** Caps on the live event streams; tests make them small. */
  streamLimits?: StreamLimits;
  log?: (line: string) => void;
  /** Asterisk's configuration folder the health checks read (cdr.conf); default /etc/asterisk. */
  asteriskEtc?: string;
}

export function createApp(opts: AppOptions): express.Express {
  const moduleDir = opts.moduleDir ?? findModuleDir();
  const logins = opts.config.server.users.length > 0;
  // Standalone without a configured secret: sessions last as long as the process.
  const secret = opts.config.server.secret || (logins ? randomBytes(32).toString('hex') : '');
  const cdrPool = opts.cdrPool ?? opts.pool;
  const ctx: WebContext = {
    pool: opts.pool,
    cdrPool,
    config: opts.config,
    sync: opts.sync,
    catalogues: new Catalogues(opts.i18nDir ?? defaultI18nDir(moduleDir)),
    labels: new PbxLabels(cdrPool, opts.config),
    viewsDir: join(moduleDir, 'views'),
    auditKey: readAuditKey(opts.config.auditKeyFile),
    secret,
    sessions: new SessionStore(secret),
    health: new HealthMonitor((tenant) => ({
      ...machineContext(opts.config, { ledger: opts.pool, cdr: cdrPool }, { tenant, insideService: { supervisor: supervisorOf(process.env) } }),
      ...(opts.asteriskEtc !== undefined ? { asteriskEtc: opts.asteriskEtc } : {}),
    }), opts.now ?? Date.now),
  };
  const log = opts.log ?? (() => {});
  const app = express();
  app.disable('x-powered-by');
  // Behind a TLS proxy named in server.trust_proxy, X-Forwarded-Proto makes req.secure true.
  app.set('trust proxy', opts.config.server.trustProxy);
  app.set('etag', false);
  // One spelling per route: /api/Events or /api/events/ must not reach a route the glue would not recognise.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.use(securityHeaders);

  // Static files carry nothing of anyone's: CSS, the page script, chart.js.
  app.use('/assets/css', express.static(join(moduleDir, 'assets', 'css'), { fallthrough: false, index: false }));
  app.use('/assets/js', express.static(join(moduleDir, 'assets', 'js'), { fallthrough: false, index: false }));
  // tools/build.mjs puts chart.js beside the bundle: the PBX has no node_modules.
  const chartJs = join(moduleDir, 'build', 'vendor', 'chart.umd.js');
  app.get('/assets/vendor/chart.umd.js', (_req, res) => {
    if (!existsSync(chartJs)) res.status(404).type('text/plain').send('build/vendor/chart.umd.js missing: run tools/build.mjs');
    else res.sendFile(chartJs, { headers: { 'Cache-Control': 'max-age=86400' } });
  });

  app.use(express.json({ limit: '256kb' }));
  app.use(express.urlencoded({ extended: false, limit: '64kb' }));

  loginRoutes(app, ctx, { logins, now: opts.now ?? Date.now });

  const progressOf = (tenant: string) => historyProgress(opts.pool, tenant, (job) => opts.sync.history.etaSeconds(job));
  const pbx = { id: opts.config.pbxId, group: groupMode(opts.config) };
  const streams = new EventStreams(opts.sync, opts.pool, opts.streamLimits ?? STREAM_LIMITS, pbx, progressOf);
  // The wallboard's link is its own credential (no session on a TV): before identify.
  const boards = express.Router({ caseSensitive: true, strict: true });
  wallboardRoutes(boards, ctx, streams);
  app.use(boards);

  app.use(identify({ pool: opts.pool, secret, catalogues: ctx.catalogues, logins, users: opts.config.server.users, sessions: ctx.sessions, now: opts.now ?? Date.now }));
  app.use(requireCsrf(secret));
  app.use(groupView(opts.pool, opts.config));

  const router = express.Router({ caseSensitive: true, strict: true });
  router.get('/', (_req, res) => res.redirect(303, viewerOf(res).links.page('dashboard')));
  dashboardRoutes(router, ctx);
  entryRoutes(router, ctx);
  callbackRoute(router, ctx);
  claimRoutes(router, ctx);
  settingsRoutes(router, ctx);
  healthRoutes(router, ctx);
  calculatorRoutes(router, ctx);
  historyRoutes(router, ctx);
  wallboardAdminRoutes(router, ctx, streams);
  eventRoutes(router, ctx, streams);
  app.use(router);

  app.use(async (req: Request, res: Response) => {
    if (req.path.startsWith('/api/') || !res.locals.viewer) res.status(404).json({ error: 'not_found' });
    else await renderPage(ctx, res, 'not-found', { view: '' }, 404);
  });

  // A failed query is most often the database being away: say so instead of a stack trace.
  app.use(async (err: Error, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) {
      res.status(status).json({ error: 'bad_request', message: err.message });
      return;
    }
    // A wallboard's path holds its token, a credential: never written to a log.
    log(`${req.method} ${req.path.replace(/^\/wallboard\/[^/]+/, '/wallboard/…')}: ${err.message}`);
    const t = res.locals.t as ((s: string) => string) | undefined;
    const message = t ? t('The database is unavailable, so nothing can be shown until it is back. No call is lost: the list catches up then.') : 'service error';
    if (req.path.startsWith('/api/') || req.path.startsWith('/wallboard/') || !res.locals.viewer) {
      res.status(503).json({ error: 'unavailable', message });
      return;
    }
    try {
      await renderPage(ctx, res, 'unavailable', { view: '', message }, 503);
    } catch {
      res.status(503).type('text/plain').send(message);
    }
  });
  return app;
}
