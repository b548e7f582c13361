<?php
// "fwconsole chown" as framework 17's Chown command treats a module, with the stand-in in
// place of FreePBX: first its own pass (every file under ASTETCDIR gets 0775 less the
// execute bit, 0664), then the module's Chown hook, found in module.xml under
// <framework class="Chown" namespace="FreePBX\Console\Command"> with callingMethod
// fwcChownFiles and called with no arguments, as Hooks::processHooks does; each entry it
// returns is applied as Chown applies file/dir entries (chmod, then chown/chgrp as root).
// Prints {"hook": <what the hook returned>} as JSON.
require __DIR__ . '/freepbx-standin.php';
require getenv('SMC_MODULE_DIR') . '/Smartmissedcalls.class.php';

$etc = FreePBX::create()->Config->get('ASTETCDIR');
foreach (new RecursiveIteratorIterator(new RecursiveDirectoryIterator($etc, FilesystemIterator::SKIP_DOTS), RecursiveIteratorIterator::SELF_FIRST) as $path => $info) {
    chmod($path, $info->isDir() ? 0775 : 0664);
}

$xml = simplexml_load_file(getenv('SMC_MODULE_DIR') . '/module.xml');
$found = $xml->xpath('/module/hooks/framework[@class="Chown"][@namespace="FreePBX\\Console\\Command"]/method[@callingMethod="fwcChownFiles"]');
if (count($found) !== 1) {
    fwrite(STDERR, "module.xml declares no Chown hook\n");
    exit(1);
}
$method = $found[0];
$class = (string)$method['namespace'] . '\\' . (string)$method['class'];
if (!class_exists($class)) {
    fwrite(STDERR, "Cant find $class\n");
    exit(1);
}
$answer = call_user_func(array(FreePBX::create()->{(string)$method['class']}, trim((string)$method)));

foreach ($answer as $file) {
    if (!in_array($file['type'], array('file', 'dir'), true) || !is_int($file['perms']) || $file['perms'] > 0777) {
        fwrite(STDERR, 'Chown cannot apply ' . json_encode($file) . "\n");
        exit(1);
    }
    if (file_exists($file['path'])) {
        chmod($file['path'], $file['perms']);
        if (posix_getuid() === 0) {
            chown($file['path'], isset($file['owner']) ? $file['owner'] : FreePBX::create()->Config->get('AMPASTERISKWEBUSER'));
            chgrp($file['path'], isset($file['group']) ? $file['group'] : FreePBX::create()->Config->get('AMPASTERISKWEBGROUP'));
        }
    }
}
echo json_encode(array('hook' => $answer)), "\n";
