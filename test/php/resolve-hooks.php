<?php
// Resolves the hooks of <module dir>/module.xml by the rules framework's BMO Hooks class
// follows (FreePBX 17.0.28, libraries/BMO/Hooks.class.php), against the module's own class
// file and the test stand-in (freepbx-standin.php) in place of FreePBX:
//   - module.xml is read with simplexml_load_file(): a file that is not XML gives false;
//   - each element under <hooks> names the hooked class: its namespace attribute, "\", its
//     class attribute (else the element's name);
//   - each <method> names the class called: ITS OWN namespace attribute, "\", its class
//     attribute; when that class attribute equals ucfirst(rawname) the hook is the module's
//     BMO object (FreePBX->Rawname), and framework then still needs class_exists() on the
//     namespaced name ("Cant find …" otherwise) and method_exists() on the object.
// Usage: php resolve-hooks.php <module dir>. Prints the resolved hooks as JSON; exit 1 with
// the reason on the first one framework could not call.
require __DIR__ . '/freepbx-standin.php';

function fail($message)
{
    fwrite(STDERR, $message . "\n");
    exit(1);
}

$dir = rtrim($argv[1], '/');
// Framework reads module.xml without a warning handler in the way: false is its answer.
libxml_use_internal_errors(true);
$xml = simplexml_load_file($dir . '/module.xml');
if ($xml === false) {
    fail("simplexml_load_file($dir/module.xml) returned false: not well-formed XML");
}
$rawname = (string)$xml->rawname;
$module = ucfirst(strtolower($rawname));
require $dir . '/' . $module . '.class.php';

$resolved = array();
foreach ($xml->hooks as $hooks) {
    foreach ($hooks->children() as $element => $hooked) {
        $namespace = (string)$hooked['namespace'];
        $class = isset($hooked['class']) ? (string)$hooked['class'] : $element;
        $caller = $namespace !== '' ? $namespace . '\\' . $class : $class;
        foreach ($hooked->method as $method) {
            $targetNamespace = (string)$method['namespace'];
            $targetClass = (string)$method['class'];
            $target = ($targetNamespace !== '' ? $targetNamespace . '\\' : '') . $targetClass;
            $name = trim((string)$method);
            if ($targetClass === $module) {
                $object = FreePBX::create()->$module;
                if (!class_exists($target)) {
                    fail("Cant find $target (hook $caller::{$method['callingMethod']})");
                }
                if (!method_exists($object, $name)) {
                    fail("Method $name in " . get_class($object) . ' does not exist');
                }
            } elseif (!class_exists($target) || !method_exists($target, $name)) {
                fail("Cant find $target::$name (hook $caller::{$method['callingMethod']})");
            }
            $resolved[] = array('caller' => $caller, 'callingMethod' => (string)$method['callingMethod'], 'target' => $target, 'method' => $name);
        }
    }
}
echo json_encode($resolved, JSON_UNESCAPED_SLASHES), "\n";
