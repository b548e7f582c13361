import type { Pool, RowDataPacket } from 'mysql2/promise';
import { CALLER_MISSES_FILL, ROLLUP_FILLS } from '../ledger/rollup.js';
import { DEFAULT_PBX_ID } from '../config/schema.js';

/**
 * Our schema, one numbered step at a time. A step is applied once, in order, and
 * recorded in smart_missed_calls_migrations; re-running `smc migrate` is a no-op.
 * Steps are never edited after release: a change is a new step.
 */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/**
 * The pbx id column (migration 10): compared byte for byte, as the @smc_pbx every ledger
 * connection holds (db/pool.ts), so `pbx = @smc_pbx` uses the keys that lead with it.
 */
const PBX_COLUMN = `pbx VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL DEFAULT '${DEFAULT_PBX_ID}'`;

const refuse = (what: string) =>
  `BEGIN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'smart_missed_calls_audit is append-only: ${what} refused'; END`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'entries, calls, audit, settings, outbox, state',
    statements: [
      `CREATE TABLE IF NOT EXISTS smart_missed_calls (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        tenant VARCHAR(64) NOT NULL,
        caller VARCHAR(64) NOT NULL,
        caller_key VARCHAR(32) NOT NULL,
        caller_raw VARCHAR(80) NOT NULL DEFAULT '',
        caller_name VARCHAR(160) NOT NULL DEFAULT '',
        anonymous TINYINT(1) NOT NULL DEFAULT 0,
        did VARCHAR(50) NOT NULL DEFAULT '',
        route_kind VARCHAR(16) NOT NULL DEFAULT 'route',
        route_id VARCHAR(64) NOT NULL DEFAULT '',
        route_label VARCHAR(160) NOT NULL DEFAULT '',
        status ENUM('open','cleared') NOT NULL DEFAULT 'open',
        missed_count INT UNSIGNED NOT NULL DEFAULT 0,
        total_missed INT UNSIGNED NOT NULL DEFAULT 0,
        rang_extensions TEXT NOT NULL,
        first_attempt DATETIME NOT NULL,
        last_attempt DATETIME NOT NULL,
        last_linkedid VARCHAR(32) NOT NULL DEFAULT '',
        voicemail_left TINYINT(1) NULL,
        callback_attempts INT UNSIGNED NOT NULL DEFAULT 0,
        last_callback_at DATETIME NULL,
        last_callback_ext VARCHAR(32) NULL,
        cleared_by VARCHAR(16) NULL,
        cleared_at DATETIME NULL,
        cleared_ext VARCHAR(32) NULL,
        cleared_user VARCHAR(64) NULL,
        cleared_linkedid VARCHAR(32) NULL,
        note TEXT NULL,
        created_at DATETIME NOT NULL,
        updated_at DATETIME NOT NULL,
        UNIQUE KEY uniq_tenant_caller_did (tenant, caller_key, did),
        KEY idx_tenant_status_last (tenant, status, last_attempt),
        KEY idx_tenant_last (tenant, last_attempt)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_calls (
        tenant VARCHAR(64) NOT NULL,
        linkedid VARCHAR(32) NOT NULL,
        verdict VARCHAR(12) NOT NULL,
        direction VARCHAR(10) NOT NULL,
        caller VARCHAR(80) NOT NULL DEFAULT '',
        caller_key VARCHAR(32) NOT NULL DEFAULT '',
        did VARCHAR(50) NOT NULL DEFAULT '',
        dialled VARCHAR(80) NOT NULL DEFAULT '',
        started_at DATETIME NOT NULL,
        ended_at DATETIME NOT NULL,
        wait_s INT UNSIGNED NOT NULL DEFAULT 0,
        answered_by VARCHAR(80) NULL,
        rang TEXT NOT NULL,
        route_kind VARCHAR(16) NOT NULL DEFAULT 'route',
        route_id VARCHAR(64) NOT NULL DEFAULT '',
        reasons TEXT NOT NULL,
        explanation TEXT NOT NULL,
        voicemail TEXT NULL,
        entry_id BIGINT UNSIGNED NULL,
        row_count INT UNSIGNED NOT NULL DEFAULT 0,
        rows_digest CHAR(40) NOT NULL DEFAULT '',
        classified_at DATETIME NOT NULL,
        PRIMARY KEY (tenant, linkedid),
        KEY idx_tenant_started (tenant, started_at),
        KEY idx_started (started_at),
        KEY idx_entry (entry_id),
        KEY idx_tenant_caller (tenant, caller_key)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_audit (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        tenant VARCHAR(64) NOT NULL,
        entry_id BIGINT UNSIGNED NULL,
        event VARCHAR(24) NOT NULL,
        reason VARCHAR(24) NULL,
        actor VARCHAR(80) NOT NULL,
        ext VARCHAR(32) NULL,
        linkedid VARCHAR(32) NULL,
        note TEXT NULL,
        created_at DATETIME(3) NOT NULL,
        prev_hash CHAR(64) NOT NULL,
        hash CHAR(64) NOT NULL,
        KEY idx_entry (entry_id),
        KEY idx_tenant_created (tenant, created_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `DROP TRIGGER IF EXISTS smart_missed_calls_audit_no_update`,
      `CREATE TRIGGER smart_missed_calls_audit_no_update BEFORE UPDATE ON smart_missed_calls_audit FOR EACH ROW ${refuse('UPDATE')}`,
      `DROP TRIGGER IF EXISTS smart_missed_calls_audit_no_delete`,
      `CREATE TRIGGER smart_missed_calls_audit_no_delete BEFORE DELETE ON smart_missed_calls_audit FOR EACH ROW ${refuse('DELETE')}`,
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_settings (
        tenant VARCHAR(64) NOT NULL PRIMARY KEY,
        settings TEXT NOT NULL,
        updated_at DATETIME NOT NULL,
        updated_by VARCHAR(80) NOT NULL DEFAULT ''
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_outbox (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        tenant VARCHAR(64) NOT NULL,
        event VARCHAR(24) NOT NULL,
        entry_id BIGINT UNSIGNED NULL,
        linkedid VARCHAR(32) NULL,
        payload TEXT NOT NULL,
        status VARCHAR(12) NOT NULL DEFAULT 'pending',
        attempts INT UNSIGNED NOT NULL DEFAULT 0,
        next_attempt_at DATETIME NOT NULL,
        last_error TEXT NULL,
        created_at DATETIME NOT NULL,
        done_at DATETIME NULL,
        KEY idx_status_next (status, next_attempt_at),
        KEY idx_entry (entry_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_state (
        k VARCHAR(64) NOT NULL PRIMARY KEY,
        v TEXT NOT NULL,
        updated_at DATETIME NOT NULL
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_lookups (
        tenant VARCHAR(64) NOT NULL,
        caller_key VARCHAR(32) NOT NULL,
        name VARCHAR(160) NOT NULL DEFAULT '',
        source VARCHAR(24) NOT NULL DEFAULT '',
        fetched_at DATETIME NOT NULL,
        PRIMARY KEY (tenant, caller_key)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    ],
  },
  {
    version: 2,
    name: 'notification deliveries, imported contacts',
    statements: [
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_deliveries (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        tenant VARCHAR(64) NOT NULL,
        outbox_id BIGINT UNSIGNED NULL,
        entry_id BIGINT UNSIGNED NULL,
        caller_key VARCHAR(32) NOT NULL DEFAULT '',
        did VARCHAR(50) NOT NULL DEFAULT '',
        event VARCHAR(24) NOT NULL,
        event_at DATETIME NULL,
        channel VARCHAR(24) NOT NULL,
        target VARCHAR(1000) NOT NULL,
        idempotency_key VARCHAR(190) NOT NULL,
        payload MEDIUMTEXT NOT NULL,
        status VARCHAR(12) NOT NULL DEFAULT 'pending',
        attempts INT UNSIGNED NOT NULL DEFAULT 0,
        next_attempt_at DATETIME(3) NOT NULL,
        last_error TEXT NULL,
        response_code INT NULL,
        covered_by BIGINT UNSIGNED NULL,
        created_at DATETIME(3) NOT NULL,
        sending_at DATETIME(3) NULL,
        sent_at DATETIME(3) NULL,
        UNIQUE KEY uniq_idempotency (idempotency_key),
        KEY idx_status_next (status, next_attempt_at),
        KEY idx_tenant_channel_sent (tenant, channel, sent_at),
        KEY idx_tenant_caller (tenant, caller_key, did),
        KEY idx_entry (entry_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_contacts (
        tenant VARCHAR(64) NOT NULL,
        caller_key VARCHAR(32) NOT NULL,
        number VARCHAR(64) NOT NULL,
        name VARCHAR(160) NOT NULL,
        source VARCHAR(24) NOT NULL DEFAULT 'csv',
        imported_at DATETIME NOT NULL,
        PRIMARY KEY (tenant, caller_key)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    ],
  },
  {
    version: 3,
    name: 'per-tenant accounts (VitalPBX)',
    statements: [
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_users (
        user VARCHAR(64) NOT NULL PRIMARY KEY,
        tenant VARCHAR(64) NOT NULL,
        role VARCHAR(16) NOT NULL,
        password_hash VARCHAR(255) NOT NULL,
        created_at DATETIME NOT NULL,
        updated_at DATETIME NOT NULL,
        KEY idx_tenant (tenant)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    ],
  },
  {
    version: 4,
    name: 'dashboard and filter indexes',
    // Measured by `npm run bench` at 1 M calls / 100 k entries: without these MariaDB read
    // every call of the tenant through the primary key for each dashboard figure (7 s each).
    // Each serves one query shape of src/web/*-queries.ts from the index alone.
    statements: [
      `ALTER TABLE smart_missed_calls_calls
        ADD KEY idx_tenant_started_kind (tenant, started_at, direction, verdict, route_kind, route_id, did),
        ADD KEY idx_tenant_verdict_started (tenant, verdict, started_at, caller_key, entry_id, caller)`,
      `ALTER TABLE smart_missed_calls ADD KEY idx_tenant_route (tenant, route_kind, route_id), ADD KEY idx_tenant_did (tenant, did)`,
      `ALTER TABLE smart_missed_calls_audit ADD KEY idx_tenant_created_event (tenant, created_at, event, reason, ext)`,
    ],
  },
  {
    version: 5,
    name: 'exact comparison of the keys entries are matched on',
    // The ledger matches entries by exact caller key and DID; with a case- and
    // pad-insensitive collation MariaDB would call two DIDs that differ only in case or a
    // trailing space one key, and the insert of the second would fail the sync's batch for ever.
    statements: [
      `ALTER TABLE smart_missed_calls
        MODIFY caller_key VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
        MODIFY did VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL DEFAULT ''`,
      `ALTER TABLE smart_missed_calls_calls
        MODIFY linkedid VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
        MODIFY caller_key VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL DEFAULT '',
        MODIFY did VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL DEFAULT ''`,
    ],
  },
  {
    version: 6,
    name: 'calls indexes that earn their keep',
    // Every classified call pays for each index. (tenant, started_at) is the prefix of
    // migration 4's idx_tenant_started_kind, which serves every query it served.
    // (tenant, caller_key) served no query, while `smc forget` looks calls up by caller_key
    // across tenants and, without an index, read and locked every call of every tenant.
    statements: [
      `ALTER TABLE smart_missed_calls_calls DROP KEY idx_tenant_started, DROP KEY idx_tenant_caller, ADD KEY idx_caller (caller_key)`,
    ],
  },
  {
    version: 7,
    name: 'call count rollups and covering indexes for the dashboard',
    // Measured at 1 M calls / 100 k entries: over a year each dashboard count read ~400 k
    // calls from the index (6–7 s each); the rollups hold them per day (and missed calls
    // per hour) instead, ~35 k and ~60 k rows for 1 M calls. The ledger keeps them in the
    // calls rows' transaction (src/ledger/rollup.ts); here they are filled from the calls
    // already stored (ROLLUP_FILLS). Columns as in smart_missed_calls_calls, so grouping and
    // the route/DID filters compare values the same way on both.
    statements: [
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_daily (
        tenant VARCHAR(64) NOT NULL,
        day DATE NOT NULL,
        direction VARCHAR(10) NOT NULL,
        verdict VARCHAR(12) NOT NULL,
        route_kind VARCHAR(16) NOT NULL,
        route_id VARCHAR(64) NOT NULL,
        did VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
        calls INT NOT NULL,
        PRIMARY KEY (tenant, day, direction, verdict, route_kind, route_id, did)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_missed_hours (
        tenant VARCHAR(64) NOT NULL,
        day DATE NOT NULL,
        hour TINYINT UNSIGNED NOT NULL,
        route_kind VARCHAR(16) NOT NULL,
        route_id VARCHAR(64) NOT NULL,
        did VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
        calls INT NOT NULL,
        PRIMARY KEY (tenant, day, hour, route_kind, route_id, did)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      ...ROLLUP_FILLS,
      // What stays on the big tables reads them from the index alone, route/DID filters
      // included: frequent callers with a route filter looked up each missed call of the
      // year (6.7 s); entry resolution and callback waits each entry (~100 ms).
      `ALTER TABLE smart_missed_calls_calls DROP KEY idx_tenant_verdict_started,
        ADD KEY idx_tenant_verdict_started (tenant, verdict, started_at, caller_key, entry_id, caller, route_kind, route_id, did)`,
      // id right after last_attempt: the list pages by (last_attempt, id), which the index
      // must still give in order, or every list page sorts all of the tenant's entries.
      `ALTER TABLE smart_missed_calls DROP KEY idx_tenant_last,
        ADD KEY idx_tenant_last (tenant, last_attempt, id, status, cleared_by, cleared_at, route_kind, route_id, did)`,
    ],
  },
  {
    version: 8,
    name: 'forget proofs keyed outside the database',
    // `forgotten` rows kept SHA-256(salt + number) with the salt here: together they let
    // anyone who reads the database confirm a guessed number. New proofs are keyed with the
    // audit key file; without the salt the old ones confirm nothing any more.
    statements: [`DELETE FROM smart_missed_calls_state WHERE k = 'forget_salt'`],
  },
  {
    version: 9,
    name: 'call-back panel index led by the event',
    // The dashboard's call-back panel counts two events of the range. Led by created_at, the
    // old index read every audit event of the range (the bench at 1 M calls: 75 k, for the
    // 11 k counted, 34 ms); led by the event, it reads the two events' ranges only (12 ms).
    // Nothing else used it.
    statements: [
      `ALTER TABLE smart_missed_calls_audit DROP KEY idx_tenant_created_event,
        ADD KEY idx_tenant_event_created (tenant, event, reason, created_at, ext)`,
    ],
  },
  {
    version: 10,
    name: 'pbx id on every row (groups of PBXs), audit chain per pbx and tenant',
    // Every row of ours carries the pbx id next to the tenant, so the PBXs of a group write
    // one database (docs/group.md) and each keeps its own list: entries are keyed per PBX.
    // Rows already here are this install's: they take the single PBX's id, 'local'. Keys
    // stay led by the tenant with the pbx next, so every page's index still serves it (a
    // PBX's own pages fix both; a group view of one tenant ranges over the pbx ids).
    // The journal's chain becomes one per (pbx, tenant), numbered by chain_seq, instead of
    // one hot head row for the whole database; rows written before (chain_seq NULL) stay on
    // the old single chain and verify as before (src/ledger/audit.ts).
    statements: [
      `ALTER TABLE smart_missed_calls ADD COLUMN ${PBX_COLUMN} AFTER tenant,
        DROP KEY uniq_tenant_caller_did, ADD UNIQUE KEY uniq_tenant_caller_did (tenant, pbx, caller_key, did),
        DROP KEY idx_tenant_status_last, ADD KEY idx_tenant_status_last (tenant, pbx, status, last_attempt),
        DROP KEY idx_tenant_last, ADD KEY idx_tenant_last (tenant, pbx, last_attempt, id, status, cleared_by, cleared_at, route_kind, route_id, did),
        DROP KEY idx_tenant_route, ADD KEY idx_tenant_route (tenant, pbx, route_kind, route_id),
        DROP KEY idx_tenant_did, ADD KEY idx_tenant_did (tenant, pbx, did)`,
      `ALTER TABLE smart_missed_calls_calls ADD COLUMN ${PBX_COLUMN} AFTER tenant,
        DROP PRIMARY KEY, ADD PRIMARY KEY (tenant, pbx, linkedid),
        DROP KEY idx_started, ADD KEY idx_pbx_started (pbx, started_at),
        DROP KEY idx_tenant_started_kind, ADD KEY idx_tenant_started_kind (tenant, pbx, started_at, direction, verdict, route_kind, route_id, did),
        DROP KEY idx_tenant_verdict_started, ADD KEY idx_tenant_verdict_started (tenant, pbx, verdict, started_at, caller_key, entry_id, caller, route_kind, route_id, did)`,
      `ALTER TABLE smart_missed_calls_audit ADD COLUMN ${PBX_COLUMN} AFTER tenant,
        ADD COLUMN chain_seq BIGINT UNSIGNED NULL AFTER created_at,
        ADD UNIQUE KEY uniq_chain (tenant, pbx, chain_seq),
        DROP KEY idx_tenant_created, ADD KEY idx_tenant_created (tenant, pbx, created_at),
        DROP KEY idx_tenant_event_created, ADD KEY idx_tenant_event_created (tenant, pbx, event, reason, created_at, ext)`,
      `ALTER TABLE smart_missed_calls_daily ADD COLUMN ${PBX_COLUMN} AFTER tenant,
        DROP PRIMARY KEY, ADD PRIMARY KEY (tenant, pbx, day, direction, verdict, route_kind, route_id, did)`,
      `ALTER TABLE smart_missed_calls_missed_hours ADD COLUMN ${PBX_COLUMN} AFTER tenant,
        DROP PRIMARY KEY, ADD PRIMARY KEY (tenant, pbx, day, hour, route_kind, route_id, did)`,
      `ALTER TABLE smart_missed_calls_outbox ADD COLUMN ${PBX_COLUMN} AFTER tenant,
        DROP KEY idx_status_next, ADD KEY idx_status_next (pbx, status, next_attempt_at)`,
      `ALTER TABLE smart_missed_calls_deliveries ADD COLUMN ${PBX_COLUMN} AFTER tenant,
        DROP KEY uniq_idempotency, ADD UNIQUE KEY uniq_idempotency (pbx, idempotency_key),
        DROP KEY idx_status_next, ADD KEY idx_status_next (pbx, status, next_attempt_at),
        DROP KEY idx_tenant_channel_sent, ADD KEY idx_tenant_channel_sent (tenant, pbx, channel, sent_at),
        DROP KEY idx_tenant_caller, ADD KEY idx_tenant_caller (tenant, pbx, caller_key, did)`,
      // Settings, caller names and accounts stay each PBX's: number rules, lookup URL,
      // digests and logins are set by that PBX's admin (a shared login is the group
      // dashboard's, later).
      `ALTER TABLE smart_missed_calls_settings ADD COLUMN ${PBX_COLUMN} AFTER tenant, DROP PRIMARY KEY, ADD PRIMARY KEY (tenant, pbx)`,
      `ALTER TABLE smart_missed_calls_lookups ADD COLUMN ${PBX_COLUMN} AFTER tenant, DROP PRIMARY KEY, ADD PRIMARY KEY (tenant, pbx, caller_key)`,
      `ALTER TABLE smart_missed_calls_contacts ADD COLUMN ${PBX_COLUMN} AFTER tenant, DROP PRIMARY KEY, ADD PRIMARY KEY (tenant, pbx, caller_key)`,
      `ALTER TABLE smart_missed_calls_users ADD COLUMN ${PBX_COLUMN} FIRST, DROP PRIMARY KEY, ADD PRIMARY KEY (pbx, user)`,
      // Cursors, the sync's counters and the chain heads are each syncer's; a key holds a
      // tenant name after its prefix (audit_head:<tenant>, history jobs).
      `ALTER TABLE smart_missed_calls_state ADD COLUMN ${PBX_COLUMN} FIRST, MODIFY k VARCHAR(100) NOT NULL, DROP PRIMARY KEY, ADD PRIMARY KEY (pbx, k)`,
    ],
  },
  {
    version: 11,
    name: 'cluster-wide leases with a fencing token',
    // GET_LOCK is node-local under Galera: "exactly one syncer" across a cluster needs a row
    // every node sees (src/db/lease.ts). The token grows at each take-over; a holder's writes
    // check it, so a holder that lost the lease without noticing writes nothing.
    // The lease's name carries what it guards and for which PBX (sync.<pbx id>); the pbx
    // column is there like on every row of ours.
    statements: [
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_leases (
        ${PBX_COLUMN},
        name VARCHAR(64) NOT NULL,
        holder VARCHAR(128) NOT NULL,
        token BIGINT UNSIGNED NOT NULL,
        expires_at DATETIME(6) NOT NULL,
        PRIMARY KEY (pbx, name)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    ],
  },
  {
    version: 12,
    name: 'calls carry their start as a UTC instant, for clearing across the PBXs of a group',
    // calldate is each PBX's wall clock; PBXs of a group may sit in different zones with
    // clocks that drift. started_utc is the call's start on the ledger's clock
    // (src/sync/pbx-clock.ts), so "the callback came after the miss" holds across PBXs.
    // Rows already there were written by this database's own PBX (a single PBX's ledger is
    // its local MariaDB): their start is read in this server's zone, without skew.
    // classified_at finds the calls other PBXs recorded since the last look; another PBX's
    // clearing calls of a missed caller are found by idx_caller (caller_key, tenant, …): a
    // caller has few calls, and every index more is paid by every call written.
    statements: [
      `ALTER TABLE smart_missed_calls_calls ADD COLUMN started_utc DATETIME(3) NULL AFTER started_at,
        ADD KEY idx_classified (classified_at)`,
      `UPDATE smart_missed_calls_calls SET started_utc = CONVERT_TZ(started_at, @@session.time_zone, '+00:00') WHERE started_utc IS NULL`,
    ],
  },
  {
    version: 13,
    name: "each caller's missed calls, and entries by how they were cleared, for the dashboard over a long range",
    // Frequent callers over a year grouped the year's ~100 k missed calls by caller (25 k
    // callers, 125 ms of the dashboard's ~200). With each caller's all-time count kept by the
    // ledger (src/ledger/rollup.ts), only the callers whose count can reach the tenth place
    // are counted over the range (src/web/frequent-callers.ts): ~190 callers, ~20 k calls.
    // Keyed caller first, so `smc forget` finds a number's rows without reading the others;
    // counted per PBX like every row of ours.
    // idx_caller gains what that count reads, range and filters included, so it reads the
    // index alone; `forget` and the ledger's clearer lookup still find calls by caller_key.
    statements: [
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_caller_misses (
        caller_key VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
        tenant VARCHAR(64) NOT NULL,
        ${PBX_COLUMN},
        calls INT NOT NULL,
        PRIMARY KEY (caller_key, tenant, pbx),
        KEY idx_tenant_calls (tenant, pbx, calls)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      CALLER_MISSES_FILL,
      `ALTER TABLE smart_missed_calls_calls DROP KEY idx_caller,
        ADD KEY idx_caller (caller_key, tenant, pbx, verdict, started_at, caller, route_kind, route_id, did)`,
      // The call-back waits read the entries a call back cleared, not every entry of the range.
      `ALTER TABLE smart_missed_calls ADD KEY IF NOT EXISTS idx_tenant_cleared (tenant, pbx, cleared_by, last_attempt, status, cleared_at, route_kind, route_id, did)`,
    ],
  },
  {
    version: 14,
    name: 'claims on entries ("I\'m calling back") and revocable wallboard links',
    // One claim row per entry at most: the latest. It counts while the entry is open in the
    // same episode (first_attempt as claimed; a reopen starts a new one) and expires_at is in
    // the future, so an expiry or a clear needs no writer (src/ledger/claims.ts).
    // A wallboard link's token is never stored: its SHA-256 is (the token is 256 random
    // bits, so a plain hash cannot be reversed by guessing). A revoked link keeps its row.
    statements: [
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_claims (
        tenant VARCHAR(64) NOT NULL,
        ${PBX_COLUMN},
        entry_id BIGINT UNSIGNED NOT NULL,
        user VARCHAR(64) NOT NULL,
        ext VARCHAR(32) NULL,
        episode DATETIME NOT NULL,
        claimed_at DATETIME NOT NULL,
        expires_at DATETIME NOT NULL,
        PRIMARY KEY (tenant, pbx, entry_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_wallboards (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        tenant VARCHAR(64) NOT NULL,
        ${PBX_COLUMN},
        label VARCHAR(80) NOT NULL,
        token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        created_at DATETIME NOT NULL,
        created_by VARCHAR(64) NOT NULL,
        revoked_at DATETIME NULL,
        revoked_by VARCHAR(64) NULL,
        UNIQUE KEY uniq_token (token_hash),
        KEY idx_tenant (tenant, pbx, revoked_at)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    ],
  },
  {
    version: 15,
    name: 'what each CRM holds for an entry: its task, the contact it is on',
    // One row per (pbx, tenant, entry, crm): the id the CRM gave our task, so an update or a
    // completion goes to that task and never creates a second one. create_started_at is
    // committed BEFORE the CRM is asked to create: a row that has it and no object_id is a
    // create whose answer we never recorded (a crash after the CRM's 201), and the next try
    // searches the CRM for the task's marker before creating anything (src/notify/crm/deliver.ts).
    statements: [
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_crm_objects (
        ${PBX_COLUMN},
        tenant VARCHAR(64) NOT NULL,
        entry_id BIGINT UNSIGNED NOT NULL,
        crm VARCHAR(24) NOT NULL,
        marker VARCHAR(64) NOT NULL,
        contact_id VARCHAR(64) NULL,
        object_id VARCHAR(64) NULL,
        create_started_at DATETIME(3) NULL,
        updated_at DATETIME(3) NOT NULL,
        PRIMARY KEY (tenant, pbx, entry_id, crm)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    ],
  },
  {
    version: 16,
    name: 'escalations of entries past their callback target, once per episode and threshold',
    // The row is the "sent": it is inserted in the transaction that queues the escalation in
    // the outbox and journals it, and its key refuses a second one, so an escalation goes
    // once per (entry, episode, threshold) whatever restarts or second instances happen
    // (src/notify/escalation.ts). The episode is the entry's first_attempt, as for claims:
    // a reopened entry is escalated afresh. Written only by its PBX's notifier.
    statements: [
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_escalations (
        tenant VARCHAR(64) NOT NULL,
        ${PBX_COLUMN},
        entry_id BIGINT UNSIGNED NOT NULL,
        episode DATETIME NOT NULL,
        threshold TINYINT UNSIGNED NOT NULL,
        target_minutes INT UNSIGNED NOT NULL,
        due_at DATETIME NOT NULL,
        escalated_at DATETIME NOT NULL,
        PRIMARY KEY (tenant, pbx, entry_id, episode, threshold)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    ],
  },
  {
    version: 17,
    name: "names and owners from the CRM, cached; which contacts we created in the CRM",
    // The caller-name chain asks the tenant's CRM in the background (src/notify/crm-names.ts)
    // and keeps its answer here, "not found" (name '') included, so a number is asked at most
    // once per TTL whatever the traffic, and the list shows the owner from here. In the
    // database, not in memory: the web process reads the owners, a restart keeps the cache,
    // and `smc forget` purges a number's rows with the rest of its traces.
    // contact_created marks a contact the delivery created for the caller (the tenant's
    // option): `smc forget` deletes only those, never a contact the CRM already had.
    statements: [
      `CREATE TABLE IF NOT EXISTS smart_missed_calls_crm_names (
        tenant VARCHAR(64) NOT NULL,
        ${PBX_COLUMN},
        caller_key VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
        crm VARCHAR(24) NOT NULL,
        name VARCHAR(160) NOT NULL DEFAULT '',
        owner_name VARCHAR(160) NOT NULL DEFAULT '',
        fetched_at DATETIME NOT NULL,
        PRIMARY KEY (tenant, pbx, caller_key, crm),
        KEY idx_caller (caller_key)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
      `ALTER TABLE smart_missed_calls_crm_objects ADD COLUMN IF NOT EXISTS contact_created TINYINT(1) NOT NULL DEFAULT 0 AFTER contact_id`,
    ],
  },
  {
    version: 18,
    name: 'the callback-target figures read the entries index alone',
    // The dashboard's "called back within target" reads every entry of its range (a year: ~100 k
    // on a busy PBX) for its first miss and whether it is withheld (src/web/dashboard-queries.ts):
    // with those two in idx_tenant_last the read stays in the index instead of a row lookup each.
    statements: [
      `ALTER TABLE smart_missed_calls DROP KEY idx_tenant_last,
        ADD KEY idx_tenant_last (tenant, pbx, last_attempt, id, status, cleared_by, cleared_at, route_kind, route_id, did, first_attempt, anonymous)`,
    ],
  },
  {
    version: 19,
    name: 'each entry keeps its callback due time',
    // The within-target share of a year's dashboard placed ~100 k entries on the business
    // clock at every view (p95 ~300 ms). The notifier now stores each entry's due time once
    // (src/ledger/target-due.ts) with the key of the settings it was computed under, and the
    // share is one aggregate over the index; idx_target finds the entries still to compute.
    statements: [
      `ALTER TABLE smart_missed_calls
        ADD COLUMN IF NOT EXISTS target_key INT UNSIGNED NOT NULL DEFAULT 0,
        ADD COLUMN IF NOT EXISTS target_due DATETIME NULL,
        DROP KEY idx_tenant_last,
        ADD KEY idx_tenant_last (tenant, pbx, last_attempt, id, status, cleared_by, cleared_at, route_kind, route_id, did, first_attempt, anonymous, target_key, target_due),
        ADD KEY idx_target (tenant, pbx, target_key)`,
    ],
  },
];

