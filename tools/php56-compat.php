<?php
// PHP 5.6 compatibility check for the module's PHP (FreePBX 14 runs PHP 5.6, FreePBX 15
// PHP 5.6 or 7.x; this machine only has PHP 8). Like tools/php74-compat.php, whose checks it
// runs first, a token-level checker, not a PHP 5.6 parser: it refuses the syntax PHP 7.0 to
// 7.4 added that our code could plausibly use, the functions PHP 5.6 lacks, and the call
// forms 5.6 does not take (getenv() without a name, proc_open() with an array command).
// Usage: php tools/php56-compat.php FILE...   Prints file:line: problem; exit 1 on any.

require_once __DIR__ . '/php74-compat.php';

/** The index of the bracket that closes the one at $open ((, [ or {), or -1. */
function closingBracket(array $tokens, $open)
{
    $pairs = array('(' => ')', '[' => ']', '{' => '}');
    $opener = text($tokens[$open]);
    $depth = 0;
    for ($j = $open; $j < count($tokens); $j++) {
        $s = text($tokens[$j]);
        if ($s === $opener || ($opener === '{' && in_array(kind($tokens[$j]), array(T_CURLY_OPEN, T_DOLLAR_OPEN_CURLY_BRACES), true))) {
            $depth++;
        } elseif ($s === $pairs[$opener]) {
            $depth--;
            if ($depth === 0) {
                return $j;
            }
        }
    }
    return -1;
}

