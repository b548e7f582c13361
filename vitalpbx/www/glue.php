<?php
// Smart Missed Calls on VitalPBX: the thin PHP glue between the panel's web server and
// the Node service. It reuses SmcProxy.php (the FreePBX glue's signed-identity proxy):
// every forwarded request carries an HMAC-signed identity the service verifies. VitalPBX's
// own login cannot be verified from outside its encoded PHP, so who is asking comes from
// our per-tenant accounts (`smc users add --tenant T --role admin`), checked through
// `smc users verify` and kept in a session of our own.
require_once '/usr/share/smartmissedcalls/SmcProxy.php';

use FreePBX\modules\Smartmissedcalls\SmcProxy;

const SMC_CONFIG = '/etc/smartmissedcalls/config.yaml';
const SMC_BUNDLE = '/usr/share/smartmissedcalls/build/smc.js';

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

/** Runs `smc users verify <user>` with the password on stdin; the account or null. */
function smc_verify_login($user, $password)
{
    if (!preg_match('/^[\w.@-]{1,64}$/', $user) || $password === '') {
        return null;
    }
    $cmd = array('/usr/bin/node', SMC_BUNDLE, '--config', SMC_CONFIG, 'users', 'verify', $user);
    $proc = proc_open(implode(' ', array_map('escapeshellarg', $cmd)), array(0 => array('pipe', 'r'), 1 => array('pipe', 'w'), 2 => array('pipe', 'w')), $pipes);
    if (!is_resource($proc)) {
        return null;
    }
    fwrite($pipes[0], $password);
    fclose($pipes[0]);
    $out = stream_get_contents($pipes[1]);
    fclose($pipes[1]);
    fclose($pipes[2]);
    if (proc_close($proc) !== 0) {
        return null;
    }
    $account = json_decode(trim((string)$out), true);
    if (!is_array($account) || !isset($account['user'], $account['tenant'], $account['role'])) {
        return null;
    }
    return array('user' => (string)$account['user'], 'tenant' => (string)$account['tenant'], 'role' => (string)$account['role']);
}

function smc_proxy()
{
    return SmcProxy::fromConfigFile(SMC_CONFIG);
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
function smc_login_page($error)
{
    http_response_code($error === '' ? 200 : 401);
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
    $account = smc_verify_login(isset($_POST['smc_user']) ? (string)$_POST['smc_user'] : '', isset($_POST['smc_password']) ? (string)$_POST['smc_password'] : '');
    if ($account === null) {
        smc_login_page('Wrong user name or password.');
        exit;
    }
    session_regenerate_id(true);
    $_SESSION['smc_account'] = $account;
    header('Location: config.php?display=smartmissedcalls', true, 303);
    exit;
}
