<?php
// PHP 7.4 compatibility check for the module's PHP (FreePBX 16 runs PHP 7.4; this machine
// only has PHP 8). A token-level checker, not a PHP 7.4 parser: it refuses the syntax
// PHP 8.x added that our code could plausibly use, and the PHP 8 string functions.
// Usage: php tools/php74-compat.php FILE...   Prints file:line: problem; exit 1 on any.

function significantBefore(array $tokens, $i)
{
    for ($j = $i - 1; $j >= 0; $j--) {
        if (!is_array($tokens[$j]) || !in_array($tokens[$j][0], array(T_WHITESPACE, T_COMMENT, T_DOC_COMMENT), true)) {
            return $j;
        }
    }
    return -1;
}

function significantAfter(array $tokens, $i)
{
    for ($j = $i + 1; $j < count($tokens); $j++) {
        if (!is_array($tokens[$j]) || !in_array($tokens[$j][0], array(T_WHITESPACE, T_COMMENT, T_DOC_COMMENT), true)) {
            return $j;
        }
    }
    return -1;
}

function text($token)
{
    return is_array($token) ? $token[1] : $token;
}

function kind($token)
{
    return is_array($token) ? $token[0] : $token;
}

function checkSource($source)
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
        'T_MATCH' => 'match expression (PHP 8.0)',
        'T_NULLSAFE_OBJECT_OPERATOR' => 'nullsafe operator ?-> (PHP 8.0)',
        'T_ENUM' => 'enum (PHP 8.1)',
        'T_READONLY' => 'readonly (PHP 8.1)',
        'T_ATTRIBUTE' => 'attribute #[...] (PHP 8.0; a comment to PHP 7.4)',
    );
    $newKinds = array();
    foreach ($byName as $name => $what) {
        if (defined($name)) {
            $newKinds[constant($name)] = $what;
        }
    }
    $php8Functions = array('str_contains', 'str_starts_with', 'str_ends_with', 'get_debug_type', 'array_is_list', 'fdiv', 'get_resource_id');

    // Signature state: inside "function (...)" and its return type, with paren depth.
    $inParams = false;
    $depth = 0;
    $inDefault = false;
    $isConstructor = false;
    $inReturnType = false;
    $count = count($tokens);
    for ($i = 0; $i < $count; $i++) {
        $t = $tokens[$i];
        $k = kind($t);
        if (isset($newKinds[$k])) {
            $report($i, $newKinds[$k]);
            continue;
        }
        $prev = significantBefore($tokens, $i);
        $next = significantAfter($tokens, $i);
        $prevText = $prev >= 0 ? text($tokens[$prev]) : '';
        $nextText = $next >= 0 ? text($tokens[$next]) : '';

        if ($k === T_FUNCTION || (defined('T_FN') && $k === T_FN)) {
            $isConstructor = $next >= 0 && strtolower($nextText) === '__construct';
            for ($j = $i + 1; $j < $count && text($tokens[$j]) !== '('; $j++) {
            }
            $i = $j;
            $inParams = true;
            $depth = 1;
            $inDefault = false;
            continue;
        }
        if ($inParams) {
            if ($t === '(' || $t === '[') {
                $depth++;
            } elseif ($t === ')' || $t === ']') {
                $depth--;
                if ($depth === 0) {
                    $inParams = false;
                    $inReturnType = $nextText === ':';
                    if ($prevText === ',') {
                        $report($i, 'trailing comma in a parameter list (PHP 8.0)');
                    }
                    continue;
                }
            } elseif ($t === ',' && $depth === 1) {
                $inDefault = false;
            } elseif ($t === '=' && $depth === 1) {
                $inDefault = true;
            } elseif ($t === '|' && !$inDefault) {
                $report($i, 'union type (PHP 8.0)');
            } elseif ($isConstructor && $depth === 1 && in_array($k, array(T_PUBLIC, T_PROTECTED, T_PRIVATE), true)) {
                $report($i, 'constructor property promotion (PHP 8.0)');
            } elseif (!$inDefault && $k === T_STRING && in_array(strtolower(text($t)), array('mixed'), true)) {
                $report($i, 'mixed type (PHP 8.0)');
            }
            continue;
        }
        if ($inReturnType) {
            if ($t === '{' || $t === ';' || $k === T_DOUBLE_ARROW || $k === T_USE) {
                $inReturnType = false;
            } elseif ($k === T_STATIC) {
                $report($i, 'static return type (PHP 8.0)');
            } elseif ($k === T_STRING && in_array(strtolower(text($t)), array('mixed', 'never'), true)) {
                $report($i, strtolower(text($t)) . ' return type (PHP 8.0/8.1)');
            } elseif ($t === '|') {
                $report($i, 'union return type (PHP 8.0)');
            }
            continue;
        }
        if ($k === T_STRING && $nextText === ':' && ($prevText === '(' || $prevText === ',')) {
            $after = significantAfter($tokens, $next);
            if ($after < 0 || text($tokens[$after]) !== ':') {
                $report($i, 'named argument (PHP 8.0)');
            }
        }
        if ($k === T_ELLIPSIS && $prevText === '(' && $nextText === ')') {
            $report($i, 'first-class callable syntax f(...) (PHP 8.1)');
        }
        if ($k === T_THROW && in_array($prevText, array('??', '?:', '=>', '=', ',', '(', '?'), true)) {
            $report($i, 'throw as an expression (PHP 8.0)');
        }
        if ($k === T_CATCH) {
            $sawVariable = false;
            for ($j = $next + 1; $j < $count && text($tokens[$j]) !== ')'; $j++) {
                if (kind($tokens[$j]) === T_VARIABLE) {
                    $sawVariable = true;
                }
            }
            if (!$sawVariable) {
                $report($i, 'catch without a variable (PHP 8.0)');
            }
        }
        if ($k === T_VARIABLE && $nextText === '::') {
            $after = significantAfter($tokens, $next);
            if ($after >= 0 && kind($tokens[$after]) === T_CLASS) {
                $report($i, '$object::class (PHP 8.0)');
            }
        }
        if ($k === T_STRING && $nextText === '(' && in_array(strtolower(text($t)), $php8Functions, true)
            && !in_array($prevText, array('->', '::', 'function'), true)) {
            $report($i, text($t) . '() does not exist in PHP 7.4');
        }
    }
    return $problems;
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
        foreach (checkSource($source) as $problem) {
            echo "$file:{$problem[0]}: {$problem[1]}\n";
            $failed = true;
        }
    }
    exit($failed ? 1 : 0);
}
