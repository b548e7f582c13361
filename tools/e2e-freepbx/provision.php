<?php
// Provisions a FreePBX 17 lab for the end-to-end calls, through FreePBX's own BMO classes and
// module functions, so the database and AstDB hold exactly what the GUI would store. Safe to
// run again: everything that exists already is left as it is. Run as root, then
// `fwconsole reload` (printed at the end).
//
//   ext 101-103  plain phones (no voicemail); 104 with voicemail; 105 follow-me to 0740999888;
//   106 no voicemail, put on DND by calls.mjs (AstDB DND/106, what the DND feature code sets)
//   107 no voicemail, follow-me 107 alone 5 s then 107 + 0740999777 for 12 s -> voicemail 104
//   queue 400    101+102, ringall, ring 15 s, retry 5 s, maxwait 20 s -> voicemail 104
//   ring group 600  101,102,103, ringall 15 s -> hang up
//   IVR "Main"   digit 1 -> queue 400; timeout (5 s, once) and invalid -> hang up
//   trunk "carrier" (PJSIP, 127.0.0.3:5070, from-pstn), outbound route "pstn" 0XXXXXXXXX
//   inbound DIDs: 5551000 queue, 5551001 ext 103, 5551002 ring group, 5551003 IVR,
//                 5551004 ext 104, 5551005 ext 105, 5551006 ext 106, 5551007 ext 101
//   when the paging and conferences modules are installed (the internal-call scenarios S20+):
//   page group 700 (101, 102; one-way, ConfBridge) also reached from outside on DID 5551009,
//   conference room 800; intercom (*80) and the
//   parking module's default lot (70, slots 71-78) come with their modules
//   the failover shapes (calls.mjs --set failovers, S28+):
//   ring group 601  102,103, ringall 12 s -> voicemail 104
//   queue 401    no members, joinempty=no -> ring group 601 (the caller never joins)
//   queue 402    101, ring 6 s, retry 3 s, maxwait 20 s, leavewhenempty=yes -> ring group 601
//   queue 403    101, ring 5 s, retry 2 s, maxwait 8 s -> queue 403 again (a failover loop)
//   queue 404    102, ring 5 s, retry 2 s, maxwait 10 s -> hang up
//   inbound DIDs: 5551010 queue 401, 5551011 queue 402, 5551012 ring group 601, 5551013 ext 107,
//                 5551014 queue 403, 5551015 queue 404
$bootstrap_settings['freepbx_auth'] = false;
include '/etc/freepbx.conf';

const FOLLOWME_OUTSIDE = '0740999888';
const FOLLOWME_OUTSIDE_107 = '0740999777';

$freepbx = FreePBX::create();
$core = $freepbx->Core;

function say($what, $result) { echo $what . ': ' . (is_string($result) ? $result : json_encode($result)) . "\n"; }

// --- extensions (Applications > Extensions > Quick Create: core + the voicemail hook)
$extensions = array(
	'101' => array('Alice', false), '102' => array('Bob', false), '103' => array('Carol', false),
	'104' => array('Dave', true), '105' => array('Erin', false), '106' => array('Frank', false),
	'107' => array('Grace', false),
);
foreach ($extensions as $ext => list($name, $voicemail)) {
	if ($core->getDevice($ext)) { say("ext $ext", 'exists'); continue; }
	$result = $core->processQuickCreate('pjsip', $ext, array(
		'name' => $name, 'secret' => "LabSecret$ext", 'outboundcid' => '', 'email' => '', 'um' => 'no', 'password' => '',
		'fmfm' => 'no', 'ddial' => '', 'vm' => $voicemail ? 'yes' : 'no', 'vmpwd' => $voicemail ? "4$ext" : '',
	));
	say("ext $ext", $result);
}

