<?php
// Smart Missed Calls in FreePBX's Backup & Restore module (15+), which calls this class, not
// the BMO's backup(): every tenant's settings (smc export-state) and the read-only users.
// Entries, calls and audit are rows in the asterisk database, which FreePBX backs up itself.
namespace FreePBX\modules\Smartmissedcalls;

use FreePBX\modules\Backup as Base;

class Backup extends Base\BackupBase
{
    public function runBackup($id, $transaction)
    {
        $module = $this->FreePBX->Smartmissedcalls;
        $this->addConfigs(array(
            'state' => $module->backup(),
            'viewers' => implode(',', $module->viewers()),
        ));
    }
}