function checkSource56($source)
{
    $problems = array();
    $tokens = token_get_all($source);
    $line = 1;
    $lines = array();
    foreach ($tokens as $i => $t) {
        $lines[$i] = $line;
        $line += substr_count(text($t), "\n");
    }
    $report = function ($i, $what) use (&$problems, $lines) {
        $problems[] = array($lines[$i], $what);
    };
    $byName = array(
        'T_COALESCE' => 'null coalescing operator ?? (PHP 7.0)',
        'T_COALESCE_EQUAL' => 'null coalescing assignment ??= (PHP 7.4)',
        'T_SPACESHIP' => 'spaceship operator <=> (PHP 7.0)',
        'T_FN' => 'arrow function fn() => (PHP 7.4)',
        'T_YIELD_FROM' => 'yield from (PHP 7.0)',
    );
    $newKinds = array();
    foreach ($byName as $name => $what) {
        if (defined($name)) {
            $newKinds[constant($name)] = $what;
        }
    }
    $php7Functions = array(
        'random_bytes', 'random_int', 'intdiv', 'preg_replace_callback_array', 'error_clear_last', 'is_iterable',
        'is_countable', 'array_key_first', 'array_key_last', 'mb_str_split', 'spl_object_id', 'hrtime', 'mb_chr', 'mb_ord',
        'password_algos', 'get_mangled_object_vars', 'net_get_interfaces', 'openssl_pkey_derive', 'socket_addrinfo_lookup',
    );
    $scalarTypes = array('int', 'float', 'string', 'bool', 'iterable', 'object', 'void', 'mixed');
    $visibility = array(T_PUBLIC, T_PROTECTED, T_PRIVATE, T_VAR);
    $names = array(T_STRING, T_ARRAY, T_CALLABLE);
    foreach (array('T_NAME_QUALIFIED', 'T_NAME_FULLY_QUALIFIED', 'T_NAME_RELATIVE') as $name) {
        if (defined($name)) {
            $names[] = constant($name);
        }
    }
    // What each open parenthesis belongs to: 'array' (a trailing comma is fine in 5.6) or 'call'.
    $parens = array();
    $braceDepth = 0;
    $count = count($tokens);
    for ($i = 0; $i < $count; $i++) {
        $t = $tokens[$i];
        $k = kind($t);
        if (in_array($k, array(T_WHITESPACE, T_COMMENT, T_DOC_COMMENT), true)) {
            continue;
        }
        if (isset($newKinds[$k])) {
            $report($i, $newKinds[$k]);
            continue;
        }
        $prev = significantBefore($tokens, $i);
        $next = significantAfter($tokens, $i);
        $prevText = $prev >= 0 ? text($tokens[$prev]) : '';
        $nextText = $next >= 0 ? text($tokens[$next]) : '';
        $prevKind = $prev >= 0 ? kind($tokens[$prev]) : null;

        if ($t === '{' || $k === T_CURLY_OPEN || $k === T_DOLLAR_OPEN_CURLY_BRACES) {
            $braceDepth++;
        } elseif ($t === '}') {
            $braceDepth--;
        }
        if ($t === '(') {
            $parens[] = in_array($prevKind, array(T_ARRAY, T_LIST), true) ? 'array' : 'call';
        } elseif ($t === ')') {
            $owner = array_pop($parens);
            if ($prevText === ',' && $owner === 'call') {
                $report($i, 'trailing comma in a call or parameter list (PHP 7.3/8.0)');
            }
        }

        if ($k === T_FUNCTION) {
            $open = $i;
            while ($open < $count && text($tokens[$open]) !== '(') {
                $open++;
            }
            $close = closingBracket($tokens, $open);
            checkParameters($tokens, $open, $close, $scalarTypes, $names, $report);
            $after = significantAfter($tokens, $close);
            if ($after >= 0 && kind($tokens[$after]) === T_USE) {
                $useOpen = significantAfter($tokens, $after);
                $after = significantAfter($tokens, closingBracket($tokens, $useOpen));
            }
            if ($after >= 0 && text($tokens[$after]) === ':') {
                $report($after, 'return type declaration (PHP 7.0)');
            }
            continue;
        }
        if ($k === T_NEW && $next >= 0 && kind($tokens[$next]) === T_CLASS) {
            $report($i, 'anonymous class (PHP 7.0)');
        }
        if (in_array($k, $visibility, true) && $next >= 0) {
            $n = $next;
            if (kind($tokens[$n]) === T_STATIC) {
                $n = significantAfter($tokens, $n);
            }
            if ($n >= 0 && kind($tokens[$n]) === T_CONST) {
                $report($i, 'class constant visibility (PHP 7.1)');
            } elseif ($n >= 0 && (text($tokens[$n]) === '?' || in_array(kind($tokens[$n]), $names, true))) {
                $after = significantAfter($tokens, $n);
                if (text($tokens[$n]) === '?' || ($after >= 0 && kind($tokens[$after]) === T_VARIABLE)) {
                    $report($i, 'typed property (PHP 7.4)');
                }
            }
        }
        if ($k === T_USE && $braceDepth === 0 && $prevText !== ')') {
            for ($j = $i + 1; $j < $count && text($tokens[$j]) !== ';'; $j++) {
                if (text($tokens[$j]) === '{') {
                    $report($i, 'group use declaration (PHP 7.0)');
                    break;
                }
            }
        }
        if ($k === T_CATCH && $nextText === '(') {
            for ($j = $next + 1; $j < $count && text($tokens[$j]) !== ')'; $j++) {
                if (text($tokens[$j]) === '|') {
                    $report($i, 'multi-catch A | B (PHP 7.1)');
                    break;
                }
            }
        }
        if ($t === '[' && ($prevText === ';' || $prevText === '{' || $prevText === '}' || $prevKind === T_AS || $prevKind === T_OPEN_TAG || $prev < 0)) {
            $close = closingBracket($tokens, $i);
            $after = $close >= 0 ? significantAfter($tokens, $close) : -1;
            if ($prevKind === T_AS || ($after >= 0 && text($tokens[$after]) === '=')) {
                $report($i, 'short list syntax [$a, $b] = (PHP 7.1)');
            }
        }
        if ($k === T_LIST && $nextText === '(') {
            for ($j = $next + 1, $end = closingBracket($tokens, $next); $j < $end; $j++) {
                if (kind($tokens[$j]) === T_DOUBLE_ARROW) {
                    $report($i, 'list() with keys (PHP 7.1)');
                    break;
                }
            }
        }
        if ($k === T_ELLIPSIS && ($prevText === '[' || ($prevText === '(' && $prev > 0 && kind($tokens[significantBefore($tokens, $prev)]) === T_ARRAY))) {
            $report($i, 'spread in an array (PHP 7.4)');
        }
        if ($k === T_DECLARE && $next >= 0) {
            $arg = significantAfter($tokens, $next);
            if ($arg >= 0 && strtolower(text($tokens[$arg])) === 'strict_types') {
                $report($i, 'declare(strict_types) (PHP 7.0)');
            }
        }
        if (($k === T_LNUMBER || $k === T_DNUMBER) && strpos(text($t), '_') !== false) {
            $report($i, 'numeric literal separator (PHP 7.4)');
        }
        if (($k === T_CONSTANT_ENCAPSED_STRING || $k === T_ENCAPSED_AND_WHITESPACE) && text($t)[0] !== "'" && preg_match('/(?<!\\\\)(?:\\\\\\\\)*\\\\u\{/', text($t))) {
            $report($i, 'Unicode escape \\u{...} (PHP 7.0)');
        }
        if ($k === T_STRING && $nextText === '(' && !in_array($prevText, array('->', '::', 'function'), true)) {
            $name = strtolower(text($t));
            if (in_array($name, $php7Functions, true)) {
                $report($i, text($t) . '() does not exist in PHP 5.6');
            } elseif ($name === 'getenv' && text($tokens[significantAfter($tokens, $next)]) === ')') {
                $report($i, 'getenv() without a name (PHP 7.1)');
            } elseif ($name === 'proc_open') {
                $arg = significantAfter($tokens, $next);
                if ($arg >= 0 && (text($tokens[$arg]) === '[' || kind($tokens[$arg]) === T_ARRAY)) {
                    $report($i, 'proc_open() with an array command (PHP 7.4)');
                }
            }
        }
    }
    return $problems;
}