// --- follow-me on 105: 105 alone for 6 s, then 105 and the outside number for 20 s
$followme = $freepbx->Findmefollow;
if ($followme->get('105')) {
	say('follow-me 105', 'exists');
} else {
	$followme->add('105', array(
		'strategy' => 'ringallv2-prim', 'grptime' => '20', 'pre_ring' => '6', 'grplist' => '105-' . FOLLOWME_OUTSIDE,
		'postdest' => 'ext-local,105,dest', 'ddial' => '', 'changecid' => 'default', 'ringing' => 'Ring',
	));
	say('follow-me 105', 'added (ddial DIRECT = follow-me on)');
}
// follow-me on 107 whose failover (no one answered the list) is voicemail 104
if ($followme->get('107')) {
	say('follow-me 107', 'exists');
} else {
	$followme->add('107', array(
		'strategy' => 'ringallv2-prim', 'grptime' => '12', 'pre_ring' => '5', 'grplist' => '107-' . FOLLOWME_OUTSIDE_107,
		'postdest' => 'ext-local,vmu104,1', 'ddial' => '', 'changecid' => 'default', 'ringing' => 'Ring',
	));
	say('follow-me 107', 'added (failover voicemail 104)');
}

// --- queue 400 (Applications > Queues); queues_add reads the advanced fields from $_REQUEST, as the form posts them
if (queues_get('400')) {
	say('queue 400', 'exists');
} else {
	$_REQUEST = array('maxlen' => '0', 'joinempty' => 'yes', 'leavewhenempty' => 'no', 'strategy' => 'ringall',
		'timeout' => '15', 'retry' => '5', 'wrapuptime' => '0', 'announcefreq' => '0', 'min-announce' => '15',
		'announceholdtime' => 'no', 'announceposition' => 'no', 'recording' => 'dontcare', 'autofill' => '',
		'music' => 'inherit', 'pannouncefreq' => '0', 'eventwhencalled' => 'yes', 'eventmemberstatus' => 'yes');
	$ok = queues_add('400', 'Sales', '', '', 'ext-local,vmu104,1', '',
		array('Local/101@from-queue/n,0', 'Local/102@from-queue/n,0'), '', '20', '', '0', '', '0', '0', array());
	say('queue 400', var_export($ok, true));
	$_REQUEST = array();
}

// --- the failover shapes' queues: number => name, members, joinempty, leavewhenempty, ring, retry, maxwait, failover
$failoverQueues = array(
	'401' => array('Overflow', array(), 'no', 'no', '15', '5', '', 'ext-group,601,1'),
	'402' => array('Support line', array('Local/101@from-queue/n,0'), 'yes', 'yes', '6', '3', '20', 'ext-group,601,1'),
	'403' => array('Loop', array('Local/101@from-queue/n,0'), 'yes', 'no', '5', '2', '8', 'ext-queues,403,1'),
	'404' => array('Night', array('Local/102@from-queue/n,0'), 'yes', 'no', '5', '2', '10', 'app-blackhole,hangup,1'),
);
foreach ($failoverQueues as $queue => list($name, $members, $joinempty, $leavewhenempty, $ring, $retry, $maxwait, $failover)) {
	if (queues_get($queue)) { say("queue $queue", 'exists'); continue; }
	$_REQUEST = array('maxlen' => '0', 'joinempty' => $joinempty, 'leavewhenempty' => $leavewhenempty, 'strategy' => 'ringall',
		'timeout' => $ring, 'retry' => $retry, 'wrapuptime' => '0', 'announcefreq' => '0', 'min-announce' => '15',
		'announceholdtime' => 'no', 'announceposition' => 'no', 'recording' => 'dontcare', 'autofill' => '',
		'music' => 'inherit', 'pannouncefreq' => '0', 'eventwhencalled' => 'yes', 'eventmemberstatus' => 'yes');
	$ok = queues_add($queue, $name, '', '', $failover, '', $members, '', $maxwait, '', '0', '', '0', '0', array());
	say("queue $queue -> $failover", var_export($ok, true));
	$_REQUEST = array();
}

