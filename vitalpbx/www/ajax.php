<?php
// ajax.php?module=smartmissedcalls&command=page|api|events&path=/… — the URLs the service
// writes for API calls, the event stream and assets, forwarded with the signed identity.
require __DIR__ . '/glue.php';

use FreePBX\modules\Smartmissedcalls\ServiceUnavailable;
use FreePBX\modules\Smartmissedcalls\SmcProxy;
use FreePBX\modules\Smartmissedcalls\UnexpectedAnswer;

function smc_fail($status, $message)
{
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode(array('error' => $message));
    exit;
}

smc_security_headers();
smc_session();
$identity = smc_identity();
session_write_close();
if ($identity === null) {
    smc_fail(401, 'not logged in');
}
$command = isset($_GET['command']) ? (string)$_GET['command'] : '';
$path = isset($_GET['path']) ? (string)$_GET['path'] : '';
$method = strtoupper($_SERVER['REQUEST_METHOD']);
// Commands are named after the kind of path they carry; /API/Events/ is the event stream too.
if (!in_array($command, array('events', 'api', 'page'), true) || SmcProxy::pathKind($path) !== $command || !SmcProxy::isSafePath($path)) {
    smc_fail(400, 'invalid request');
}
if ($command !== 'api' && $method !== 'GET') {
    smc_fail(405, 'method not allowed');
}
$headers = array(
    'Content-Type' => isset($_SERVER['CONTENT_TYPE']) ? $_SERVER['CONTENT_TYPE'] : '',
    'Accept' => isset($_SERVER['HTTP_ACCEPT']) ? $_SERVER['HTTP_ACCEPT'] : '',
    'X-CSRF-Token' => isset($_SERVER['HTTP_X_CSRF_TOKEN']) ? $_SERVER['HTTP_X_CSRF_TOKEN'] : '',
);
try {
    if ($command === 'events') {
        @set_time_limit(0);
        while (ob_get_level() > 0) {
            ob_end_flush();
        }
        header('X-Accel-Buffering: no');
        smc_proxy()->stream('GET', $path, $identity, $headers, function ($status, $type) {
            http_response_code($status);
            header('Content-Type: ' . $type);
            header('Cache-Control: no-cache');
            flush();
        }, function ($bytes) {
            echo $bytes;
            flush();
        }, function () {
            return connection_aborted() === 0;
        });
        exit;
    }
    $body = $method === 'GET' ? '' : (string)file_get_contents('php://input');
    $answer = smc_proxy()->forward($method, $path, $identity, $headers, $body);
    http_response_code($answer['status']);
    header('Content-Type: ' . $answer['contentType']);
    echo $answer['body'];
} catch (UnexpectedAnswer $e) {
    smc_fail(502, 'invalid request');
} catch (ServiceUnavailable $e) {
    smc_fail(503, 'the Smart Missed Calls service is not running');
}
