<?php
// Smart Missed Calls: the one place PHP talks to the Node service. The page and the ajax
// handler both forward through it; the signed identity header it adds is the only thing
// the service trusts (contract: docs/identity.md). No product logic lives here.
namespace FreePBX\modules\Smartmissedcalls;

class ServiceUnavailable extends \RuntimeException
{
}

/** The service answered, but not with something a whole-answer forward may pass on (an event stream). */
class UnexpectedAnswer extends ServiceUnavailable
{
}

class SmcProxy
{
    /** Request headers the service may see from the browser; nothing else is forwarded. */
    const FORWARDED_HEADERS = array('Content-Type', 'Accept', 'X-CSRF-Token');
    /** The service's account check (src/web/login.ts); reached only with the login signature. */
    const LOGIN_PATH = '/internal/login';

    /** @var string */
    private $listen;
    /** @var string */
    private $secret;
    /** @var int */
    private $timeoutSeconds;

    /**
     * @param string $listen  server.listen: "127.0.0.1:8093" or "unix:/path/to.sock"
     * @param string $secret  server.secret
     */
    public function __construct($listen, $secret, $timeoutSeconds = 30)
    {
        $this->listen = $listen;
        $this->secret = $secret;
        $this->timeoutSeconds = $timeoutSeconds;
    }

    /** Reads server.listen and server.secret from our config.yaml. */
    public static function fromConfigFile($path, $timeoutSeconds = 30)
    {
        $server = ConfigFile::readServerSection($path);
        if ($server['secret'] === '') {
            throw new ServiceUnavailable(sprintf('server.secret is missing in %s', $path));
        }
        return new self($server['listen'], $server['secret'], $timeoutSeconds);
    }