// --- ring group 600 (Applications > Ring Groups)
$ringgroups = $freepbx->Ringgroups;
if ($ringgroups->get('600')) {
	say('ring group 600', 'exists');
} else {
	$ringgroups->add('600', 'ringall', '15', '101-102-103', 'app-blackhole,hangup,1', 'Support');
	say('ring group 600', 'added');
}
if ($ringgroups->get('601')) {
	say('ring group 601', 'exists');
} else {
	$ringgroups->add('601', 'ringall', '12', '102-103', 'ext-local,vmu104,1', 'Backoffice');
	say('ring group 601', 'added (failover voicemail 104)');
}

// --- IVR "Main" (Applications > IVR): no announcement, 5 s to choose once, then hang up
$ivr = $freepbx->Ivr;
$ivrId = null;
foreach ($ivr->getDetails() as $row) { if ($row['name'] === 'Main') $ivrId = $row['id']; }
if ($ivrId) {
	say('ivr Main', "exists (id $ivrId)");
} else {
	$ivrId = $ivr->saveDetails(array(
		'id' => '', 'name' => 'Main', 'description' => 'Press 1 for sales', 'announcement' => null, 'directdial' => '',
		'invalid_loops' => 0, 'invalid_retry_recording' => 'default', 'invalid_append_announce' => 0, 'invalid_ivr_ret' => 0,
		'invalid_recording' => 'default', 'invalid_destination' => 'app-blackhole,hangup,1',
		'timeout_loops' => 0, 'timeout_retry_recording' => 'default', 'timeout_append_announce' => 0, 'timeout_ivr_ret' => 0,
		'timeout_recording' => 'default', 'timeout_destination' => 'app-blackhole,hangup,1', 'timeout_time' => 5,
		'alertinfo' => '', 'rvolume' => '', 'strict_dial_timeout' => 2, 'retvm' => '', 'accept_pound_key' => 0,
	));
	$ivr->saveEntries($ivrId, array('ext' => array('1'), 'goto' => array('ext-queues,400,1'), 'ivr_ret' => array('0')));
	say('ivr Main', "added (id $ivrId)");
}

// --- trunk "carrier": the world Asterisk's carrier side (Connectivity > Trunks, PJSIP)
$trunkId = null;
foreach ($core->listTrunks() as $t) { if ($t['name'] === 'carrier') $trunkId = $t['trunkid']; }
if ($trunkId) {
	say('trunk carrier', "exists (id $trunkId)");
} else {
	$trunkId = $core->addTrunk('carrier', 'pjsip', array(
		'channelid' => 'carrier', 'trunk_name' => 'carrier', 'outcid' => '', 'keepcid' => 'off', 'maxchans' => '',
		'failtrunk' => '', 'dialoutprefix' => '', 'disabletrunk' => 'off', 'continue' => 'off', 'provider' => '',
		'dialopts' => false, 'sip_server' => '127.0.0.3', 'sip_server_port' => '5070', 'context' => 'from-pstn',
		'registration' => 'none', 'authentication' => 'none', 'username' => '', 'secret' => '', 'match' => '127.0.0.3',
		'transport' => '0.0.0.0-udp', 'dtmfmode' => 'auto', 'language' => '', 'qualify_frequency' => '0',
		'aor_contact' => '', 'aors' => '', 'contact_user' => '', 'from_domain' => '', 'from_user' => '',
		'client_uri' => '', 'server_uri' => '', 'outbound_proxy' => '', 'expiration' => '3600', 'retry_interval' => '60',
		'max_retries' => '10', 'forbidden_retry_interval' => '10', 'fatal_retry_interval' => '0',
		'auth_rejection_permanent' => 'off', 'send_connected_line' => 'false', 'user_eq_phone' => 'no',
		'pjsip_line' => 'false', 'sendrpid' => 'no', 'trust_rpid' => 'no', 'rtp_symmetric' => 'true',
		'rewrite_contact' => 'true', 'force_rport' => 'true', 'direct_media' => 'no', 'media_encryption' => 'no',
		'inband_progress' => 'no', 'support_path' => 'no', 't38_udptl' => 'no', 'fax_detect' => 'no',
		'trust_id_outbound' => 'no', 'identify_by' => 'default', 'allow_unauthenticated_options' => 'off',
	));
	say('trunk carrier', "added (id $trunkId)");
}

