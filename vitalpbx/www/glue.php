<?php
// Smart Missed Calls on VitalPBX: the thin PHP glue between the panel's web server and
// the Node service. It reuses SmcProxy.php (the FreePBX glue's signed-identity proxy):
// every forwarded request carries an HMAC-signed identity the service verifies. VitalPBX's
// own login cannot be verified from outside its encoded PHP, so who is asking comes from
// our per-tenant accounts (`smc users add --tenant T --role admin`), checked by the running
// service (which throttles guessing) and kept in a session of our own.
require_once __DIR__ . '/../../SmcProxy.php';

use FreePBX\modules\Smartmissedcalls\ServiceUnavailable;
use FreePBX\modules\Smartmissedcalls\SmcProxy;

const SMC_CONFIG = '/etc/smartmissedcalls/config.yaml';

/**
 * Sent with every answer of ours: no framing by other sites, no content sniffing, and
 * scripts, styles and connections from this origin only (the service's pages need no inline code).
 */
function smc_security_headers()
{
    header('X-Frame-Options: SAMEORIGIN');
    header('X-Content-Type-Options: nosniff');
    header('Referrer-Policy: same-origin');
    header("Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'");
}

/** The config the glue reads: SMC_CONFIG when the web server sets it, else the installed one. */
function smc_config_path()
{
    $fromEnv = getenv('SMC_CONFIG');
    return is_string($fromEnv) && $fromEnv !== '' ? $fromEnv : SMC_CONFIG;
}

function smc_session()
{
    session_name('smc_vitalpbx');
    session_set_cookie_params(array(
        'lifetime' => 0,
        'path' => '/smartmissedcalls/',
        'secure' => !empty($_SERVER['HTTPS']) && $_SERVER['HTTPS'] !== 'off',
        'httponly' => true,
        'samesite' => 'Strict',
    ));
    session_start();
}

/** @return array|null user, tenant, role, lang — as the service expects it */
function smc_identity()
{
    if (empty($_SESSION['smc_account']) || !is_array($_SESSION['smc_account'])) {
        return null;
    }
    $a = $_SESSION['smc_account'];
    $lang = isset($_SERVER['HTTP_ACCEPT_LANGUAGE']) && stripos($_SERVER['HTTP_ACCEPT_LANGUAGE'], 'ro') === 0 ? 'ro' : 'en';
    return array('user' => $a['user'], 'tenant' => $a['tenant'], 'role' => $a['role'], 'lang' => $lang);
}

/**
 * Asks the service whether user and password match (it counts failures per user and per
 * address and makes guessers wait).
 * @return array account (user, tenant, role) or null; status and error: the login page's HTTP status and text
 */
function smc_verify_login($user, $password)
{
    $refused = array('account' => null, 'status' => 401, 'error' => 'Wrong user name or password.');
    if (!preg_match('/^[\w.@-]{1,64}$/', $user) || $password === '' || !preg_match('//u', $password)) {
        return $refused;
    }
    $address = isset($_SERVER['REMOTE_ADDR']) ? (string)$_SERVER['REMOTE_ADDR'] : '';
    try {
        $answer = smc_proxy()->checkLogin($user, $password, $address);
    } catch (ServiceUnavailable $e) {
        return array('account' => null, 'status' => 503, 'error' => 'The Smart Missed Calls service is not running: systemctl status smartmissedcalls');
    }
    if ($answer['account'] !== null) {
        return array('account' => $answer['account'], 'status' => 200, 'error' => '');
    }
    if ($answer['status'] === 429) {
        return array('account' => null, 'status' => 429, 'error' => sprintf('Too many failed logins. Try again in %d seconds.', max(1, $answer['retryAfter'])));
    }
    if ($answer['status'] === 503) {
        return array('account' => null, 'status' => 503, 'error' => 'Too many logins at once. Try again in a moment.');
    }
    return $refused;
}

function smc_proxy()
{
    return SmcProxy::fromConfigFile(smc_config_path());
}

function smc_h($text)
{
    return htmlspecialchars((string)$text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

function smc_login_token()
{
    if (empty($_SESSION['smc_login_token'])) {
        $_SESSION['smc_login_token'] = bin2hex(random_bytes(16));
    }
    return $_SESSION['smc_login_token'];
}

/** The login form; POSTed back to config.php. */
function smc_login_page($error, $status = 401)
{
    http_response_code($error === '' ? 200 : $status);
    header('Content-Type: text/html; charset=utf-8');
    echo '<!doctype html><html><head><meta charset="utf-8"><title>Smart Missed Calls</title></head><body>',
        '<form method="post" action="config.php" class="smartmissedcalls-login"><h1>Smart Missed Calls</h1>',
        $error === '' ? '' : '<p role="alert">' . smc_h($error) . '</p>',
        '<input type="hidden" name="smc_token" value="', smc_h(smc_login_token()), '">',
        '<label>User <input name="smc_user" autocomplete="username" required></label> ',
        '<label>Password <input type="password" name="smc_password" autocomplete="current-password" required></label> ',
        '<button type="submit">Log in</button></form></body></html>';
}

function smc_handle_login()
{
    $token = isset($_POST['smc_token']) ? (string)$_POST['smc_token'] : '';
    if (!hash_equals(smc_login_token(), $token)) {
        smc_login_page('Your login form expired; try again.');
        exit;
    }
    $login = smc_verify_login(isset($_POST['smc_user']) ? (string)$_POST['smc_user'] : '', isset($_POST['smc_password']) ? (string)$_POST['smc_password'] : '');
    if ($login['account'] === null) {
        smc_login_page($login['error'], $login['status']);
        exit;
    }
    session_regenerate_id(true);
    $_SESSION['smc_account'] = $login['account'];
    header('Location: config.php?display=smartmissedcalls', true, 303);
    exit;
}
