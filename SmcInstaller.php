<?php
// Smart Missed Calls: install and uninstall steps that do not need FreePBX itself, so the
// tests run them under real php against a real MariaDB. Smartmissedcalls.class.php
// drives them and adds what does need FreePBX (its settings, pm2).
namespace FreePBX\modules\Smartmissedcalls;

class InstallError extends \RuntimeException
{
}

class SmcInstaller
{
    /** express 5 and the bundle's target; FreePBX 17's Debian 12 ships 18.19+. */
    const MIN_NODE_MAJOR = 18;

    const DEFAULT_CONFIG_PATH = '/etc/smartmissedcalls/config.yaml';
    /** The audit journal's key file, beside the configuration (smc's own default name). */
    const AUDIT_KEY_NAME = 'smartmissedcalls-audit.key';

    /** @var string */
    private $moduleDir;
    /** @var string */
    private $node;
    /** @var callable */
    private $log;

    public function __construct($moduleDir, $nodeBinary, $log)
    {
        $this->moduleDir = rtrim($moduleDir, '/');
        $this->node = $nodeBinary;
        $this->log = $log;
    }

    /**
     * Where config.yaml lives: $SMC_CONFIG when set (tests), else an existing file among
     * the standard place and the fallback, else the standard place when it can be
     * created, else the fallback in Asterisk's config directory (the web install runs as
     * the asterisk user, who cannot create directories in /etc).
     */
    public static function configPath($asteriskEtcDir)
    {
        $fromEnv = getenv('SMC_CONFIG');
        if (is_string($fromEnv) && $fromEnv !== '') {
            return $fromEnv;
        }
        $fallback = rtrim($asteriskEtcDir, '/') . '/smartmissedcalls.yaml';
        if (file_exists(self::DEFAULT_CONFIG_PATH)) {
            return self::DEFAULT_CONFIG_PATH;
        }
        if (file_exists($fallback)) {
            return $fallback;
        }
        $dir = dirname(self::DEFAULT_CONFIG_PATH);
        if (is_dir($dir) ? is_writable($dir) : @mkdir($dir, 0750, true)) {
            return self::DEFAULT_CONFIG_PATH;
        }
        return $fallback;
    }

    /** Refuses a package whose bundle is not the one install.php was generated for. */
    public function checkPackage()
    {
        $manifestFile = $this->moduleDir . '/install.php';
        if (!is_file($manifestFile)) {
            throw new InstallError(_('install.php is missing: install Smart Missed Calls from a package built by "npm run package", not from a source checkout.'));
        }
        $manifest = include $manifestFile;
        $bundle = $this->moduleDir . '/build/smc.js';
        $actual = is_file($bundle) ? hash_file('sha256', $bundle) : '';
        if (!is_array($manifest) || !isset($manifest['bundle_sha256']) || $actual !== $manifest['bundle_sha256']) {
            throw new InstallError(sprintf(
                _('build/smc.js does not match this package (expected sha256 %s, found %s). The upload is damaged or its files were changed: upload the package again.'),
                is_array($manifest) && isset($manifest['bundle_sha256']) ? $manifest['bundle_sha256'] : '?',
                $actual === '' ? _('no file') : $actual
            ));
        }
        return $manifest;
    }

    /** @return string the Node version, e.g. "v18.20.4" */
    public function checkNode()
    {
        $result = $this->run(array($this->node, '--version'), array());
        $version = trim($result['stdout']);
        if ($result['code'] !== 0 || !preg_match('/^v(\d+)\./', $version, $m)) {
            throw new InstallError(sprintf(
                _('Node.js was not found (%s). Smart Missed Calls needs Node.js %d or newer: on FreePBX 17 (Debian 12) run "apt-get install nodejs"; on SNG7 (FreePBX 14, 15, 16) or Debian 10/11 unpack a Node.js %d build for your system into /opt/smc-node (docs/install-freepbx.md), then install again.'),
                $this->node,
                self::MIN_NODE_MAJOR,
                self::MIN_NODE_MAJOR
            ));
        }
        if ((int)$m[1] < self::MIN_NODE_MAJOR) {
            throw new InstallError(sprintf(
                _('This PBX has Node.js %s; Smart Missed Calls needs Node.js %d or newer. On FreePBX 17 (Debian 12) run "apt-get install nodejs"; on SNG7 (FreePBX 14, 15, 16; glibc 2.17) the official Node.js %d binaries do not run: unpack a glibc-2.17 build of Node.js %d into /opt/smc-node; on Debian 10/11 unpack the official one there (docs/install-freepbx.md). Then install again.'),
                $version,
                self::MIN_NODE_MAJOR,
                self::MIN_NODE_MAJOR,
                self::MIN_NODE_MAJOR
            ));
        }
        return $version;
    }