    /**
     * The X-SMC-Identity / X-SMC-Signature pair for one request.
     * @param array $identity user, tenant, role, lang (ts is added here)
     * @return array header name => value
     */
    public function identityHeaders(array $identity, $now = null)
    {
        $identity['ts'] = $now === null ? time() : (int)$now;
        $json = json_encode($identity, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        $encoded = rtrim(strtr(base64_encode($json), '+/', '-_'), '=');
        return array(
            'X-SMC-Identity' => $encoded,
            'X-SMC-Signature' => hash_hmac('sha256', $encoded, $this->secret),
        );
    }

    /**
     * Forwards one request and returns the whole answer, within timeoutSeconds overall.
     * An event stream never ends, so it is refused here: only stream() may carry one.
     * @return array status (int), contentType (string), body (string)
     */
    public function forward($method, $pathAndQuery, array $identity, array $headers = array(), $body = '')
    {
        return $this->exchange($method, $pathAndQuery, $this->identityHeaders($identity), $headers, $body);
    }

    /**
     * Asks the running service whether a VitalPBX account's password is right (it throttles
     * guessing per user and per client address). The request is signed with server.secret.
     * @return array status (200 right, 401 wrong, 429 wait, 503 busy), retryAfter (seconds), account (user, tenant, role) on 200
     */
    public function checkLogin($user, $password, $clientAddress, $now = null)
    {
        $ts = $now === null ? time() : (int)$now;
        $body = json_encode(array('user' => $user, 'password' => $password, 'address' => $clientAddress, 'ts' => $ts), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
        if ($body === false) {
            return array('status' => 401, 'retryAfter' => 0, 'account' => null);
        }
        $message = "smc-login\n" . $ts . "\n" . $clientAddress . "\n" . $user . "\n" . $password;
        $answer = $this->exchange('POST', self::LOGIN_PATH, array('X-SMC-Login-Signature' => hash_hmac('sha256', $message, $this->secret)), array('Content-Type' => 'application/json'), $body);
        $decoded = json_decode($answer['body'], true);
        $account = $answer['status'] === 200 && is_array($decoded) && isset($decoded['user'], $decoded['tenant'], $decoded['role'])
            ? array('user' => (string)$decoded['user'], 'tenant' => (string)$decoded['tenant'], 'role' => (string)$decoded['role'])
            : null;
        return array('status' => $answer['status'], 'retryAfter' => $answer['retryAfter'], 'account' => $account);
    }

    private function exchange($method, $pathAndQuery, array $trustedHeaders, array $headers, $body)
    {
        $deadline = microtime(true) + $this->timeoutSeconds;
        $conn = $this->send($method, $pathAndQuery, $trustedHeaders, $headers, $body);
        try {
            $head = $this->readHead($conn);
            if (stripos($head['contentType'], 'text/event-stream') === 0) {
                throw new UnexpectedAnswer('the service answered with an event stream where a whole answer was expected');
            }
            $payload = '';
            while (!feof($conn)) {
                $left = $deadline - microtime(true);
                if ($left <= 0) {
                    throw new ServiceUnavailable(sprintf('the service did not finish its answer within %d s', $this->timeoutSeconds));
                }
                // Nobody would read the answer: give the worker back.
                if (connection_aborted()) {
                    throw new ServiceUnavailable('the browser went away');
                }
                stream_set_timeout($conn, (int)ceil($left));
                $chunk = fread($conn, 65536);
                if ($chunk === false || ($chunk === '' && $this->timedOut($conn))) {
                    throw new ServiceUnavailable('the service stopped answering mid-response');
                }
                $payload .= $chunk;
            }
            $head['body'] = $payload;
            return $head;
        } finally {
            fclose($conn);
        }
    }

    /**
     * Forwards one request and hands the answer on as it arrives (server-sent events).
     * $onHead(status, contentType) is called once, then $onData(bytes) for every piece,
     * until the service closes the stream or $stillWanted() returns false.
     */
    public function stream($method, $pathAndQuery, array $identity, array $headers, $onHead, $onData, $stillWanted)
    {
        $conn = $this->send($method, $pathAndQuery, $this->identityHeaders($identity), $headers, '');
        try {
            $head = $this->readHead($conn);
            call_user_func($onHead, $head['status'], $head['contentType']);
            // An event stream is quiet between events; only a closed peer ends it.
            stream_set_timeout($conn, 15);
            while (!feof($conn) && call_user_func($stillWanted)) {
                $chunk = fread($conn, 8192);
                if ($chunk === false) {
                    break;
                }
                if ($chunk !== '') {
                    call_user_func($onData, $chunk);
                }
            }
        } finally {
            fclose($conn);
        }
    }

    /** @param array $trustedHeaders set by this glue (identity or login signature); $headers come from the browser and are filtered */
    private function send($method, $pathAndQuery, array $trustedHeaders, array $headers, $body)
    {
        if (!preg_match('/^[A-Z]{3,7}$/', $method)) {
            throw new \InvalidArgumentException('invalid HTTP method');
        }
        if (!self::isSafePath($pathAndQuery)) {
            throw new \InvalidArgumentException('invalid service path');
        }
        $errno = 0;
        $errstr = '';
        $conn = @stream_socket_client($this->endpoint(), $errno, $errstr, 5);
        if ($conn === false) {
            throw new ServiceUnavailable(sprintf('cannot connect to the service at %s: %s', $this->listen, $errstr));
        }
        stream_set_timeout($conn, $this->timeoutSeconds);

        // HTTP/1.0 makes the service close the connection at the end of the body instead
        // of using chunked encoding, so reading to EOF is the whole answer.
        $lines = array(sprintf('%s %s HTTP/1.0', $method, $pathAndQuery), 'Host: localhost', 'Connection: close');
        foreach ($trustedHeaders as $name => $value) {
            $lines[] = $name . ': ' . $value;
        }
        foreach (self::FORWARDED_HEADERS as $name) {
            if (isset($headers[$name]) && $headers[$name] !== '' && !preg_match('/[\r\n]/', $headers[$name])) {
                $lines[] = $name . ': ' . $headers[$name];
            }
        }
        $lines[] = 'Content-Length: ' . strlen($body);
        $request = implode("\r\n", $lines) . "\r\n\r\n" . $body;
        for ($written = 0; $written < strlen($request); $written += $n) {
            $n = fwrite($conn, substr($request, $written));
            if ($n === false || $n === 0) {
                fclose($conn);
                throw new ServiceUnavailable('the service closed the connection while the request was sent');
            }
        }
        return $conn;
    }

    private function readHead($conn)
    {
        $statusLine = fgets($conn);
        if ($statusLine === false || !preg_match('#^HTTP/1\.[01] (\d{3})#', $statusLine, $m)) {
            throw new ServiceUnavailable('the service did not answer with HTTP');
        }
        $contentType = 'application/octet-stream';
        $contentDisposition = '';
        $retryAfter = 0;
        while (($line = fgets($conn)) !== false) {
            $line = rtrim($line, "\r\n");
            if ($line === '') {
                break;
            }
            $parts = explode(':', $line, 2);
            if (count($parts) !== 2) {
                continue;
            }
            $name = strtolower(trim($parts[0]));
            if ($name === 'content-type') {
                $contentType = trim($parts[1]);
            } elseif ($name === 'content-disposition') {
                $contentDisposition = self::safeContentDisposition(trim($parts[1]));
            } elseif ($name === 'retry-after') {
                $retryAfter = (int)trim($parts[1]);
            }
        }
        return array('status' => (int)$m[1], 'contentType' => $contentType, 'contentDisposition' => $contentDisposition, 'retryAfter' => $retryAfter);
    }

    /**
     * The service's Content-Disposition rebuilt from its type and a file name of safe
     * characters only (no quotes, paths or header breaks can pass); '' when it has neither.
     */
    public static function safeContentDisposition($value)
    {
        if (!preg_match('/^\s*(attachment|inline)\b/i', $value, $type)) {
            return '';
        }
        $header = strtolower($type[1]);
        if (preg_match('/(?:^|;)\s*filename\s*=\s*(?:"([^"]*)"|([^;\s]*))/i', $value, $m)) {
            $name = preg_replace('/[^A-Za-z0-9._-]/', '_', $m[1] !== '' ? $m[1] : (isset($m[2]) ? $m[2] : ''));
            $name = substr(ltrim($name, '.'), 0, 128);
            if ($name !== '') {
                $header .= '; filename="' . $name . '"';
            }
        }
        return $header;
    }

    private function timedOut($conn)
    {
        $meta = stream_get_meta_data($conn);
        return !empty($meta['timed_out']);
    }

    private function endpoint()
    {
        if (strpos($this->listen, 'unix:') === 0) {
            return 'unix://' . substr($this->listen, 5);
        }
        return 'tcp://' . $this->listen;
    }

    /**
     * What a service path is for: 'events' (the event stream), 'api' or 'page'. Judged on the
     * path as the service may route it, whatever its case, %-encoding, repeated or trailing
     * slashes: /API/Events/ is the event stream too.
     */
    public static function pathKind($pathAndQuery)
    {
        $pathOnly = explode('?', (string)$pathAndQuery, 2);
        $path = strtolower(rawurldecode($pathOnly[0]));
        $path = rtrim(preg_replace('#/+#', '/', $path), '/');
        if ($path === '/api/events') {
            return 'events';
        }
        return strpos($path . '/', '/api/') === 0 ? 'api' : 'page';
    }

    /** An absolute path on the service: no scheme, host, traversal, control bytes or spaces. */
    public static function isSafePath($path)
    {
        if (!is_string($path) || $path === '' || strlen($path) > 2048 || $path[0] !== '/' || substr($path, 0, 2) === '//') {
            return false;
        }
        if (!preg_match('#^/[A-Za-z0-9\-._~!$&\'()*+,;=:@/?%]*$#', $path)) {
            return false;
        }
        $pathOnly = explode('?', $path, 2);
        $decoded = rawurldecode($pathOnly[0]);
        foreach (explode('/', $decoded) as $segment) {
            if ($segment === '..' || $segment === '.') {
                return false;
            }
        }
        return strpos($decoded, "\\") === false && strpos($decoded, "\0") === false;
    }
}

/**
 * Reads the few values the PHP side needs from our config.yaml (which install writes in
 * block style). PHP has no YAML parser on a stock PBX, so this understands top-level
 * sections with plain, 'single' or "double" quoted scalar values, which is what we write.
 */
class ConfigFile
{
    public static function readServerSection($path)
    {
        $text = @file_get_contents($path);
        if ($text === false) {
            throw new ServiceUnavailable(sprintf('cannot read %s', $path));
        }
        $values = self::section($text, 'server');
        return array(
            'listen' => isset($values['listen']) && $values['listen'] !== '' ? $values['listen'] : '127.0.0.1:8093',
            'secret' => isset($values['secret']) ? $values['secret'] : '',
        );
    }

    /** @return array key => scalar string of one top-level mapping */
    public static function section($text, $name)
    {
        $values = array();
        $inside = false;
        foreach (preg_split('/\r?\n/', $text) as $line) {
            if (preg_match('/^(\S[^:#]*):\s*(#.*)?$/', $line, $m)) {
                $inside = trim($m[1]) === $name;
                continue;
            }
            if ($inside && preg_match('/^\s+([A-Za-z_]+):\s*(.*)$/', $line, $m)) {
                $values[$m[1]] = self::scalar($m[2]);
            } elseif ($inside && preg_match('/^\S/', $line)) {
                $inside = false;
            }
        }
        return $values;
    }

    private static function scalar($raw)
    {
        $raw = trim($raw);
        if ($raw !== '' && $raw[0] === "'") {
            return str_replace("''", "'", substr($raw, 1, strrpos($raw, "'") - 1));
        }
        if ($raw !== '' && $raw[0] === '"') {
            $decoded = json_decode(substr($raw, 0, strrpos($raw, '"') + 1));
            return is_string($decoded) ? $decoded : '';
        }
        return trim(preg_replace('/\s+#.*$/', '', $raw));
    }
}
