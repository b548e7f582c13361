<?php
// Smart Missed Calls in FreePBX's Backup & Restore module (15+), which calls this class, not
// the BMO's backup(). Backup dumps no table a module does not name: ours (entries, calls,
// audit, settings, outbox, …) go into one mysqldump taken in a single transaction, so the
// entries, the calls and the audit chain in it agree with each other. Restore.php loads it.
// Backup & Restore 15 has no table dump: there the settings and viewers travel alone.
namespace FreePBX\modules\Smartmissedcalls;

use FreePBX\modules\Backup as Base;

class Backup extends Base\BackupBase
{
    /** The dump's name (its file is <name>.sql): the one file this backup adds. */
    const DUMP_NAME = 'smartmissedcalls';

    /**
     * Rows only, as INSERTs naming their columns: Restore creates the tables (and the audit
     * table's triggers) through our migrations at the version the rows were dumped from.
     */
    const DUMP_OPTIONS = '--opt --skip-lock-tables --single-transaction --skip-triggers --no-create-info --complete-insert --hex-blob --default-character-set=utf8mb4';

    public function runBackup($id, $transaction)
    {
        $module = $this->FreePBX->Smartmissedcalls;
        if (!method_exists($this, 'dumpTableIntoFile')) {
            // Backup & Restore 15 cannot dump a module's tables (dumpTableIntoFile came with 16).
            $this->log(_('This Backup module cannot dump tables (FreePBX 15): the Smart Missed Calls backup holds its settings and viewers only. After a restore, "smc backfill" rebuilds the entries from the CDR; the audit journal and manual resolutions are not in this backup.'), 'WARNING');
            $this->addConfigs(array('state' => $module->backup(), 'viewers' => implode(',', $module->viewers())));
            return;
        }
        $schema = $module->schemaInfo();
        if ($schema['tables']) {
            // Uncompressed: a "| gzip" pipe would hide a failed dump; the backup archive is compressed anyway.
            if ($this->dumpTableIntoFile(self::DUMP_NAME, implode(' ', $schema['tables']), self::DUMP_OPTIONS, false) === false) {
                throw new \RuntimeException(sprintf(_('Could not dump the Smart Missed Calls tables (%s): the backup log says why.'), implode(', ', $schema['tables'])));
            }
        }
        $this->addConfigs(array(
            'schema_version' => $schema['version'],
            'tables' => $schema['tables'],
            // The journal is keyed with a file kept out of the database: without it the
            // restored rows cannot be verified anywhere, so it travels with them.
            'audit_key' => isset($schema['auditKey']) ? $schema['auditKey'] : null,
            'viewers' => implode(',', $module->viewers()),
        ));
    }
}