    /**
     * Writes config.yaml when it does not exist yet (an edited file is never overwritten):
     * the database credentials FreePBX uses, AMI credentials when known, and a fresh
     * 32-byte secret for the signed identity header.
     * @param array $db   AMPDBHOST, AMPDBPORT, AMPDBSOCK, AMPDBUSER, AMPDBPASS, AMPDBNAME, CDRDBNAME
     * @param array $ami  host, port, user, secret (empty values leave AMI off)
     * @param string $owner user that must read it (the service's), '' to leave as is
     * @return bool true when it was written now
     */
    public function ensureConfig($path, array $db, array $ami, $owner)
    {
        if (file_exists($path)) {
            $this->say(sprintf(_('Keeping the existing configuration %s'), $path));
            return false;
        }
        $dir = dirname($path);
        if (!is_dir($dir) && !@mkdir($dir, 0750, true)) {
            throw new InstallError(sprintf(_('Cannot create %s: run "fwconsole ma install smartmissedcalls" as root once.'), $dir));
        }
        $get = function ($key, $default) use ($db) {
            return isset($db[$key]) && $db[$key] !== '' ? (string)$db[$key] : $default;
        };
        $lines = array(
            '# Smart Missed Calls service configuration, written at install. Edit freely;',
            '# "node build/smc.js doctor" checks it. Uninstall removes it.',
            'pbx: freepbx',
            'db:',
            '  host: ' . self::quote($get('AMPDBHOST', 'localhost')),
            '  port: ' . (int)$get('AMPDBPORT', '3306'),
            '  socket: ' . self::quote($get('AMPDBSOCK', '')),
            '  user: ' . self::quote($get('AMPDBUSER', '')),
            '  password: ' . self::quote($get('AMPDBPASS', '')),
            '  database: ' . self::quote($get('AMPDBNAME', 'asterisk')),
            '  pbx_database: ' . self::quote($get('AMPDBNAME', 'asterisk')),
            '  cdr_database: ' . self::quote($get('CDRDBNAME', 'asteriskcdrdb')),
            'server:',
            "  listen: '127.0.0.1:8093'",
            '  secret: ' . self::quote(self::randomHex(32)),
        );
        if (!empty($ami['user']) && !empty($ami['secret'])) {
            $lines[] = 'ami:';
            $lines[] = '  host: ' . self::quote(!empty($ami['host']) ? $ami['host'] : '127.0.0.1');
            $lines[] = '  port: ' . (!empty($ami['port']) ? (int)$ami['port'] : 5038);
            $lines[] = '  user: ' . self::quote($ami['user']);
            $lines[] = '  secret: ' . self::quote($ami['secret']);
        }
        $tmp = $path . '.tmp';
        $old = umask(0027);
        $ok = file_put_contents($tmp, implode("\n", $lines) . "\n") !== false && chmod($tmp, 0640);
        umask($old);
        if ($ok && $owner !== '' && function_exists('posix_getuid') && posix_getuid() === 0) {
            $ok = chown($tmp, $owner) && chgrp($tmp, $owner) && chown($dir, $owner) && chgrp($dir, $owner);
        }
        if (!$ok || !rename($tmp, $path)) {
            @unlink($tmp);
            throw new InstallError(sprintf(_('Cannot write %s'), $path));
        }
        $this->say(sprintf(_('Wrote the configuration %s'), $path));
        return true;
    }

    /**
     * Runs "node build/smc.js <args>" against config.yaml and returns what it printed. Its
     * messages go to the install log; with $logStdout false only its stderr does (the
     * printed data is the answer, e.g. export-state).
     */
    public function smc($configPath, array $args, $stdin = null, $logStdout = true)
    {
        $command = array_merge(array($this->node, $this->moduleDir . '/build/smc.js'), $args);
        $result = $this->run($command, array('SMC_CONFIG' => $configPath), $stdin);
        $messages = ($logStdout ? $result['stdout'] : '') . "\n" . $result['stderr'];
        foreach (preg_split('/\r?\n/', trim($messages)) as $line) {
            if ($line !== '') {
                $this->say($line);
            }
        }
        if ($result['code'] !== 0) {
            throw new InstallError(sprintf(_('"smc %s" failed (exit code %d): %s'), implode(' ', $args), $result['code'], trim($result['stderr'])));
        }
        return $result['stdout'];
    }