/** Scalar, nullable and void parameter types between a signature's parentheses. */
function checkParameters(array $tokens, $open, $close, array $scalarTypes, array $names, $report)
{
    $atStart = true;
    $depth = 0;
    for ($j = $open + 1; $j < $close; $j++) {
        $k = kind($tokens[$j]);
        $s = text($tokens[$j]);
        if (in_array($k, array(T_WHITESPACE, T_COMMENT, T_DOC_COMMENT), true)) {
            continue;
        }
        if ($s === '(' || $s === '[') {
            $depth++;
        } elseif ($s === ')' || $s === ']') {
            $depth--;
        } elseif ($depth === 0 && $s === ',') {
            $atStart = true;
            continue;
        }
        if (!$atStart) {
            continue;
        }
        if ($s === '?') {
            $report($j, 'nullable type ?T (PHP 7.1)');
        } elseif ($k === T_STRING && in_array(strtolower($s), $scalarTypes, true)) {
            $report($j, 'scalar type declaration ' . strtolower($s) . ' (PHP 7.0)');
        }
        if ($k === T_VARIABLE || $s === '=') {
            $atStart = false;
        }
    }
}

if (PHP_SAPI === 'cli' && isset($argv) && realpath($argv[0]) === realpath(__FILE__)) {
    $failed = false;
    foreach (array_slice($argv, 1) as $file) {
        $source = file_get_contents($file);
        if ($source === false) {
            fwrite(STDERR, "$file: cannot read\n");
            $failed = true;
            continue;
        }
        $problems = array_merge(checkSource($source), checkSource56($source));
        usort($problems, function ($a, $b) {
            return $a[0] - $b[0];
        });
        foreach ($problems as $problem) {
            echo "$file:{$problem[0]}: {$problem[1]}\n";
            $failed = true;
        }
    }
    exit($failed ? 1 : 0);
}
