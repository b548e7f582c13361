<?php
// Runs one Smartmissedcalls BMO method the way FreePBX's module admin would, with the test
// stand-in (freepbx-standin.php) in place of FreePBX: php run-bmo.php install|uninstall|backup,
// restore (reads the backup from stdin), start|stop (the fwconsole start/stop hooks),
// dashboard (the System Overview hook; prints its answer as JSON). Prints what the module
// says; exit 1 when install returns false (framework's failed install) or with the message
// on an exception. SMC_STANDIN_SESSION_USER logs that user in first (every section; the
// language in SMC_STANDIN_SESSION_LANG), as the Dashboard's own request is.
require __DIR__ . '/freepbx-standin.php';
require getenv('SMC_MODULE_DIR') . '/Smartmissedcalls.class.php';
define('FREEPBX_IS_AUTH', true);

if (getenv('SMC_STANDIN_SESSION_USER')) {
    $_SESSION['AMP_user'] = new ampuser(getenv('SMC_STANDIN_SESSION_USER'), array('*'), getenv('SMC_STANDIN_SESSION_LANG') ?: null);
}

$bmo = FreePBX::Smartmissedcalls();
try {
    switch ($argv[1]) {
        case 'install':
            if ($bmo->install() === false) {
                exit(1);
            }
            standin_module_status('enabled');
            break;
        case 'uninstall':
            $bmo->uninstall();
            standin_module_status('disabled');
            break;
        case 'backup':
            echo $bmo->backup();
            break;
        case 'restore':
            $bmo->restore(stream_get_contents(STDIN));
            break;
        case 'start':
            $bmo->startFreepbx();
            break;
        case 'stop':
            $bmo->stopFreepbx();
            break;
        case 'dashboard':
            echo json_encode($bmo->dashboardService());
            break;
        default:
            throw new Exception('unknown method ' . $argv[1]);
    }
} catch (Exception $e) {
    fwrite(STDERR, get_class($e) . ': ' . $e->getMessage() . "\n");
    exit(1);
}