    /**
     * Removes config.yaml and, when it is ours alone, its folder. Never stops on a file it
     * cannot remove (as the asterisk user, /etc/smartmissedcalls itself cannot go: /etc is
     * root's): it says what was left and how to remove it.
     * @return string[] what is still there
     */
    public function removeConfig($path)
    {
        $left = array();
        foreach (array($path, $path . '.tmp') as $file) {
            if (file_exists($file) && !@unlink($file)) {
                $left[] = $file;
            }
        }
        $dir = self::ownFolder($path);
        if ($dir !== null && is_dir($dir) && !@rmdir($dir)) {
            $left[] = $dir;
        }
        foreach ($left as $leftover) {
            $this->say(sprintf(_('Could not remove %s: remove it as root.'), $leftover));
        }
        return $left;
    }

    /** pm2's log files of our service (pm2 writes them to ASTLOGDIR and keeps them after "pm2 delete"). */
    public function removeServiceLogs($logDir, $name)
    {
        foreach (array('_out.log', '_err.log') as $suffix) {
            $file = rtrim($logDir, '/') . '/' . $name . $suffix;
            if (file_exists($file) && !@unlink($file)) {
                $this->say(sprintf(_('Could not remove %s: remove it as root.'), $file));
            }
        }
    }

    /**
     * The pm2 module runs "mkdir -p <folder of the script>/logs" as the web server's user
     * before every start. After a shell install as root nothing in the module folder is
     * that user's, so the folder is made here, owned by that user.
     */
    public function prepareServiceDirs($serviceUser, $serviceGroup)
    {
        $logs = $this->moduleDir . '/build/logs';
        $ok = is_dir($logs) || @mkdir($logs, 0775);
        if ($ok && function_exists('posix_getuid') && posix_getuid() === 0) {
            $ok = @chown($logs, $serviceUser) && @chgrp($logs, $serviceGroup);
        }
        if (!$ok) {
            throw new InstallError(sprintf(_('Cannot prepare %s, which the pm2 module needs to start the service: run "fwconsole ma install smartmissedcalls" as root.'), $logs));
        }
    }

    /** @return array version (0 before the first migrate) and tables, as "smc schema-info" prints them */
    public function schemaInfo($configPath)
    {
        $info = json_decode($this->smc($configPath, array('schema-info'), null, false), true);
        if (!is_array($info) || !isset($info['version'], $info['tables']) || !is_array($info['tables'])) {
            throw new InstallError(_('"smc schema-info" printed no schema information.'));
        }
        return $info;
    }

    /**
     * Puts back what a failed first install did, so that installing again starts clean:
     * our tables when this install created them (an upgrade keeps them and their rows),
     * the configuration when this install wrote it. Says what it undid; never throws, the
     * error that stopped the install is the one to report.
     */
    public function undoInstall($configPath, $wroteConfig, $createdTables)
    {
        if ($createdTables) {
            try {
                $this->smc($configPath, array('uninstall', '--yes'));
                $this->say(_('Install stopped: removed the tables it had created.'));
            } catch (InstallError $e) {
                $this->say(sprintf(_('Install stopped and could not remove the tables it had created (%s): run "node build/smc.js uninstall --yes".'), $e->getMessage()));
            }
        }
        if ($wroteConfig) {
            $this->removeConfig($configPath);
            $this->say(sprintf(_('Install stopped: removed the configuration it had written (%s).'), $configPath));
        }
    }

    /**
     * Replaces our tables with a backup's rows: "smc restore begin" sets ours aside and
     * creates them empty at the backup's schema version (the audit table with its triggers,
     * which refuse UPDATE and DELETE but not INSERT), $loadDump loads the rows and returns
     * true, "smc restore finish" migrates them to this version and verifies the audit chain.
     * On any failure "smc restore abort" puts the tables set aside back.
     */
    public function restoreTables($configPath, $schemaVersion, $auditKey, $loadDump)
    {
        $begin = array('restore', 'begin', '--schema-version', (string)(int)$schemaVersion);
        if ($auditKey !== null) {
            $begin[] = '--audit-key-stdin';
        }
        $this->smc($configPath, $begin, $auditKey);
        try {
            if (call_user_func($loadDump) !== true) {
                throw new InstallError(_('The rows of Smart Missed Calls in this backup could not be loaded (the backup log says why).'));
            }
            $this->smc($configPath, array('restore', 'finish'));
        } catch (\Exception $e) {
            $this->smc($configPath, array('restore', 'abort'));
            throw $e;
        }
    }

