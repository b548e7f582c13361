<?php
// Counterpart of Backup.php for FreePBX's Backup & Restore module.
namespace FreePBX\modules\Smartmissedcalls;

use FreePBX\modules\Backup as Base;

class Restore extends Base\RestoreBase
{
    public function runRestore()
    {
        $configs = $this->getConfigs();
        $module = $this->FreePBX->Smartmissedcalls;
        if (isset($configs['state'])) {
            $module->restore($configs['state']);
        }
        if (isset($configs['viewers'])) {
            $module->saveViewers($configs['viewers']);
        }
    }
}