// --- outbound route "pstn": 0XXXXXXXXX via the carrier (callbacks, follow-me's outside leg)
$haveRoute = false;
foreach ($core->routing->listAll() as $r) { if ($r['name'] === 'pstn') $haveRoute = true; }
if ($haveRoute) {
	say('outbound route pstn', 'exists');
} else {
	$id = $core->routing->add('pstn', '', '', '', '', '', 'default', '',
		array(array('match_pattern_prefix' => '', 'match_pattern_pass' => '0XXXXXXXXX', 'match_cid' => '', 'prepend_digits' => '')),
		array($trunkId));
	say('outbound route pstn', "added (id $id)");
}

// --- inbound routes: one DID per scenario entry point
$dids = array(
	'5551000' => array('ext-queues,400,1', 'Sales queue'),
	'5551001' => array('from-did-direct,103,1', 'Carol direct'),
	'5551002' => array('ext-group,600,1', 'Support ring group'),
	'5551003' => array("ivr-$ivrId,s,1", 'Main IVR'),
	'5551004' => array('from-did-direct,104,1', 'Dave direct (voicemail)'),
	'5551005' => array('from-did-direct,105,1', 'Erin direct (follow-me)'),
	'5551006' => array('from-did-direct,106,1', 'Frank direct (DND, no voicemail)'),
	'5551007' => array('from-did-direct,101,1', 'Alice direct (transfers)'),
	'5551010' => array('ext-queues,401,1', 'Overflow queue (empty)'),
	'5551011' => array('ext-queues,402,1', 'Support line queue'),
	'5551012' => array('ext-group,601,1', 'Backoffice ring group'),
	'5551013' => array('from-did-direct,107,1', 'Grace direct (follow-me)'),
	'5551014' => array('ext-queues,403,1', 'Loop queue'),
	'5551015' => array('ext-queues,404,1', 'Night queue'),
);
foreach ($dids as $did => list($destination, $description)) {
	if ($core->getDID($did, '')) { say("did $did", 'exists'); continue; }
	$ok = $core->addDID(array('extension' => $did, 'cidnum' => '', 'destination' => $destination, 'description' => $description));
	say("did $did -> $destination", var_export($ok, true));
}

// --- page group 700 and conference room 800 (Applications > Paging and Intercom, > Conferences)
if ($freepbx->Modules->checkStatus('paging')) {
	$paging = $freepbx->Paging;
	// getPageGroupById() warns on a group that does not exist: look in the list instead
	if (in_array('700', array_column($paging->listGroups(), 'page_group'), true)) {
		say('page group 700', 'exists');
	} else {
		$paging->addGroup('700', array('101', '102'), 0, 0, 'Office');
		say('page group 700', 'added');
	}
	// an outside caller paging the office (a door phone, an after-hours line)
	if ($core->getDID('5551009', '')) {
		say('did 5551009', 'exists');
	} else {
		$ok = $core->addDID(array('extension' => '5551009', 'cidnum' => '', 'destination' => 'app-pagegroups,700,1', 'description' => 'Office page'));
		say('did 5551009 -> page group 700', var_export($ok, true));
	}
}
if ($freepbx->Modules->checkStatus('conferences')) {
	$conferences = $freepbx->Conferences;
	if ($conferences->getConference('800')) {
		say('conference 800', 'exists');
	} else {
		$conferences->addConference('800', 'Team room', '', '', '');
		say('conference 800', 'added');
	}
}

// --- CEL on (Settings > Advanced Settings > CEL_ENABLED; cel.conf then says events=all)
if (!$freepbx->Config->get('CEL_ENABLED')) {
	$freepbx->Config->update('CEL_ENABLED', true);
	say('CEL_ENABLED', 'turned on');
} else {
	say('CEL_ENABLED', 'already on');
}

needreload();
echo "now run: fwconsole reload\n";
