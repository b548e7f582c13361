<?php
// Pages: config.php?display=smartmissedcalls&view=dashboard|entries|entry|settings|calculator,
// the same URLs the service writes in PBX mode, answered with the service's page fragment
// inside a minimal document that loads our CSS and JS.
require __DIR__ . '/glue.php';

use FreePBX\modules\Smartmissedcalls\ServiceUnavailable;

smc_security_headers();
smc_session();
if (isset($_GET['logout'])) {
    $_SESSION = array();
    session_destroy();
    header('Location: config.php', true, 303);
    exit;
}
if ($_SERVER['REQUEST_METHOD'] === 'POST' && isset($_POST['smc_user'])) {
    smc_handle_login();
}
$identity = smc_identity();
if ($identity === null) {
    smc_login_page('');
    exit;
}
session_write_close();

$views = array('dashboard' => '/dashboard', 'entries' => '/entries', 'entry' => '/entries/', 'settings' => '/settings', 'calculator' => '/calculator');
$view = isset($_GET['view']) && isset($views[$_GET['view']]) ? $_GET['view'] : 'dashboard';
$path = $views[$view];
if ($view === 'entry') {
    if (!isset($_GET['id']) || !ctype_digit((string)$_GET['id'])) {
        http_response_code(404);
        exit('This entry does not exist.');
    }
    $path .= $_GET['id'];
}
$rest = array_diff_key($_GET, array('display' => 1, 'view' => 1, 'id' => 1, 'logout' => 1));
if ($rest) {
    $path .= '?' . http_build_query($rest, '', '&', PHP_QUERY_RFC3986);
}
try {
    $answer = smc_proxy()->forward('GET', $path, $identity, array('Accept' => 'text/html'));
} catch (ServiceUnavailable $e) {
    http_response_code(503);
    exit('The Smart Missed Calls service is not running: systemctl status smartmissedcalls');
}
http_response_code($answer['status']);
header('Content-Type: text/html; charset=utf-8');
$asset = function ($p) {
    return 'ajax.php?module=smartmissedcalls&amp;command=page&amp;path=' . rawurlencode($p);
};
echo '<!doctype html><html><head><meta charset="utf-8"><title>Smart Missed Calls</title>',
    '<link rel="stylesheet" href="', $asset('/assets/css/smartmissedcalls.css'), '">',
    '<script src="', $asset('/assets/vendor/chart.umd.js'), '"></script>',
    '<script src="', $asset('/assets/js/smartmissedcalls.js'), '" defer></script></head><body>',
    '<p class="smartmissedcalls-who">', smc_h($identity['user']), ' (', smc_h($identity['tenant']), ') · <a href="config.php?logout=1">Log out</a></p>',
    '<div class="smartmissedcalls" data-ajax="ajax.php?module=smartmissedcalls">', $answer['body'], '</div></body></html>';
