<?php
// TEST STAND-IN, NOT FreePBX's Backup module. The classes a module's Backup.php and
// Restore.php extend, with the same names, constructors and method shapes as Backup &
// Restore 17 (Models/ModelBase, Models/Backup, Models/Restore, Models/SplFileInfo,
// BackupBase::dumpTableIntoFile, RestoreBase::restoreDataFromDump), written for these tests.
// Like the real ones, the dump runs mysqldump with $amp_conf's AMPDB* credentials on the
// AMPDBNAME database and the load pipes the file into mysql. One difference: an empty
// AMPDBPASS is left out of the command line ("-p" alone would make the client prompt).
// Needs freepbx-standin.php first; $amp_conf comes from the JSON in SMC_STANDIN_AMP_CONF.
// SMC_STANDIN_BACKUP_VERSION=15: Backup & Restore 15 instead, whose BackupBase and
// RestoreBase have neither dumpTableIntoFile nor restoreDataFromDump (they came with 16).

namespace FreePBX\modules\Backup\Models {

    class ModelBase
    {
        protected $FreePBX;
        protected $backupModVer;
        protected $logger;
        protected $transactionId;
        protected $defaultFallback = false;
        protected $data = array(
            'version' => null,
            'module' => null,
            'pbx_version' => null,
            'skip_reset' => false,
            'dirs' => array(),
            'files' => array(),
            'configs' => array(),
            'dependencies' => array(),
            'garbage' => array(),
        );

        public function __construct($freepbx, $backupModVer, $logger, $transactionId, $modData, $defaultFallback)
        {
            $this->FreePBX = $freepbx;
            $this->backupModVer = $backupModVer;
            $this->logger = $logger;
            $this->transactionId = $transactionId;
            $this->defaultFallback = $defaultFallback;
            $this->data = array_merge($this->data, $modData);
        }

        public function getDirs($options = array())
        {
            return $this->data['dirs'];
        }

        public function getFiles($options = array())
        {
            return $this->data['files'];
        }

        public function getConfigs($options = array())
        {
            return $this->data['configs'];
        }

        public function getData()
        {
            return $this->data;
        }

        public function getVersion()
        {
            return $this->data['version'];
        }

        /** The handlers' log: here stderr, one line per message with its level. */
        protected function log($message = '', $level = 'INFO')
        {
            fwrite(STDERR, "[backup $level] $message\n");
        }
    }

    class Backup extends ModelBase
    {
        private $modified = false;

        final public function __construct($freepbx, $backupModVer, $logger, $transactionId, $modData, $defaultFallback)
        {
            parent::__construct($freepbx, $backupModVer, $logger, $transactionId, $modData, $defaultFallback);
        }

        public function addFiles($list)
        {
            foreach ((array)$list as $file) {
                if (!empty($file['type']) && !empty($file['filename'])) {
                    $this->modified = true;
                    $this->data['files'][] = $file;
                }
            }
        }

        /** Replaces every config given before, as the real one does. */
        public function addConfigs($settings)
        {
            if (empty($settings)) {
                return;
            }
            $this->modified = true;
            $this->data['configs'] = $settings;
        }

        public function addDirectories($list)
        {
            foreach ((array)$list as $dir) {
                $this->modified = true;
                $this->data['dirs'][] = $dir;
            }
        }

        public function addGarbage($file)
        {
            $this->data['garbage'] = array_values(array_unique(array_merge($this->data['garbage'], array($file))));
        }

        public function getModified()
        {
            return $this->modified;
        }

        public function addSplFile(\SplFileInfo $file)
        {
            $this->addFiles(array(array('type' => $file->getExtension(), 'filename' => $file->getBasename(), 'pathto' => $file->getPath(), 'base' => '')));
        }
    }

    class SplFileInfo extends \SplFileInfo
    {
        private $type;
        private $pathTo;
        private $base;

        public function __construct($file, $type, $pathTo, $base)
        {
            parent::__construct($file);
            $this->type = $type;
            $this->pathTo = $pathTo;
            $this->base = $base;
        }

        public function getPathTo()
        {
            return $this->pathTo;
        }

        public function getBase()
        {
            return $this->base;
        }
    }

    abstract class Restore extends ModelBase
    {
        public $tmpdir;

        /** Files become SplFileInfo under the extracted backup, as the real constructor makes them. */
        final public function __construct($freepbx, $backupModVer, $logger, $transactionId, $modData, $backupTmpDir, $defaultFallback)
        {
            parent::__construct($freepbx, $backupModVer, $logger, $transactionId, $modData, $defaultFallback);
            $this->tmpdir = $backupTmpDir;
            foreach ($this->data['files'] as $i => $file) {
                $this->data['files'][$i] = new SplFileInfo($this->tmpdir . '/files' . $file['pathto'] . '/' . $file['filename'], $file['type'], $file['pathto'], $file['base']);
            }
        }

