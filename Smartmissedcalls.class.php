<?php
// Smart Missed Calls: the FreePBX side of the module. Thin on purpose: it installs and runs
// the Node service (build/smc.js), checks the FreePBX session and module permission, and
// forwards the page and ajax requests to the service with a signed identity
// (SmcProxy.php, docs/identity.md). Everything the user sees comes from the service.
namespace FreePBX\modules;

require_once __DIR__ . '/SmcProxy.php';
require_once __DIR__ . '/SmcInstaller.php';

use FreePBX\modules\Smartmissedcalls\InstallError;
use FreePBX\modules\Smartmissedcalls\ServiceUnavailable;
use FreePBX\modules\Smartmissedcalls\SmcInstaller;
use FreePBX\modules\Smartmissedcalls\SmcProxy;
use FreePBX\modules\Smartmissedcalls\UnexpectedAnswer;

class Smartmissedcalls extends \FreePBX_Helpers implements \BMO
{
    /** Module rawname, ACL section and pm2 process name. */
    const NAME = 'smartmissedcalls';
    /** Comma list of FreePBX administrators who may look but not change (see docs/identity.md). */
    const VIEWERS_KEY = 'smartmissedcalls_viewers';
    const CONFIG_PATH_KEY = 'config_path';
    /** The Node.js binary given as SMC_NODE at install, for every later start (build/smc-node.sh). */
    const NODE_PATH_KEY = 'node_path';

    /** $_SESSION key of the read-only users form's CSRF token. */
    const VIEWERS_TOKEN_KEY = 'smartmissedcalls_viewers_token';

    /** Why the last posted read-only users list was not saved, for the form to say. */
    private $viewersFormError = '';

