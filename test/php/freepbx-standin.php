<?php
// TEST STAND-IN, NOT FreePBX. The few FreePBX classes and functions the module's PHP calls,
// with the same names and call shapes (verified against FreePBX framework sources:
// BMO.interface.php, DB_Helper getConfig/setConfig, ampuser::checkSection, the pm2 module's
// Pm2::start/stop/delete/getStatus), backed by files so one test can look at what the module
// did. State lives in files named by environment variables:
//   SMC_STANDIN_KVSTORE   JSON file: FreePBX_Helpers getConfig/setConfig
//   SMC_STANDIN_SETTINGS  JSON object: FreePBX Config->get() values (ASTETCDIR, CDRDBNAME...)
//   SMC_STANDIN_PM2_LOG   when set, a pm2 module is "installed" and its calls are appended here
//   SMC_STANDIN_PM2_START_FAILS  when set, Pm2::start fails with this message (after its mkdir)
//   SMC_STANDIN_MODULE_STATUS  file holding the module's status ("enabled" after install),
//                         which the Backup module's reset reads as module_functions' getInfo
//   SMC_STANDIN_PM2_FAIL  when set, Pm2::getStatus() throws this message (as the real one does
//                         when the pm2 command fails)
//   SMC_STANDIN_AMPUSERS  JSON list: the user names stored in ampusers, as they were created

// FreePBX's bootstrap registers Whoops, which turns every PHP warning or notice not silenced
// with @ into an ErrorException: an unchecked rmdir() that fails aborts the whole action.
set_error_handler(function ($level, $message, $file, $line) {
    if (error_reporting() & $level) {
        throw new ErrorException($message, 0, $level, $file, $line);
    }
    return true;
});

class StandinView
{
    private $language;

    public function __construct($language)
    {
        $this->language = $language;
    }

    /** As FreePBX's View: no argument returns the language the UI speaks. */
    public function setLanguage($language = null, $details = false)
    {
        return $this->language;
    }
}

interface BMO
{
    public function install();
    public function uninstall();
    public function backup();
    public function restore($backup);
}

class FreePBX_Helpers
{
    public $FreePBX;

    public function getConfig($key = null, $id = 'noid')
    {
        $all = self::kvstore();
        return isset($all[$id][$key]) ? $all[$id][$key] : false;
    }

    public function setConfig($key = null, $val = false, $id = 'noid')
    {
        $all = self::kvstore();
        if ($val === false) {
            unset($all[$id][$key]);
        } else {
            $all[$id][$key] = $val;
        }
        file_put_contents(getenv('SMC_STANDIN_KVSTORE'), json_encode($all));
        return true;
    }

    private static function kvstore()
    {
        $path = getenv('SMC_STANDIN_KVSTORE');
        $all = is_string($path) && is_file($path) ? json_decode(file_get_contents($path), true) : array();
        return is_array($all) ? $all : array();
    }
}

class StandinConfig
{
    public function get($name)
    {
        $settings = json_decode((string)getenv('SMC_STANDIN_SETTINGS'), true);
        return is_array($settings) && isset($settings[$name]) ? $settings[$name] : null;
    }
}

/** Records calls the way the pm2 module would receive them; getStatus answers from the log. */
class StandinPm2
{
    /**
     * As the pm2 module does: its Pm2Apps runs "mkdir -p <folder of the script>/logs" in a
     * shell as the web server's user (runuser when called as root), then pm2 start.
     */
    public function start($name, $process, $environment = array(), $force = false)
    {
        $cwd = dirname($process);
        $mkdir = 'mkdir -p ' . escapeshellarg($cwd . '/logs');
        $webuser = FreePBX::create()->Config->get('AMPASTERISKWEBUSER');
        if ($webuser && posix_getuid() === 0) {
            $mkdir = 'runuser ' . escapeshellarg($webuser) . ' -s /bin/sh -c ' . escapeshellarg($mkdir);
        }
        exec($mkdir . ' 2>&1', $output, $code);
        if ($code !== 0) {
            throw new RuntimeException('The command "' . $mkdir . '" failed. ' . implode("\n", $output));
        }
        $fails = getenv('SMC_STANDIN_PM2_START_FAILS');
        if (is_string($fails) && $fails !== '') {
            throw new RuntimeException($fails);
        }
        $this->record(array('call' => 'start', 'name' => $name, 'process' => $process, 'environment' => $environment, 'force' => $force));
        return $this->getStatus($name);
    }

    public function stop($name)
    {
        $this->record(array('call' => 'stop', 'name' => $name));
    }

    public function delete($name)
    {
        $this->record(array('call' => 'delete', 'name' => $name));
    }

    public function getStatus($name)
    {
        $failure = getenv('SMC_STANDIN_PM2_FAIL');
        if (is_string($failure) && $failure !== '') {
            throw new Exception($failure);
        }
        $status = false;
        foreach ($this->calls() as $call) {
            if ($call['name'] !== $name) {
                continue;
            }
            if ($call['call'] === 'start') {
                $status = array('name' => $name, 'pid' => 4242, 'pm2_env' => array('status' => 'online'));
            } elseif ($call['call'] === 'stop') {
                $status = array('name' => $name, 'pid' => 0, 'pm2_env' => array('status' => 'stopped'));
            } elseif ($call['call'] === 'delete') {
                $status = false;
            }
        }
        return $status;
    }