        /** The Backup module's FreePBXModule::reset: uninstall when enabled, then install. */
        public function reset()
        {
            \standin_module_reset($this->data['module']);
        }
    }
}

namespace FreePBX\modules\Backup {

    use FreePBX\modules\Backup\Models;

    if (getenv('SMC_STANDIN_BACKUP_VERSION') === '15') {
        class BackupBase extends Models\Backup
        {
            public function runBackup($id, $transaction)
            {
                $this->log('RunBackup method is not implemented', 'WARNING');
            }
        }

        class RestoreBase extends Models\Restore
        {
            public function runRestore()
            {
                $this->log('RunRestore method is not implemented, nothing to do', 'WARNING');
            }
        }
    } else {
        class BackupBase extends Models\Backup
        {
            public function runBackup($id, $transaction)
            {
                $this->log('RunBackup method is not implemented', 'WARNING');
            }

            /** mysqldump of $tableName (mysqldump takes a space-separated list) into <tmp>/<module>_dump/<module>.sql[.gz]. */
            public function dumpTableIntoFile($moduleName, $tableName, $dumpOtherOptions = false, $zipDump = false)
            {
                $dir = sys_get_temp_dir() . "/{$moduleName}_dump";
                if (is_dir($dir)) {
                    exec('rm -rf ' . escapeshellarg($dir));
                }
                mkdir($dir, 0777, true);
                $file = $dir . '/' . $moduleName . ($zipDump ? '.sql.gz' : '.sql');
                $command = 'mysqldump ' . standin_mysql_credentials() . ' ' . ($dumpOtherOptions ? $dumpOtherOptions . ' ' : '') . $tableName . ' '
                    . ($zipDump ? '| gzip -9 > ' . escapeshellarg($file) : '--result-file=' . escapeshellarg($file));
                $this->log('Starting mysql dumps of : ' . $tableName);
                exec($command . ' 2>&1', $output, $code);
                if ($code !== 0) {
                    $this->log($tableName . ' table Backup Error ' . implode("\n", $output), 'ERROR');
                    return false;
                }
                $info = new \SplFileInfo($file);
                $this->addSplFile($info);
                $this->addGarbage($dir);
                return $info;
            }
        }

        class RestoreBase extends Models\Restore
        {
            public function runRestore()
            {
                $this->log('RunRestore method is not implemented, nothing to do', 'WARNING');
            }

            /** Loads $files[0] (an extracted dump) with the mysql client; true when it did, false on error. */
            public function restoreDataFromDump($tableName, $tmppath, $files)
            {
                if (empty($files[0])) {
                    return false;
                }
                $dumpfile = $tmppath . '/files/' . ltrim($files[0]->getPathTo(), '/') . '/' . $files[0]->getFilename();
                if (!file_exists($dumpfile)) {
                    return null;
                }
                $client = 'mysql ' . standin_mysql_credentials();
                $command = strpos($dumpfile, '.gz') !== false
                    ? 'gunzip < ' . escapeshellarg($dumpfile) . ' | ' . $client
                    : $client . ' < ' . escapeshellarg($dumpfile);
                $this->log('Started restoring mysql dumps of : ' . $tableName);
                exec($command . ' 2>&1', $output, $code);
                if ($code !== 0) {
                    $this->log($tableName . ' table Restore Error ' . implode("\n", $output), 'ERROR');
                    return false;
                }
                $this->log('Completed restoring mysql dumps of : ' . $tableName);
                return true;
            }
        }
    }

    /** "-S sock -uUSER [-pPASS] DBNAME" from $amp_conf, socket before host as in the real handlers. */
    function standin_mysql_credentials()
    {
        global $amp_conf;
        $where = !empty($amp_conf['AMPDBSOCK'])
            ? '-S ' . escapeshellarg($amp_conf['AMPDBSOCK'])
            : (in_array($amp_conf['AMPDBHOST'], array('localhost', '127.0.0.1'), true) ? '' : '-h ' . escapeshellarg($amp_conf['AMPDBHOST']))
                . (empty($amp_conf['AMPDBPORT']) ? '' : ' -P ' . (int)$amp_conf['AMPDBPORT']);
        $password = (string)$amp_conf['AMPDBPASS'] === '' ? '' : ' -p' . escapeshellarg($amp_conf['AMPDBPASS']);
        return $where . ' -u' . escapeshellarg($amp_conf['AMPDBUSER']) . $password . ' ' . escapeshellarg($amp_conf['AMPDBNAME']);
    }
}

namespace {
    $amp_conf = json_decode((string)getenv('SMC_STANDIN_AMP_CONF'), true);
}