    /** ajax commands: the kind of service path each may reach and the methods it allows. */
    private static $ajaxCommands = array(
        'page' => array('methods' => array('GET')),
        'api' => array('methods' => array('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
        'events' => array('methods' => array('GET')),
    );

    /** Page views and the service page each one shows. */
    private static $views = array(
        'dashboard' => '/dashboard',
        'entries' => '/entries',
        'entry' => '/entries/',
        'settings' => '/settings',
        'calculator' => '/calculator',
    );

    public function __construct($freepbx = null)
    {
        if ($freepbx === null) {
            throw new \Exception('Not given a FreePBX Object');
        }
        $this->FreePBX = $freepbx;
    }

    // ---------------------------------------------------------------- install / uninstall

    /**
     * Framework shows an exception from install() as a raw error page; a message and false
     * make it report a failed install the usual way.
     */
    public function install()
    {
        try {
            $this->installSteps();
        } catch (\Exception $e) {
            $this->say(sprintf(_('Smart Missed Calls was not installed: %s'), $e->getMessage()));
            return false;
        }
    }

    private function installSteps()
    {
        $node = getenv('SMC_NODE');
        if (is_string($node) && $node !== '') {
            $this->setConfig(self::NODE_PATH_KEY, $node);
        }
        $installer = $this->installer();
        $installer->checkPackage();
        $this->say(sprintf(_('Node.js %s found'), $installer->checkNode()));
        if ($this->pm2() !== null) {
            $installer->prepareServiceDirs($this->setting('AMPASTERISKWEBUSER', 'asterisk'), $this->setting('AMPASTERISKWEBGROUP', 'asterisk'));
        }
        $configPath = SmcInstaller::configPath($this->setting('ASTETCDIR', '/etc/asterisk'));
        $freepbxConf = SmcInstaller::readFreepbxConf($this->freepbxConfPath());
        $freepbxConf['CDRDBNAME'] = $this->setting('CDRDBNAME', 'asteriskcdrdb');
        $wroteConfig = $installer->ensureConfig($configPath, $freepbxConf, array(
            'host' => $this->setting('ASTMANAGERHOST', '127.0.0.1'),
            'port' => $this->setting('ASTMANAGERPORT', '5038'),
            'user' => $this->setting('AMPMGRUSER', ''),
            'secret' => $this->setting('AMPMGRPASS', ''),
        ), $this->setting('AMPASTERISKUSER', ''));
        $createdTables = false;
        try {
            $this->setConfig(self::CONFIG_PATH_KEY, $configPath);
            $createdTables = $installer->schemaInfo($configPath)['version'] === 0;
            $installer->smc($configPath, array('migrate'));
            $this->startService($configPath);
        } catch (\Exception $e) {
            // FreePBX leaves the module "Not Installed": leave nothing of a first install behind.
            if ($createdTables) {
                $this->removeServiceQuietly();
            }
            $installer->undoInstall($configPath, $wroteConfig, $createdTables);
            if ($wroteConfig) {
                $this->setConfig(self::CONFIG_PATH_KEY, false);
            }
            throw $e;
        }
    }

    public function uninstall()
    {
        $this->removeServiceQuietly();
        $configPath = $this->configPath();
        if (is_file($configPath)) {
            $this->installer()->smc($configPath, array('uninstall', '--yes'));
            $this->installer()->removeConfig($configPath);
        } else {
            $this->say(sprintf(_('%s is missing, so the smart_missed_calls_* tables were left in place; remove them with "node build/smc.js uninstall --yes" and a configuration that reaches the database.'), $configPath));
        }
        $this->installer()->removeServiceLogs($this->setting('ASTLOGDIR', '/var/log/asterisk'), self::NAME);
        $this->setConfig(self::VIEWERS_KEY, false);
        $this->setConfig(self::CONFIG_PATH_KEY, false);
        $this->setConfig(self::NODE_PATH_KEY, false);
    }

    /** Restore.php: install has run here (the configuration exists), so FreePBX need not reset the module. */
    public function isConfigured()
    {
        return is_file($this->configPath());
    }

    /** Backup.php: the schema version and the tables to dump. */
    public function schemaInfo()
    {
        return $this->installer()->schemaInfo($this->configPath());
    }

    /**
     * Restore.php: our tables from a backup, with the service stopped meanwhile (it writes
     * them every few seconds) and started again whatever happens.
     * @param string|null $auditKey the backup's audit key file (null: a backup made without one)
     * @param callable $loadDump loads the backup's rows, returns true when it did
     */
    public function restoreTables($schemaVersion, $auditKey, $loadDump)
    {
        $configPath = $this->configPath();
        $this->stopService(false);
        try {
            $this->installer()->restoreTables($configPath, $schemaVersion, $auditKey, $loadDump);
        } finally {
            $this->startService($configPath);
        }
    }

    /** fwconsole chown (module.xml hook on Chown::fwcChownFiles): our secrets stay 0640. */
    public function chownFreepbx()
    {
        return SmcInstaller::privateFiles($this->configPath(), $this->setting('AMPASTERISKWEBUSER', 'asterisk'), $this->setting('AMPASTERISKWEBGROUP', 'asterisk'));
    }

    /** Every tenant's settings as JSON; Restore.php still reads it from backups made before Backup.php dumped our tables. */
    public function backup()
    {
        return $this->installer()->smc($this->configPath(), array('export-state'), null, false);
    }

    public function restore($backup)
    {
        if (!is_string($backup) || trim($backup) === '') {
            return;
        }
        $this->installer()->smc($this->configPath(), array('import-state', '-'), $backup);
    }

    // ---------------------------------------------------------------- the page

    /** Saves the read-only users list posted from the settings view (administrators only). */
    public function doConfigPageInit($page)
    {
        if ($page !== self::NAME || !isset($_POST['action']) || $_POST['action'] !== 'smc_viewers') {
            return;
        }
        $identity = $this->identity();
        if ($identity === null || $identity['role'] !== 'admin') {
            return;
        }
        // Another site could otherwise make an administrator's browser post this form.
        $token = isset($_POST['smc_token']) ? (string)$_POST['smc_token'] : '';
        if (!hash_equals($this->viewersToken(), $token)) {
            $this->viewersFormError = _('The form expired before it was sent; nothing was saved. Try again.');
            return;
        }
        $this->saveViewers(isset($_POST['viewers']) ? (string)$_POST['viewers'] : '');
    }

    /** @param string $list usernames separated by commas or spaces */
    public function saveViewers($list)
    {
        $this->setConfig(self::VIEWERS_KEY, implode(',', self::parseUserList((string)$list)));
    }

    /** The HTML of page.smartmissedcalls.php for ?view=dashboard|entries|entry&id=…|settings|calculator. */
    public function renderPage(array $query)
    {
        $identity = $this->identity();
        if ($identity === null) {
            return self::notice('danger', _('You do not have permission to use Smart Missed Calls. Ask an administrator to grant you the Smart Missed Calls module in User Management.'));
        }
        $view = isset($query['view']) && isset(self::$views[$query['view']]) ? $query['view'] : 'dashboard';
        $path = self::$views[$view];
        if ($view === 'entry') {
            if (!isset($query['id']) || !ctype_digit((string)$query['id'])) {
                return self::notice('warning', _('This entry does not exist.'));
            }
            $path .= $query['id'];
        }
        $rest = array_diff_key($query, array('display' => 1, 'view' => 1, 'id' => 1, 'type' => 1));
        if ($rest) {
            $path .= '?' . http_build_query($rest, '', '&', PHP_QUERY_RFC3986);
        }
        try {
            $answer = $this->proxy()->forward('GET', $path, $identity, array('Accept' => 'text/html'));
        } catch (ServiceUnavailable $e) {
            return $this->serviceDownNotice($e->getMessage());
        }
        if ($answer['status'] === 401) {
            return self::notice('danger', _('The Smart Missed Calls service refused this page\'s signed request. The server clock may be wrong, or server.secret changed without a restart: run "fwconsole pm2 --restart smartmissedcalls".'));
        }
        if ($answer['status'] !== 200) {
            return self::notice('warning', sprintf(_('The Smart Missed Calls service answered with HTTP %d for this page.'), $answer['status']));
        }
        $html = $answer['body'];
        if ($view === 'settings' && $identity['role'] === 'admin') {
            $html .= $this->viewersForm();
        }
        return '<div class="smartmissedcalls" data-ajax="ajax.php?module=' . self::NAME . '">' . $html . '</div>';
    }

    // ---------------------------------------------------------------- ajax

    /** Only our own commands; FreePBX's ajax.php then checks the Referer and the login. */
    public function ajaxRequest($req, &$setting)
    {
        $setting['authenticate'] = true;
        $setting['allowremote'] = false;
        return isset(self::$ajaxCommands[$req]);
    }

    /**
     * Forwards ajax.php?module=smartmissedcalls&command=page|api|events&path=/… to the
     * service and answers with its status, Content-Type and body, then exits: FreePBX
     * would otherwise wrap the answer in its own JSON.
     */
    public function ajaxHandler()
    {
        $command = isset($_REQUEST['command']) ? (string)$_REQUEST['command'] : '';
        $method = isset($_SERVER['REQUEST_METHOD']) ? strtoupper($_SERVER['REQUEST_METHOD']) : 'GET';
        $path = isset($_GET['path']) ? (string)$_GET['path'] : '';

        // FreePBX's ajax.php checks the login but not the module permission.
        $identity = $this->identity();
        if ($identity === null) {
            $this->answerError(403, _('You do not have permission to use Smart Missed Calls.'));
        }
        if (!isset(self::$ajaxCommands[$command]) || !self::pathFitsCommand($command, $path) || !SmcProxy::isSafePath($path)) {
            $this->answerError(400, _('Invalid request.'));
        }
        if (!in_array($method, self::$ajaxCommands[$command]['methods'], true)) {
            $this->answerError(405, _('Method not allowed.'));
        }
        // The session lock would hold every other request of this user while we wait.
        session_write_close();
        $headers = array(
            'Content-Type' => isset($_SERVER['CONTENT_TYPE']) ? $_SERVER['CONTENT_TYPE'] : '',
            'Accept' => isset($_SERVER['HTTP_ACCEPT']) ? $_SERVER['HTTP_ACCEPT'] : '',
            'X-CSRF-Token' => isset($_SERVER['HTTP_X_CSRF_TOKEN']) ? $_SERVER['HTTP_X_CSRF_TOKEN'] : '',
        );
        try {
            if ($command === 'events') {
                $this->streamEvents($path, $identity, $headers);
            } else {
                $body = $method === 'GET' ? '' : (string)file_get_contents('php://input');
                $answer = $this->proxy()->forward($method, $path, $identity, $headers, $body);
                $this->answer($answer['status'], $answer['contentType'], $answer['body'], $answer['contentDisposition']);
            }
        } catch (UnexpectedAnswer $e) {
            $this->answerError(502, _('Invalid request.'));
        } catch (ServiceUnavailable $e) {
            $this->answerError(503, $this->serviceDownText());
        }
        exit;
    }

    // ---------------------------------------------------------------- fwconsole start/stop

    /** fwconsole start (module.xml hook on Start::postAsteriskHooks). */
    public function startFreepbx($output = null)
    {
        // An exception here would stop "fwconsole start" for every module after us.
        try {
            if ($this->serviceStatus() === 'online') {
                $this->say(_('The Smart Missed Calls service is already running'), $output);
                return;
            }
            $this->startService($this->configPath(), $output);
        } catch (\Exception $e) {
            $this->say(sprintf(_('The Smart Missed Calls service was not started: %s'), $e->getMessage()), $output);
        }
    }

    /** fwconsole stop (module.xml hook on Stop::preAsteriskHooks). */
    public function stopFreepbx($output = null)
    {
        try {
            $this->stopService(false, $output);
        } catch (\Exception $e) {
            $this->say(sprintf(_('The Smart Missed Calls service was not stopped: %s'), $e->getMessage()), $output);
        }
    }

    /** The Dashboard waits for every line of its System Overview: the health checks get this long. */
    const DASHBOARD_TIMEOUT_SECONDS = 3;

    /**
     * Dashboard "System Overview" line (module.xml hook on Overview::getSummary). The icon
     * comes from the Dashboard's own genStatusIcon(), which knows its version's icon font
     * (glyphicon up to 16, Font Awesome in 17); an exception here would fail the whole
     * System Overview for every administrator. While the service runs, the line is the
     * worst of its health checks (the settings page's health panel, `smc doctor`), their
     * count in the tooltip and a link to the panel, for a user who may open the module.
     */
    public function dashboardService()
    {
        $title = htmlspecialchars(_('Smart Missed Calls'), ENT_QUOTES, 'UTF-8');
        try {
            $status = $this->serviceStatus();
            if ($status === 'online') {
                list($type, $tooltip, $title) = $this->dashboardHealth($title);
            } elseif ($status === null) {
                list($type, $tooltip) = array('unknown', _('The pm2 module is not available.'));
            } else {
                list($type, $tooltip) = array('critical', _('Not running: fwconsole start smartmissedcalls'));
            }
        } catch (\Exception $e) {
            list($type, $tooltip) = array('unknown', sprintf(_('pm2 did not say whether the service runs: %s'), $e->getMessage()));
        }
        $service = $this->FreePBX->Dashboard->genStatusIcon($type, $tooltip);
        // The overview prints the title as HTML; genStatusIcon() escapes only the tooltip.
        $service['title'] = $title;
        $service['order'] = 999;
        return array($service);
    }

    /**
     * The running service's health checks as the Dashboard shows them: icon type, tooltip,
     * title (HTML). Only said to a user with the module; for others, only that it runs.
     */
    private function dashboardHealth($title)
    {
        $identity = $this->identity();
        if ($identity === null) {
            return array('ok', _('Running'), $title);
        }
        try {
            $answer = SmcProxy::fromConfigFile($this->configPath(), self::DASHBOARD_TIMEOUT_SECONDS)
                ->forward('GET', '/api/health/checks', $identity, array('Accept' => 'application/json'));
        } catch (\Exception $e) {
            return array('warning', sprintf(_('Running, but its health checks did not answer: %s'), $e->getMessage()), $title);
        }
        $health = json_decode($answer['body'], true);
        $types = array('ok' => 'ok', 'warn' => 'warning', 'fail' => 'error');
        if ($answer['status'] !== 200 || !is_array($health) || !isset($health['status'], $health['summary']) || !isset($types[$health['status']])) {
            return array('warning', sprintf(_('Running, but its health checks answered with HTTP %d.'), $answer['status']), $title);
        }
        $link = 'config.php?display=' . self::NAME . '&view=settings#smc-health';
        return array(
            $types[$health['status']],
            sprintf(_('Running. %s'), (string)$health['summary']),
            '<a href="' . htmlspecialchars($link, ENT_QUOTES, 'UTF-8') . '">' . $title . '</a>',
        );
    }

    // ---------------------------------------------------------------- internals

    /**
     * Who is asking, as the service will see it; null when the FreePBX session has no user
     * or the user lacks the smartmissedcalls section.
     */
    public function identity()
    {
        $user = isset($_SESSION['AMP_user']) ? $_SESSION['AMP_user'] : null;
        if (!is_object($user) || !method_exists($user, 'checkSection') || !$user->checkSection(self::NAME)) {
            return null;
        }
        $name = self::canonicalUserName($user);
        $lang = $this->uiLanguage($user);
        return array(
            'user' => $name,
            'tenant' => 'default',
            'role' => in_array(self::foldUserName($name), array_map(array(self::class, 'foldUserName'), $this->viewers()), true) ? 'viewer' : 'admin',
            'lang' => stripos((string)$lang, 'ro') === 0 ? 'ro' : 'en',
        );
    }

    /**
     * The language FreePBX shows its own pages in: its View resolves it (Advanced Settings'
     * UIDEFAULTLANG, falling back to English where the system lacks that locale), so our page
     * never speaks another language than the admin UI around it. Frameworks without it: the
     * user's own setting, else the lang cookie older admin UIs set.
     */
    private function uiLanguage($user)
    {
        try {
            $name = $this->FreePBX->View->setLanguage();
            if (is_string($name) && $name !== '') {
                return $name;
            }
        } catch (\Exception $e) {
            // no View class: fall through
        }
        return isset($user->lang) && $user->lang ? $user->lang : (isset($_COOKIE['lang']) ? $_COOKIE['lang'] : '');
    }

    /** @return string[] */
    public function viewers()
    {
        $stored = $this->getConfig(self::VIEWERS_KEY);
        return is_string($stored) ? self::parseUserList($stored) : array();
    }

    /**
     * FreePBX keeps the name as typed at login, while its lookup (ampusers or User Management,
     * utf8mb4_unicode_ci) ignores case, accents and trailing spaces: "BOB " logs in as bob.
     * The stored name is the one that counts; FreePBX's ampuser reads that row with getAmpUser().
     */
    private static function canonicalUserName($user)
    {
        $typed = (string)$user->username;
        if (method_exists($user, 'getAmpUser')) {
            $row = $user->getAmpUser($typed);
            if (is_array($row) && isset($row['username']) && is_string($row['username']) && $row['username'] !== '') {
                return $row['username'];
            }
        }
        return trim($typed);
    }

    /** Names compared the way the database compares them as far as our ASCII list goes: case and spaces aside. */
    private static function foldUserName($name)
    {
        return strtolower(trim((string)$name));
    }

    private static function parseUserList($text)
    {
        $names = array();
        foreach (preg_split('/[\s,;]+/', $text) as $name) {
            if ($name !== '' && preg_match('/^[\w.@-]{1,128}$/', $name)) {
                $names[$name] = true;
            }
        }
        return array_keys($names);
    }

    /** ajax commands are named after the kind of service path they carry (SmcProxy::pathKind). */
    private static function pathFitsCommand($command, $path)
    {
        return SmcProxy::pathKind($path) === $command;
    }

    private function streamEvents($path, array $identity, array $headers)
    {
        @set_time_limit(0);
        while (ob_get_level() > 0) {
            ob_end_flush();
        }
        $this->proxy()->stream(
            'GET',
            $path,
            $identity,
            $headers,
            function ($status, $contentType) {
                ini_set('default_charset', '');
                http_response_code($status);
                header('Content-Type: ' . $contentType);
                header('Cache-Control: no-store');
                header('X-Accel-Buffering: no');
                flush();
            },
            function ($bytes) {
                echo $bytes;
                flush();
            },
            function () {
                return connection_aborted() === 0;
            }
        );
    }

    /** @param string $contentDisposition the service's, already sanitised by SmcProxy; '' for none */
    private function answer($status, $contentType, $body, $contentDisposition = '')
    {
        // PHP would otherwise append its own charset to the service's text/* types.
        ini_set('default_charset', '');
        http_response_code($status);
        header('Content-Type: ' . $contentType);
        if ($contentDisposition !== '') {
            // Without it a download (the CSV export) is saved under the URL's name, "ajax.php".
            header('Content-Disposition: ' . $contentDisposition);
        }
        header('Cache-Control: no-store');
        header('X-Content-Type-Options: nosniff');
        echo $body;
    }

    private function answerError($status, $message)
    {
        $this->answer($status, 'application/json', json_encode(array('error' => $message)));
        exit;
    }

    private function serviceDownText()
    {
        return _('The Smart Missed Calls service is not running. Start it as root with "fwconsole start smartmissedcalls" (or "fwconsole pm2 --restart smartmissedcalls" if it is listed by "fwconsole pm2 --list"); "node /var/www/html/admin/modules/smartmissedcalls/build/smc.js doctor" tells what is wrong.');
    }

    private function serviceDownNotice($detail)
    {
        return self::notice('danger', $this->serviceDownText(), $detail);
    }

    private static function notice($level, $text, $detail = '')
    {
        $html = '<div class="alert alert-' . $level . '">' . htmlspecialchars($text, ENT_QUOTES, 'UTF-8');
        if ($detail !== '') {
            $html .= '<br><small>' . htmlspecialchars($detail, ENT_QUOTES, 'UTF-8') . '</small>';
        }
        return $html . '</div>';
    }

    private function viewersForm()
    {
        $e = function ($text) {
            return htmlspecialchars($text, ENT_QUOTES, 'UTF-8');
        };
        return '<form method="post" class="smartmissedcalls-viewers" action="?display=' . self::NAME . '&amp;view=settings">'
            . '<input type="hidden" name="action" value="smc_viewers">'
            . '<input type="hidden" name="smc_token" value="' . $e($this->viewersToken()) . '">'
            . '<h3>' . $e(_('Read-only users')) . '</h3>'
            . ($this->viewersFormError === '' ? '' : '<div class="alert alert-warning">' . $e($this->viewersFormError) . '</div>')
            . '<p>' . $e(_('FreePBX administrators listed here may look at Smart Missed Calls but not change anything. Every other administrator with the Smart Missed Calls module may manage it.')) . '</p>'
            . '<input type="text" class="form-control" name="viewers" value="' . $e(implode(', ', $this->viewers())) . '">'
            . '<button type="submit" class="btn btn-default">' . $e(_('Save')) . '</button>'
            . '</form>';
    }

    /** One random token per FreePBX session, made when the form is first shown. */
    private function viewersToken()
    {
        if (empty($_SESSION[self::VIEWERS_TOKEN_KEY]) || !is_string($_SESSION[self::VIEWERS_TOKEN_KEY])) {
            $_SESSION[self::VIEWERS_TOKEN_KEY] = SmcInstaller::randomHex(32);
        }
        return $_SESSION[self::VIEWERS_TOKEN_KEY];
    }

    private function proxy()
    {
        return SmcProxy::fromConfigFile($this->configPath());
    }

    /** Runs smc through build/smc-node.sh, so install checks and uses the Node the service will run on. */
    private function installer()
    {
        $launcher = self::nodeLauncher();
        // "fwconsole chown" makes every file in the module folder 0644.
        if (!is_executable($launcher)) {
            @chmod($launcher, 0755);
        }
        $node = $this->nodePath();
        if ($node !== '') {
            putenv('SMC_NODE=' . $node);
        }
        return new SmcInstaller(__DIR__, $launcher, array($this, 'say'));
    }

    private static function nodeLauncher()
    {
        return __DIR__ . '/build/smc-node.sh';
    }

    /** SMC_NODE from the environment, else the one given at install, else '' (smc-node.sh searches). */
    private function nodePath()
    {
        $fromEnv = getenv('SMC_NODE');
        if (is_string($fromEnv) && $fromEnv !== '') {
            return $fromEnv;
        }
        $stored = $this->getConfig(self::NODE_PATH_KEY);
        return is_string($stored) ? $stored : '';
    }

    private function configPath()
    {
        $fromEnv = getenv('SMC_CONFIG');
        if (is_string($fromEnv) && $fromEnv !== '') {
            return $fromEnv;
        }
        $stored = $this->getConfig(self::CONFIG_PATH_KEY);
        return is_string($stored) && $stored !== '' ? $stored : SmcInstaller::DEFAULT_CONFIG_PATH;
    }

    private function freepbxConfPath()
    {
        $fromEnv = getenv('SMC_FREEPBX_CONF');
        return is_string($fromEnv) && $fromEnv !== '' ? $fromEnv : '/etc/freepbx.conf';
    }

    private function setting($name, $default)
    {
        $value = $this->FreePBX->Config->get($name);
        return $value === null || $value === false || $value === '' ? $default : (string)$value;
    }

    /** The pm2 module's BMO, or null where it is not installed or not enabled. */
    private function pm2()
    {
        try {
            return $this->FreePBX->Pm2;
        } catch (\Exception $e) {
            return null;
        }
    }

    /**
     * pm2's status of our process ('online', 'stopped', 'errored'...), '' when pm2 does not
     * know it, null without the pm2 module. Pm2::getStatus() runs the pm2 command and
     * throws when that fails; callers decide what that means for them.
     */
    private function serviceStatus()
    {
        $pm2 = $this->pm2();
        if ($pm2 === null) {
            return null;
        }
        $status = $pm2->getStatus(self::NAME);
        return !empty($status) && isset($status['pm2_env']['status']) ? (string)$status['pm2_env']['status'] : '';
    }

    /**
     * Starts the service under pm2, or restarts it on the current code and configuration.
     * Only pm2: a second supervisor (a systemd unit) would fight it for the port.
     */
    private function startService($configPath, $output = null)
    {
        $pm2 = $this->pm2();
        if ($pm2 === null) {
            throw new InstallError(_('The pm2 module is not installed or not enabled: install it (fwconsole ma downloadinstall pm2) and install Smart Missed Calls again.'));
        }
        $environment = array('SMC_CONFIG' => $configPath);
        $node = $this->nodePath();
        if ($node !== '') {
            $environment['SMC_NODE'] = $node;
        }
        // Pm2::start() runs the first word (a .sh: with bash) in dirname() of the whole
        // string, so the arguments hold no "/": build/, where smc.js is. Force replaces a
        // running process of that name. The launcher picks a Node 18+, which the `node`
        // pm2 itself runs on may not be (FreePBX 16).
        $pm2->start(self::NAME, self::nodeLauncher() . ' smc.js serve', $environment, true);
        $this->say(_('Started the Smart Missed Calls service under pm2'), $output);
    }

    /** Uninstall goes on when pm2 cannot remove the service: it says so and how to finish by hand. */
    private function removeServiceQuietly()
    {
        try {
            $this->stopService(true);
        } catch (\Exception $e) {
            $this->say(sprintf(_('Could not remove the Smart Missed Calls service (%s): run "fwconsole pm2 --delete smartmissedcalls" as root.'), $e->getMessage()));
        }
    }

    private function stopService($remove, $output = null)
    {
        $pm2 = $this->pm2();
        if ($pm2 === null || $this->serviceStatus() === '') {
            return;
        }
        if ($remove) {
            $pm2->delete(self::NAME);
        } else {
            $pm2->stop(self::NAME);
        }
        $this->say(_('Stopped the Smart Missed Calls service'), $output);
    }

    /** Install and service messages: to fwconsole's output when given, else FreePBX's out(). */
    public function say($line, $output = null)
    {
        if (is_object($output) && method_exists($output, 'writeln')) {
            $output->writeln($line);
        } elseif (function_exists('out')) {
            out($line);
        } else {
            echo $line, "\n";
        }
    }
}
