-- The FreePBX configuration tables (database `asterisk`) that Smart Missed Calls reads, in
-- the shapes FreePBX 16 creates them. Most modules declare their tables in the
-- <database> section of module.xml and FreePBX creates them through Doctrine
-- (string → VARCHAR NOT NULL unless notnull="false", boolean → TINYINT(1),
-- integer → INT(11)); the DDL below is that mapping, checked against a mysqldump of
-- a FreePBX 16 install.

-- users: core module, module.xml <table name="users">.
CREATE TABLE `users` (
  `extension` varchar(20) NOT NULL DEFAULT '',
  `password` varchar(20) DEFAULT NULL,
  `name` varchar(50) DEFAULT NULL,
  `voicemail` varchar(50) DEFAULT NULL,
  `ringtimer` int(11) DEFAULT NULL,
  `noanswer` varchar(100) DEFAULT NULL,
  `recording` varchar(50) DEFAULT NULL,
  `outboundcid` varchar(50) DEFAULT NULL,
  `sipname` varchar(50) DEFAULT NULL,
  `noanswer_cid` varchar(20) NOT NULL DEFAULT '',
  `busy_cid` varchar(20) NOT NULL DEFAULT '',
  `chanunavail_cid` varchar(20) NOT NULL DEFAULT '',
  `noanswer_dest` varchar(255) NOT NULL DEFAULT '',
  `busy_dest` varchar(255) NOT NULL DEFAULT '',
  `chanunavail_dest` varchar(255) NOT NULL DEFAULT '',
  `mohclass` varchar(80) DEFAULT 'default',
  KEY `extension` (`extension`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- devices: core module, module.xml <table name="devices">.
CREATE TABLE `devices` (
  `id` varchar(20) NOT NULL DEFAULT '',
  `tech` varchar(10) NOT NULL DEFAULT '',
  `dial` varchar(255) NOT NULL DEFAULT '',
  `devicetype` varchar(5) NOT NULL DEFAULT '',
  `user` varchar(50) DEFAULT NULL,
  `description` varchar(50) DEFAULT NULL,
  `emergency_cid` varchar(100) DEFAULT NULL,
  `hint_override` varchar(100) DEFAULT NULL,
  KEY `id` (`id`),
  KEY `tech` (`tech`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- incoming (inbound routes): core module, module.xml <table name="incoming">.
CREATE TABLE `incoming` (
  `cidnum` varchar(50) DEFAULT NULL,
  `extension` varchar(50) NOT NULL,
  `destination` varchar(50) DEFAULT NULL,
  `privacyman` tinyint(1) DEFAULT NULL,
  `alertinfo` varchar(255) DEFAULT NULL,
  `ringing` varchar(20) DEFAULT NULL,
  `fanswer` varchar(20) DEFAULT NULL,
  `mohclass` varchar(80) NOT NULL DEFAULT 'default',
  `description` varchar(80) DEFAULT NULL,
  `grppre` varchar(80) DEFAULT NULL,
  `delay_answer` int(11) DEFAULT NULL,
  `pricid` varchar(20) DEFAULT NULL,
  `pmmaxretries` varchar(2) DEFAULT NULL,
  `pmminlength` varchar(2) DEFAULT NULL,
  `reversal` varchar(10) DEFAULT NULL,
  `rvolume` varchar(2) DEFAULT '',
  `indication_zone` varchar(20) DEFAULT 'default'
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- queues_config: queues module, module.xml <table name="queues_config">.
CREATE TABLE `queues_config` (
  `extension` varchar(20) NOT NULL DEFAULT '',
  `descr` varchar(35) NOT NULL DEFAULT '',
  `grppre` varchar(100) NOT NULL DEFAULT '',
  `alertinfo` varchar(254) NOT NULL DEFAULT '',
  `ringing` tinyint(1) NOT NULL DEFAULT 0,
  `maxwait` varchar(8) NOT NULL DEFAULT '',
  `password` varchar(20) NOT NULL DEFAULT '',
  `ivr_id` varchar(8) NOT NULL DEFAULT '0',
  `dest` varchar(50) NOT NULL DEFAULT '',
  `cwignore` tinyint(1) NOT NULL DEFAULT 0,
  `queuewait` tinyint(1) DEFAULT 0,
  `use_queue_context` tinyint(1) DEFAULT 0,
  `togglehint` tinyint(1) DEFAULT 0,
  `qnoanswer` tinyint(1) DEFAULT 0,
  `callconfirm` tinyint(1) DEFAULT 0,
  `callconfirm_id` int(11) DEFAULT NULL,
  `qregex` varchar(255) DEFAULT NULL,
  `agentannounce_id` int(11) DEFAULT NULL,
  `joinannounce_id` int(11) DEFAULT NULL,
  `monitor_type` varchar(5) DEFAULT NULL,
  `monitor_heard` int(11) DEFAULT NULL,
  `monitor_spoken` int(11) DEFAULT NULL,
  `callback_id` varchar(8) NOT NULL DEFAULT '',
  PRIMARY KEY (`extension`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- queues_details (one row per queues.conf keyword; members are keyword 'member',
-- data like 'Local/101@from-queue/n,0'): queues module, module.xml <table name="queues_details">.
CREATE TABLE `queues_details` (
  `id` varchar(45) NOT NULL DEFAULT '-1',
  `keyword` varchar(30) NOT NULL DEFAULT '',
  `data` varchar(150) NOT NULL DEFAULT '',
  `flags` int(11) NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`,`keyword`,`data`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ringgroups (grplist is '-' separated, e.g. '101-102-103'): ringgroups module,
-- module.xml <table name="ringgroups">.
CREATE TABLE `ringgroups` (
  `grpnum` varchar(20) NOT NULL,
  `strategy` varchar(50) NOT NULL,
  `grptime` smallint(6) NOT NULL,
  `grppre` varchar(100) DEFAULT NULL,
  `grplist` varchar(255) NOT NULL,
  `annmsg_id` int(11) DEFAULT NULL,
  `postdest` varchar(255) DEFAULT NULL,
  `description` varchar(35) NOT NULL,
  `alertinfo` varchar(255) DEFAULT NULL,
  `remotealert_id` int(11) DEFAULT NULL,
  `needsconf` varchar(10) DEFAULT NULL,
  `toolate_id` int(11) DEFAULT NULL,
  `ringing` varchar(80) DEFAULT NULL,
  `cwignore` varchar(10) DEFAULT NULL,
  `cfignore` varchar(10) DEFAULT NULL,
  `cpickup` varchar(10) DEFAULT NULL,
  `recording` varchar(10) DEFAULT 'dontcare',
  `progress` varchar(10) DEFAULT NULL,
  `elsewhere` varchar(10) DEFAULT NULL,
  `rvolume` varchar(2) NOT NULL DEFAULT '',
  PRIMARY KEY (`grpnum`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ivr_details (dialplan context is 'ivr-<id>'): ivr module, module.xml <table name="ivr_details">.
CREATE TABLE `ivr_details` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(50) DEFAULT NULL,
  `description` varchar(150) DEFAULT NULL,
  `announcement` int(11) DEFAULT NULL,
  `directdial` varchar(50) DEFAULT NULL,
  `invalid_loops` varchar(10) DEFAULT NULL,
  `invalid_retry_recording` varchar(25) DEFAULT NULL,
  `invalid_destination` varchar(50) DEFAULT NULL,
  `timeout_enabled` varchar(50) DEFAULT NULL,
  `invalid_recording` varchar(25) DEFAULT NULL,
  `retvm` varchar(8) DEFAULT NULL,
  `timeout_time` int(11) DEFAULT NULL,
  `timeout_recording` varchar(25) DEFAULT NULL,
  `timeout_retry_recording` varchar(25) DEFAULT NULL,
  `timeout_destination` varchar(50) DEFAULT NULL,
  `timeout_loops` varchar(10) DEFAULT NULL,
  `timeout_append_announce` tinyint(1) NOT NULL DEFAULT 1,
  `invalid_append_announce` tinyint(1) NOT NULL DEFAULT 1,
  `timeout_ivr_ret` tinyint(1) NOT NULL DEFAULT 0,
  `invalid_ivr_ret` tinyint(1) NOT NULL DEFAULT 0,
  `alertinfo` varchar(150) DEFAULT NULL,
  `rvolume` varchar(2) NOT NULL DEFAULT '',
  `strict_dial_timeout` tinyint(1) NOT NULL DEFAULT 2,
  `accept_pound_key` tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- ivr_entries (the digits a caller may press; dest a goto like 'ext-queues,400,1'): ivr module,
-- module.xml <table name="ivr_entries">.
CREATE TABLE `ivr_entries` (
  `ivr_id` int(11) NOT NULL,
  `selection` varchar(30) DEFAULT NULL,
  `dest` varchar(200) DEFAULT NULL,
  `ivr_ret` tinyint(1) NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- timeconditions (truegoto when the time group matches, falsegoto otherwise; dialplan
-- 'timeconditions,<id>,1'): timeconditions module, module.xml <table name="timeconditions">.
CREATE TABLE `timeconditions` (
  `timeconditions_id` int(11) NOT NULL AUTO_INCREMENT,
  `displayname` varchar(50) DEFAULT NULL,
  `time` int(11) DEFAULT NULL,
  `truegoto` varchar(50) DEFAULT NULL,
  `falsegoto` varchar(50) DEFAULT NULL,
  `deptname` varchar(50) DEFAULT NULL,
  `generate_hint` tinyint(1) DEFAULT 0,
  `invert_hint` tinyint(1) DEFAULT 0,
  `fcc_password` varchar(20) DEFAULT '',
  `priority` varchar(50) DEFAULT NULL,
  `timezone` varchar(255) DEFAULT NULL,
  `mode` varchar(20) DEFAULT 'time-group',
  `calendar_id` varchar(150) DEFAULT NULL,
  `calendar_group_id` varchar(150) DEFAULT NULL,
  PRIMARY KEY (`timeconditions_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- findmefollow (follow-me per extension; postdest when nobody answered, 'ext-local,<ext>,dest'
-- = the extension's normal behaviour): findmefollow module, module.xml <table name="findmefollow">.
CREATE TABLE `findmefollow` (
  `grpnum` varchar(20) NOT NULL,
  `strategy` varchar(50) DEFAULT NULL,
  `grptime` smallint(6) DEFAULT NULL,
  `grppre` varchar(100) DEFAULT NULL,
  `grplist` varchar(255) DEFAULT NULL,
  `annmsg_id` int(11) DEFAULT NULL,
  `postdest` varchar(255) DEFAULT NULL,
  `dring` varchar(255) DEFAULT NULL,
  `rvolume` varchar(2) DEFAULT NULL,
  `remotealert_id` int(11) DEFAULT NULL,
  `needsconf` varchar(10) DEFAULT NULL,
  `toolate_id` int(11) DEFAULT NULL,
  `pre_ring` smallint(6) DEFAULT 0,
  `ringing` varchar(80) DEFAULT NULL,
  `calendar_enable` tinyint(1) DEFAULT 0,
  `calendar_id` varchar(80) DEFAULT '',
  `calendar_group_id` varchar(80) DEFAULT '',
  `calendar_match` varchar(4) DEFAULT 'yes',
  PRIMARY KEY (`grpnum`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- contactmanager_groups: contactmanager module, module.xml <table name="contactmanager_groups">.
CREATE TABLE `contactmanager_groups` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `owner` int(11) NOT NULL,
  `name` varchar(80) NOT NULL,
  `type` varchar(25) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- contactmanager_group_entries: contactmanager module, module.xml
-- <table name="contactmanager_group_entries">.
CREATE TABLE `contactmanager_group_entries` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `groupid` int(11) NOT NULL,
  `user` int(11) NOT NULL,
  `displayname` varchar(100) NOT NULL DEFAULT '',
  `fname` varchar(100) NOT NULL DEFAULT '',
  `lname` varchar(100) NOT NULL DEFAULT '',
  `title` varchar(100) NOT NULL DEFAULT '',
  `company` varchar(100) NOT NULL DEFAULT '',
  `address` varchar(200) NOT NULL DEFAULT '',
  `uuid` varchar(36) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uuid_index` (`uuid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- contactmanager_entry_numbers: contactmanager module, module.xml
-- <table name="contactmanager_entry_numbers">.
CREATE TABLE `contactmanager_entry_numbers` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `entryid` int(11) NOT NULL,
  `number` varchar(100) DEFAULT NULL,
  `extension` varchar(100) DEFAULT NULL,
  `countrycode` varchar(4) DEFAULT NULL,
  `nationalnumber` varchar(100) DEFAULT NULL,
  `regioncode` varchar(2) DEFAULT NULL,
  `locale` varchar(2) DEFAULT NULL,
  `stripped` varchar(100) DEFAULT NULL,
  `type` varchar(100) DEFAULT NULL,
  `flags` varchar(100) DEFAULT NULL,
  `E164` varchar(100) DEFAULT NULL,
  `possibleshort` tinyint(1) DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- freepbx_settings (Advanced Settings: CEL_ENABLED, CDRDBNAME...): framework module,
-- module.xml <table name="freepbx_settings"> (module widened to 50 as FreePBX 16 has it).
CREATE TABLE `freepbx_settings` (
  `keyword` varchar(50) NOT NULL DEFAULT '',
  `value` varchar(255) DEFAULT NULL,
  `name` varchar(80) DEFAULT NULL,
  `level` tinyint(1) DEFAULT 0,
  `description` longtext DEFAULT NULL,
  `type` varchar(25) DEFAULT NULL,
  `options` longtext DEFAULT NULL,
  `defaultval` varchar(255) DEFAULT NULL,
  `readonly` tinyint(1) DEFAULT 0,
  `hidden` tinyint(1) DEFAULT 0,
  `category` varchar(50) DEFAULT NULL,
  `module` varchar(50) DEFAULT NULL,
  `emptyok` tinyint(1) DEFAULT 1,
  `sortorder` int(11) DEFAULT 0,
  PRIMARY KEY (`keyword`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