/** Every table we own; uninstall drops exactly these and nothing else. */
export const OWN_TABLES = [
  'smart_missed_calls', 'smart_missed_calls_calls', 'smart_missed_calls_audit',
  'smart_missed_calls_settings', 'smart_missed_calls_outbox', 'smart_missed_calls_state',
  'smart_missed_calls_lookups', 'smart_missed_calls_deliveries', 'smart_missed_calls_contacts',
  'smart_missed_calls_users', 'smart_missed_calls_daily', 'smart_missed_calls_missed_hours', 'smart_missed_calls_caller_misses',
  'smart_missed_calls_claims', 'smart_missed_calls_wallboards', 'smart_missed_calls_crm_objects', 'smart_missed_calls_escalations', 'smart_missed_calls_crm_names',
  'smart_missed_calls_leases', 'smart_missed_calls_migrations',
];

/** The version `smc migrate` brings the schema to. */
export const LATEST_SCHEMA_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/**
 * Applies the steps not applied yet, up to `upTo` (a restore recreates the schema a backup
 * was made with before loading its rows, then migrates the rest of the way).
 */
export async function migrate(pool: Pool, log: (line: string) => void = () => {}, upTo = LATEST_SCHEMA_VERSION): Promise<number[]> {
  // Created only when absent: the running service's user may not CREATE (docs/security.md),
  // and `smc serve` checks the migrations at every start.
  const [tables] = await pool.query<RowDataPacket[]>(
    `SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'smart_missed_calls_migrations'`,
  );
  if (tables.length === 0) {
    await pool.query(`CREATE TABLE IF NOT EXISTS smart_missed_calls_migrations (
      version INT UNSIGNED NOT NULL PRIMARY KEY,
      name VARCHAR(160) NOT NULL,
      applied_at DATETIME NOT NULL
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
  }
  const [rows] = await pool.query<RowDataPacket[]>('SELECT version FROM smart_missed_calls_migrations');
  const applied = new Set(rows.map((r) => Number(r.version)));
  const done: number[] = [];
  const versions = MIGRATIONS.map((m) => m.version);
  if (new Set(versions).size !== versions.length) throw new Error(`two migration steps share a version number (${versions.join(', ')})`);
  refuseNewerSchema([...applied]);
  for (const step of [...MIGRATIONS].sort((a, b) => a.version - b.version)) {
    if (applied.has(step.version) || step.version > upTo) continue;
    for (const sql of step.statements) {
      try {
        await pool.query(sql);
      } catch (err) {
        throw new Error(`migration ${step.version} (${step.name}) failed: ${(err as Error).message}`);
      }
    }
    await pool.query('INSERT INTO smart_missed_calls_migrations (version, name, applied_at) VALUES (?, ?, NOW())', [
      step.version,
      step.name,
    ]);
    log(`applied migration ${step.version}: ${step.name}`);
    done.push(step.version);
  }
  return done;
}

/**
 * A downgrade: the tables were migrated by a newer release, whose steps this one does not
 * know. Running this version's code (or its service) on them could write rows the newer
 * schema forbids, so install and `smc serve` stop here, before any change.
 */
export class NewerSchemaError extends Error {}

function refuseNewerSchema(applied: number[]): void {
  const known = new Set(MIGRATIONS.map((m) => m.version));
  const unknown = applied.filter((v) => !known.has(v)).sort((a, b) => a - b);
  if (unknown.length === 0) return;
  throw new NewerSchemaError(
    `the Smart Missed Calls tables are at schema version ${Math.max(...applied)}, newer than this version knows (${LATEST_SCHEMA_VERSION}; ` +
      `unknown steps ${unknown.join(', ')}): a newer Smart Missed Calls was installed here, and downgrading is not supported. ` +
      'Nothing was changed: install that version or a newer one.',
  );
}

export async function schemaVersion(pool: Pool): Promise<number> {
  try {
    const [rows] = await pool.query<RowDataPacket[]>('SELECT MAX(version) AS v FROM smart_missed_calls_migrations');
    return Number(rows[0]?.v ?? 0);
  } catch {
    return 0;
  }
}