    private function calls()
    {
        $path = getenv('SMC_STANDIN_PM2_LOG');
        if (!is_file($path)) {
            return array();
        }
        return array_map(function ($line) {
            return json_decode($line, true);
        }, array_filter(explode("\n", file_get_contents($path))));
    }

    private function record(array $call)
    {
        file_put_contents(getenv('SMC_STANDIN_PM2_LOG'), json_encode($call) . "\n", FILE_APPEND);
    }
}

/**
 * The dashboard module's genStatusIcon() as FreePBX 17.0.28 has it (Dashboard.class.php):
 * Font Awesome classes (16 and older return glyphicon-* ones), the tooltip HTML-escaped.
 */
class StandinDashboard
{
    public function genStatusIcon($res, $tt = null)
    {
        $glyphs = array('ok' => 'fa-check text-success', 'warning' => 'fa-exclamation-triangle text-warning', 'error' => 'fa-times text-danger',
            'unknown' => 'fa-question-circle text-info', 'info' => 'fa-info-circle text-info', 'critical' => 'fa-fire text-danger');
        if (!isset($glyphs[$res])) {
            return array('type' => 'unknown', 'tooltip' => "Don't know what $res is", 'glyph-class' => $glyphs['unknown']);
        }
        $tooltip = $tt === null ? null : htmlentities((string)$tt, ENT_QUOTES, 'UTF-8');
        return array('type' => $res, 'tooltip' => $tooltip, 'glyph-class' => $glyphs[$res]);
    }
}

class FreePBX
{
    private static $instance;
    public $Config;
    private $modules = array();

    public static function create()
    {
        if (self::$instance === null) {
            self::$instance = new self();
            self::$instance->Config = new StandinConfig();
        }
        return self::$instance;
    }

    public function __get($name)
    {
        if ($name === 'Pm2' && getenv('SMC_STANDIN_PM2_LOG')) {
            return new StandinPm2();
        }
        if ($name === 'Dashboard') {
            return new StandinDashboard();
        }
        // The admin UI's language as FreePBX's View resolved it (router.php: X-Standin-UI-Lang);
        // without the header, a framework without View.
        if ($name === 'View' && !empty($_SERVER['HTTP_X_STANDIN_UI_LANG'])) {
            return new StandinView($_SERVER['HTTP_X_STANDIN_UI_LANG']);
        }
        if ($name === 'Smartmissedcalls') {
            if (!isset($this->modules[$name])) {
                $this->modules[$name] = new \FreePBX\modules\Smartmissedcalls($this);
            }
            return $this->modules[$name];
        }
        throw new Exception("Unable to find the Class $name");
    }

    public static function __callStatic($name, $args)
    {
        return self::create()->$name;
    }
}

/** ampuser as FreePBX keeps it in $_SESSION['AMP_user']. */
class ampuser
{
    public $username;
    public $lang;
    private $sections;

    public function __construct($username, array $sections, $lang = null)
    {
        $this->username = $username;
        $this->sections = $sections;
        $this->lang = $lang;
    }

    public function checkSection($section)
    {
        return in_array('*', $this->sections, true) || in_array($section, $this->sections, true);
    }

    /**
     * The stored row of a user (only its username here), found the way MariaDB's
     * utf8mb4_unicode_ci finds it: case, accents and trailing spaces ignored.
     */
    public function getAmpUser($username)
    {
        $stored = json_decode((string)getenv('SMC_STANDIN_AMPUSERS'), true);
        foreach (is_array($stored) ? $stored : array() as $name) {
            if (self::collationKey($name) === self::collationKey($username)) {
                return array('username' => $name);
            }
        }
        return false;
    }

    private static function collationKey($name)
    {
        $decomposed = Normalizer::normalize(rtrim($name, ' '), Normalizer::FORM_D);
        return mb_strtolower(preg_replace('/\p{Mn}+/u', '', $decomposed), 'UTF-8');
    }
}

/** The module's status as module_functions keeps it; '' when never installed. */
function standin_module_status($status = null)
{
    $path = getenv('SMC_STANDIN_MODULE_STATUS');
    if (!is_string($path) || $path === '') {
        return '';
    }
    if ($status !== null) {
        file_put_contents($path, $status);
    }
    return is_file($path) ? trim(file_get_contents($path)) : '';
}

/** The Backup module's FreePBXModule::reset($module): uninstall when enabled, then install. */
function standin_module_reset($module)
{
    $bmo = FreePBX::create()->Smartmissedcalls;
    if (standin_module_status() === 'enabled') {
        $bmo->uninstall();
        standin_module_status('disabled');
    }
    $bmo->install();
    standin_module_status('enabled');
}
