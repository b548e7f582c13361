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
                _('Node.js was not found (%s). Smart Missed Calls needs Node.js %d or newer: on FreePBX 17 (Debian 12) run "apt-get install nodejs"; on FreePBX 16 install a Node.js %d build for your distribution, then install again.'),
                $this->node,
                self::MIN_NODE_MAJOR,
                self::MIN_NODE_MAJOR
            ));
        }
        if ((int)$m[1] < self::MIN_NODE_MAJOR) {
            throw new InstallError(sprintf(
                _('This PBX has Node.js %s; Smart Missed Calls needs Node.js %d or newer. On FreePBX 17 (Debian 12) run "apt-get install nodejs"; on FreePBX 16 (SNG7, glibc 2.17) the official Node.js %d binaries do not run: use a glibc-2.17 build of Node.js %d or move to FreePBX 17. Then install again.'),
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
            '  secret: ' . self::quote(bin2hex(random_bytes(32))),
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

    public function removeConfig($path)
    {
        if (is_file($path) && !unlink($path)) {
            throw new InstallError(sprintf(_('Cannot remove %s'), $path));
        }
        $dir = dirname($path);
        if ($dir === dirname(self::DEFAULT_CONFIG_PATH) && is_dir($dir) && count(scandir($dir)) === 2) {
            rmdir($dir);
        }
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

    private static function quote($value)
    {
        return "'" . str_replace("'", "''", (string)$value) . "'";
    }

    private function say($line)
    {
        call_user_func($this->log, $line);
    }

    /** @return array code, stdout, stderr */
    private function run(array $command, array $env, $stdin = null)
    {
        $spec = array(0 => array('pipe', 'r'), 1 => array('pipe', 'w'), 2 => array('pipe', 'w'));
        $process = @proc_open($command, $spec, $pipes, $this->moduleDir, array_merge(getenv(), $env));
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
