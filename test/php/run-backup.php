<?php
// Backs up or restores Smart Missed Calls the way FreePBX's Backup & Restore 17 handlers do
// (Handlers/Backup/Common::processModule, Handlers/Restore/Common::processModule), with the
// stand-ins in place of FreePBX and of the Backup module:
//   php run-backup.php backup DIR    DIR becomes the backup's extracted tree: files/<pathto>/<file>
//                                    as the tarball stores them, modulejson/Smartmissedcalls.json
//   php run-backup.php restore DIR   restores from that tree
// Exit 1 with the message when the module's class throws (the handlers log it as an error).
require __DIR__ . '/freepbx-standin.php';
require __DIR__ . '/backup-standin.php';
require getenv('SMC_MODULE_DIR') . '/Smartmissedcalls.class.php';
require getenv('SMC_MODULE_DIR') . '/Backup.php';
require getenv('SMC_MODULE_DIR') . '/Restore.php';

const BACKUP_MODULE_VERSION = '17.0.5';
$module = array('rawname' => 'smartmissedcalls', 'ucfirst' => 'Smartmissedcalls');
$transactionId = 'standin-' . getmypid();
list(, $action, $tree) = $argv;

try {
    if ($action === 'backup') {
        $class = '\\FreePBX\\modules\\' . $module['ucfirst'] . '\\Backup';
        $backup = new $class(FreePBX::create(), BACKUP_MODULE_VERSION, null, $transactionId, array('module' => $module['rawname'], 'version' => null), false);
        $backup->runBackup('singlebackup', $transactionId);
        if (!$backup->getModified()) {
            throw new Exception('The module returned no data, No backup created');
        }
        foreach ($backup->getFiles() as $file) {
            $dest = $tree . '/files/' . ltrim($file['pathto'], '/');
            @mkdir($dest, 0777, true);
            copy($file['pathto'] . '/' . $file['filename'], $dest . '/' . $file['filename']);
        }
        @mkdir($tree . '/modulejson', 0777, true);
        $data = $backup->getData();
        file_put_contents($tree . '/modulejson/' . $module['ucfirst'] . '.json', json_encode($data, JSON_PRETTY_PRINT));
        foreach ($data['garbage'] as $garbage) {
            exec('rm -rf ' . escapeshellarg($garbage));
        }
    } elseif ($action === 'restore') {
        $modData = json_decode(file_get_contents($tree . '/modulejson/' . $module['ucfirst'] . '.json'), true);
        $modData['cliarguments'] = array();
        $modData['module'] = $module['rawname'];
        $modData['version'] = '0.1.0';
        $modData['pbx_version'] = null;
        $class = '\\FreePBX\\modules\\' . $module['ucfirst'] . '\\Restore';
        $restore = new $class(FreePBX::create(), BACKUP_MODULE_VERSION, null, $transactionId, $modData, $tree, false);
        $notReset = method_exists($restore, 'getResetInfo') ? $restore->getResetInfo() : false;
        if (!$notReset && !$modData['skip_reset']) {
            echo "Resetting smartmissedcalls module data\n";
            $restore->reset();
        }
        $restore->runRestore();
    } else {
        throw new Exception('usage: run-backup.php backup|restore DIR');
    }
} catch (Exception $e) {
    fwrite(STDERR, get_class($e) . ': ' . $e->getMessage() . "\n");
    exit(1);
}
