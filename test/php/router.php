<?php
// TEST STAND-IN for FreePBX's config.php and ajax.php under `php -S` (see
// freepbx-standin.php). The logged-in user comes from test headers: X-Standin-User (%-encoded),
// X-Standin-Sections (comma list), X-Standin-Lang; the PHP session (cookie PHPSESSID, files
// in SMC_STANDIN_SESSIONS) keeps what the module stores in it between requests, as FreePBX's
// does. Like FreePBX's ajax.php it asks the module's ajaxRequest() first and refuses unlisted
// commands with 403; like config.php it calls doConfigPageInit() and then includes the page.
require __DIR__ . '/freepbx-standin.php';
require getenv('SMC_MODULE_DIR') . '/Smartmissedcalls.class.php';
define('FREEPBX_IS_AUTH', true);

session_save_path(getenv('SMC_STANDIN_SESSIONS'));
session_start();
unset($_SESSION['AMP_user']);
if (!empty($_SERVER['HTTP_X_STANDIN_USER'])) {
    $sections = array_filter(explode(',', isset($_SERVER['HTTP_X_STANDIN_SECTIONS']) ? $_SERVER['HTTP_X_STANDIN_SECTIONS'] : ''));
    $lang = isset($_SERVER['HTTP_X_STANDIN_LANG']) ? $_SERVER['HTTP_X_STANDIN_LANG'] : null;
    $_SESSION['AMP_user'] = new ampuser(rawurldecode($_SERVER['HTTP_X_STANDIN_USER']), $sections, $lang);
}

$bmo = FreePBX::Smartmissedcalls();
switch (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH)) {
    case '/ajax.php':
        $settings = array('authenticate' => true, 'allowremote' => false);
        $command = isset($_REQUEST['command']) ? $_REQUEST['command'] : '';
        if (!isset($_REQUEST['module']) || $_REQUEST['module'] !== 'smartmissedcalls' || !$bmo->ajaxRequest($command, $settings)) {
            http_response_code(403);
            echo json_encode(array('error' => 'ajaxRequest declined'));
            exit;
        }
        if (!isset($_SESSION['AMP_user'])) {
            http_response_code(401);
            echo json_encode(array('error' => 'Not Authenticated'));
            exit;
        }
        $bmo->ajaxHandler();
        break;
    case '/config.php':
        $bmo->doConfigPageInit(isset($_REQUEST['display']) ? $_REQUEST['display'] : '');
        include getenv('SMC_MODULE_DIR') . '/page.smartmissedcalls.php';
        break;
    default:
        http_response_code(404);
}
