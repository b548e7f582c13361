-- VitalPBX 4's CDR, as far as public evidence shows it: database `asterisk`, table `cdr`
-- (and `cel`), written by Asterisk's cdr_adaptive_odbc, one table for every tenant.
--
-- Verified (column names seen in public code that reads a VitalPBX cdr table,
-- bluerocktel/bluerocktel-vitalpbx-cdr-export app/BlueRock/ThirdParty/VitalPBX/Export.php):
--   cdr_id, calldate, clid, source, src, dst, destination, dcontext, channel, dstchannel,
--   lastapp, lastdata, duration, billsec, disposition, amaflags, uniqueid, linkedid,
--   sequence, calltype.
-- Verified from generated VitalPBX dialplan published by third parties (Set(CDR(tenant)=<tenant
-- name>), Set(CDR(source)), Set(CDR(destination)), Set(CDR(trunk)=<trunk id>), Set(CDR(did))):
--   tenant, trunk, did — cdr_adaptive_odbc only stores a CDR variable that has a column.
-- Assumed (standard Asterisk cdr columns, types): accountcode, userfield, peeraccount, the
-- types and widths below, and the indexes (only the calldate index is relied on).
-- FreePBX's cnum/cnam/outbound_cnum are NOT here: the reader degrades them to ''.
CREATE TABLE `cdr` (
  `cdr_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `calldate` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  `clid` varchar(80) NOT NULL DEFAULT '',
  `src` varchar(80) NOT NULL DEFAULT '',
  `dst` varchar(80) NOT NULL DEFAULT '',
  `dcontext` varchar(80) NOT NULL DEFAULT '',
  `channel` varchar(80) NOT NULL DEFAULT '',
  `dstchannel` varchar(80) NOT NULL DEFAULT '',
  `lastapp` varchar(80) NOT NULL DEFAULT '',
  `lastdata` varchar(80) NOT NULL DEFAULT '',
  `duration` int(11) NOT NULL DEFAULT 0,
  `billsec` int(11) NOT NULL DEFAULT 0,
  `disposition` varchar(45) NOT NULL DEFAULT '',
  `amaflags` int(11) NOT NULL DEFAULT 0,
  `accountcode` varchar(20) NOT NULL DEFAULT '',
  `uniqueid` varchar(32) NOT NULL DEFAULT '',
  `userfield` varchar(255) NOT NULL DEFAULT '',
  `linkedid` varchar(32) NOT NULL DEFAULT '',
  `peeraccount` varchar(80) NOT NULL DEFAULT '',
  `sequence` int(11) NOT NULL DEFAULT 0,
  `source` varchar(80) NOT NULL DEFAULT '',
  `destination` varchar(80) NOT NULL DEFAULT '',
  `calltype` tinyint(3) unsigned NOT NULL DEFAULT 0,
  `tenant` varchar(255) NOT NULL DEFAULT '',
  `did` varchar(80) NOT NULL DEFAULT '',
  `trunk` varchar(80) NOT NULL DEFAULT '',
  PRIMARY KEY (`cdr_id`),
  KEY `calldate` (`calldate`),
  KEY `tenant` (`tenant`),
  KEY `uniqueid` (`uniqueid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- cel: Asterisk's cel_odbc table (assumed: the standard shape, in the same database).
CREATE TABLE `cel` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `eventtype` varchar(30) NOT NULL,
  `eventtime` datetime NOT NULL,
  `cid_name` varchar(80) NOT NULL DEFAULT '',
  `cid_num` varchar(80) NOT NULL DEFAULT '',
  `cid_ani` varchar(80) NOT NULL DEFAULT '',
  `cid_rdnis` varchar(80) NOT NULL DEFAULT '',
  `cid_dnid` varchar(80) NOT NULL DEFAULT '',
  `exten` varchar(80) NOT NULL DEFAULT '',
  `context` varchar(80) NOT NULL DEFAULT '',
  `channame` varchar(80) NOT NULL DEFAULT '',
  `appname` varchar(80) NOT NULL DEFAULT '',
  `appdata` varchar(1024) NOT NULL DEFAULT '',
  `amaflags` int(11) NOT NULL DEFAULT 0,
  `accountcode` varchar(20) NOT NULL DEFAULT '',
  `uniqueid` varchar(32) NOT NULL DEFAULT '',
  `linkedid` varchar(32) NOT NULL DEFAULT '',
  `peer` varchar(80) NOT NULL DEFAULT '',
  `userdeftype` varchar(255) NOT NULL DEFAULT '',
  `extra` varchar(512) NOT NULL DEFAULT '',
  PRIMARY KEY (`id`),
  KEY `uniqueid` (`uniqueid`),
  KEY `linkedid` (`linkedid`),
  KEY `eventtime` (`eventtime`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