    /**
     * What "fwconsole chown" must set on our files (Chown hook): it makes every file in
     * ASTETCDIR 0664 otherwise, and config.yaml holds the database password, the AMI
     * secret and the identity secret. Only files that exist are listed.
     * @return array entries as framework's Chown command takes them (type, path, perms, owner, group)
     */
    public static function privateFiles($configPath, $owner, $group)
    {
        $files = array();
        $dir = self::ownFolder($configPath);
        if ($dir !== null && is_dir($dir)) {
            $files[] = array('type' => 'dir', 'path' => $dir, 'perms' => 0750, 'owner' => $owner, 'group' => $group);
        }
        // The audit key lies beside the configuration (smc's default): as private as the secrets.
        foreach (array($configPath, dirname($configPath) . '/' . self::AUDIT_KEY_NAME) as $file) {
            if (is_file($file)) {
                $files[] = array('type' => 'file', 'path' => $file, 'perms' => 0640, 'owner' => $owner, 'group' => $group);
            }
        }
        return $files;
    }

    /**
     * $amp_conf values assigned in /etc/freepbx.conf, read without including the file:
     * including it boots all of FreePBX.
     */
    public static function readFreepbxConf($path)
    {
        $text = @file_get_contents($path);
        if ($text === false) {
            throw new InstallError(sprintf(_('Cannot read %s'), $path));
        }
        $values = array();
        $pattern = '/\$amp_conf\s*\[\s*([\'"])(\w+)\1\s*\]\s*=\s*(?:\'((?:[^\'\\\\]|\\\\.)*)\'|"((?:[^"\\\\]|\\\\.)*)"|(\d+))\s*;/';
        if (preg_match_all($pattern, $text, $matches, PREG_SET_ORDER)) {
            foreach ($matches as $m) {
                if (isset($m[5]) && $m[5] !== '') {
                    $values[$m[2]] = $m[5];
                } elseif (isset($m[4]) && $m[4] !== '') {
                    $values[$m[2]] = stripcslashes($m[4]);
                } else {
                    $values[$m[2]] = str_replace(array("\\'", '\\\\'), array("'", '\\'), $m[3]);
                }
            }
        }
        return $values;
    }

    /** The configuration's folder when it is ours alone (named smartmissedcalls, as /etc/smartmissedcalls), else null. */
    private static function ownFolder($configPath)
    {
        $dir = dirname($configPath);
        return basename($dir) === basename(dirname(self::DEFAULT_CONFIG_PATH)) ? $dir : null;
    }

    private static function quote($value)
    {
        return "'" . str_replace("'", "''", (string)$value) . "'";
    }

    private function say($line)
    {
        call_user_func($this->log, $line);
    }

    /**
     * $bytes random bytes as hex, from the system's CSPRNG. OpenSSL's, since PHP 5.6
     * (FreePBX 14) has no random_bytes(); FreePBX needs the openssl extension anyway.
     */
    public static function randomHex($bytes)
    {
        $strong = false;
        $random = openssl_random_pseudo_bytes($bytes, $strong);
        if ($random === false || !$strong || strlen($random) !== $bytes) {
            throw new InstallError(_('No strong random numbers are available (openssl_random_pseudo_bytes).'));
        }
        return bin2hex($random);
    }

    /** @return array code, stdout, stderr */
    private function run(array $command, array $env, $stdin = null)
    {
        $spec = array(0 => array('pipe', 'r'), 1 => array('pipe', 'w'), 2 => array('pipe', 'w'));
        // A command string and the inherited environment with $env put in for the call: an
        // array command (PHP 7.4) and getenv() without a name (7.1) are not in PHP 5.6.
        $line = 'exec ' . implode(' ', array_map('escapeshellarg', $command));
        $saved = array();
        foreach ($env as $name => $value) {
            $saved[$name] = getenv($name);
            putenv($name . '=' . $value);
        }
        $process = @proc_open($line, $spec, $pipes, $this->moduleDir);
        foreach ($saved as $name => $value) {
            putenv($value === false ? $name : $name . '=' . $value);
        }
        if (!is_resource($process)) {
            return array('code' => 127, 'stdout' => '', 'stderr' => sprintf('cannot run %s', $command[0]));
        }
        if ($stdin !== null) {
            fwrite($pipes[0], $stdin);
        }
        fclose($pipes[0]);
        $stdout = stream_get_contents($pipes[1]);
        $stderr = stream_get_contents($pipes[2]);
        fclose($pipes[1]);
        fclose($pipes[2]);
        return array('code' => proc_close($process), 'stdout' => $stdout, 'stderr' => $stderr);
    }
}
