<?php
// Counterpart of Backup.php for FreePBX's Backup & Restore module. Where Smart Missed Calls
// is installed, FreePBX must not "reset" it first (uninstall + install would drop every
// table before the restore): getResetInfo() says so, and runRestore() replaces our tables
// with the backup's rows itself (SmcInstaller::restoreTables).
namespace FreePBX\modules\Smartmissedcalls;

use FreePBX\modules\Backup as Base;

class Restore extends Base\RestoreBase
{
    /** true: do not reset. Where the module was never installed, the reset is its install. */
    public function getResetInfo()
    {
        return $this->FreePBX->Smartmissedcalls->isConfigured();
    }

    public function runRestore()
    {
        $configs = $this->getConfigs();
        $module = $this->FreePBX->Smartmissedcalls;
        if (!empty($configs['tables'])) {
            if (!method_exists($this, 'restoreDataFromDump')) {
                throw new \RuntimeException(_('This backup holds the Smart Missed Calls tables as a database dump, which this Backup module (FreePBX 15) cannot load: restore it on FreePBX 16 or newer.'));
            }
            $tables = implode(' ', $configs['tables']);
            $files = $this->getFiles();
            $auditKey = isset($configs['audit_key']) && is_string($configs['audit_key']) ? $configs['audit_key'] : null;
            $module->restoreTables((int)$configs['schema_version'], $auditKey, function () use ($tables, $files) {
                // Backup.php added one file: the dump of these tables.
                return $this->restoreDataFromDump($tables, $this->tmpdir, $files);
            });
        } elseif (isset($configs['state'])) {
            // A backup from before the tables were dumped carries the settings only.
            $module->restore($configs['state']);
        }
        if (isset($configs['viewers'])) {
            $module->saveViewers($configs['viewers']);
        }
    }
}
