import type { Pool } from 'mysql2/promise';
import type { Config } from '../config/schema.js';
import type { AuditKey } from '../ledger/audit-key.js';
import type { SyncService } from '../sync/service.js';
import type { HealthMonitor } from '../health/monitor.js';
import type { Catalogues } from './i18n.js';
import type { PbxLabels } from './route-labels.js';
import type { SessionStore } from './session.js';

/** What every route needs besides the request: shared, built once by createApp. */
export interface WebContext {
  /** Our tables (the ledger). */
  pool: Pool;
  /** The PBX's own database: a call's raw CDR rows, its directory. The ledger's pool on a single PBX. */
  cdrPool: Pool;
  config: Config;
  sync: SyncService;
  catalogues: Catalogues;
  labels: PbxLabels;
  viewsDir: string;
  /** The journal's key: a resolve by hand appends to it. */
  auditKey: AuditKey;
  /** HMAC key for sessions and CSRF tokens. */
  secret: string;
  /** Standalone logins' sessions. */
  sessions: SessionStore;
  /** The checks of `smc doctor`, as the service runs them on itself. */
  health: HealthMonitor;
}
