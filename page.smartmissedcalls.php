<?php
// Smart Missed Calls page (config.php?display=smartmissedcalls&view=…): the service renders
// it; Smartmissedcalls::renderPage() forwards the request with the signed identity.
if (!defined('FREEPBX_IS_AUTH')) {
    die('No direct script access allowed');
}
echo \FreePBX::Smartmissedcalls()->renderPage($_GET);
