-- VitalPBX's configuration database `ombutel`: the tables Smart Missed Calls reads (labels,
-- extensions, tenants, DIDs) and the three it writes at install (menu entry, module row,
-- privileges). Columns, types and keys are VitalPBX's own, from its schema migration
-- vitalpbx/migrations/20191218.3.tables.sql as published in public VitalPBX extracts; later
-- migrations add columns (e.g. ombu_extensions_vm.operator_destination_id) that we do not
-- read. Trimmed: columns we never read are kept only where they are NOT NULL without a
-- default (an INSERT by the install must satisfy them), and foreign keys to tables not
-- included here are left out.

CREATE TABLE `ombu_tenants` (
  `tenant_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `name` varchar(255) COLLATE utf8_unicode_ci NOT NULL,
  `description` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `default` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL DEFAULT 'no',
  `path` char(16) COLLATE utf8_unicode_ci NOT NULL,
  `prefix` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `enabled` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL DEFAULT 'yes',
  PRIMARY KEY (`tenant_id`),
  UNIQUE KEY `path` (`path`),
  UNIQUE KEY `name` (`name`)
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

CREATE TABLE `ombu_modules` (
  `module_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `name` varchar(255) COLLATE utf8_unicode_ci NOT NULL,
  `has_dialplan` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL,
  `admin` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL DEFAULT 'no',
  `portal` enum('yes','no') COLLATE utf8_unicode_ci DEFAULT 'no',
  `multi_tenant` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL DEFAULT 'no',
  PRIMARY KEY (`module_id`)
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

CREATE TABLE `ombu_menu` (
  `menu_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `label` varchar(255) COLLATE utf8_unicode_ci NOT NULL,
  `parent_id` int(10) unsigned DEFAULT NULL,
  `module_id` int(10) unsigned DEFAULT NULL,
  `icon` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `sort` int(10) unsigned NOT NULL,
  PRIMARY KEY (`menu_id`),
  KEY `module_id` (`module_id`),
  KEY `parent_id` (`parent_id`),
  FOREIGN KEY (`module_id`) REFERENCES `ombu_modules` (`module_id`) ON DELETE CASCADE,
  FOREIGN KEY (`parent_id`) REFERENCES `ombu_menu` (`menu_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

CREATE TABLE `ombu_roles` (
  `role_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `role` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `description` varchar(255) COLLATE utf8_unicode_ci NOT NULL,
  `superadmin` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL,
  `default` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL,
  `tenant_id` int(10) unsigned DEFAULT NULL,
  PRIMARY KEY (`role_id`),
  KEY `tenant_id` (`tenant_id`),
  FOREIGN KEY (`tenant_id`) REFERENCES `ombu_tenants` (`tenant_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

CREATE TABLE `ombu_role_privileges` (
  `role_id` int(10) unsigned NOT NULL,
  `module_id` int(10) unsigned NOT NULL,
  `allow_view` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL,
  `allow_add` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL,
  `allow_edit` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL,
  `allow_delete` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL,
  UNIQUE KEY (`role_id`,`module_id`),
  KEY `module_id` (`module_id`),
  FOREIGN KEY (`module_id`) REFERENCES `ombu_modules` (`module_id`) ON DELETE CASCADE,
  FOREIGN KEY (`role_id`) REFERENCES `ombu_roles` (`role_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

CREATE TABLE `ombu_extensions` (
  `extension_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `extension` varchar(255) COLLATE utf8_unicode_ci NOT NULL,
  `name` varchar(255) COLLATE utf8_unicode_ci NOT NULL,
  `language` varchar(255) COLLATE utf8_unicode_ci NOT NULL DEFAULT 'en',
  `email` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `class_of_service_id` int(10) unsigned NOT NULL,
  `mailbox` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `tenant_id` int(10) unsigned DEFAULT NULL,
  PRIMARY KEY (`extension_id`),
  KEY `tenant_id` (`tenant_id`),
  FOREIGN KEY (`tenant_id`) REFERENCES `ombu_tenants` (`tenant_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

-- A device's endpoint is the tenant prefix + `user` (PJSIP/T2_101, PJSIP/T11_105_1).
CREATE TABLE `ombu_devices` (
  `device_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `extension_id` int(10) unsigned DEFAULT NULL,
  `profile_id` int(10) unsigned DEFAULT NULL,
  `user` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `secret` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `description` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `ring_device` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL DEFAULT 'yes',
  `technology` varchar(255) COLLATE utf8_unicode_ci NOT NULL,
  `assigned_exten` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `tenant_id` int(10) unsigned DEFAULT NULL,
  PRIMARY KEY (`device_id`),
  KEY `extension_id` (`extension_id`),
  KEY `tenant_id` (`tenant_id`),
  FOREIGN KEY (`extension_id`) REFERENCES `ombu_extensions` (`extension_id`) ON DELETE CASCADE,
  FOREIGN KEY (`tenant_id`) REFERENCES `ombu_tenants` (`tenant_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

CREATE TABLE `ombu_queues` (
  `queue_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `extension` int(10) unsigned NOT NULL,
  `description` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `prefix` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `strategy` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `tenant_id` int(10) unsigned DEFAULT NULL,
  PRIMARY KEY (`queue_id`),
  KEY `tenant_id` (`tenant_id`),
  FOREIGN KEY (`tenant_id`) REFERENCES `ombu_tenants` (`tenant_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

CREATE TABLE `ombu_queue_members` (
  `queue_member_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `queue_id` int(10) unsigned NOT NULL,
  `extension_id` int(10) unsigned NOT NULL,
  `penalty` int(10) unsigned NOT NULL DEFAULT '0',
  `diversions` enum('yes','no') COLLATE utf8_unicode_ci NOT NULL DEFAULT 'no',
  `type` enum('static','dynamic') COLLATE utf8_unicode_ci NOT NULL,
  PRIMARY KEY (`queue_member_id`),
  KEY `extension_id` (`extension_id`),
  KEY `queue_id` (`queue_id`),
  FOREIGN KEY (`extension_id`) REFERENCES `ombu_extensions` (`extension_id`) ON DELETE CASCADE,
  FOREIGN KEY (`queue_id`) REFERENCES `ombu_queues` (`queue_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

CREATE TABLE `ombu_ring_groups` (
  `ring_group_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `extension` varchar(255) COLLATE utf8_unicode_ci NOT NULL,
  `description` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `strategy` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `ringtime` int(10) unsigned DEFAULT NULL,
  `tenant_id` int(10) unsigned DEFAULT NULL,
  PRIMARY KEY (`ring_group_id`),
  KEY `tenant_id` (`tenant_id`),
  FOREIGN KEY (`tenant_id`) REFERENCES `ombu_tenants` (`tenant_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

CREATE TABLE `ombu_ring_group_members` (
  `ring_group_id` int(10) unsigned NOT NULL,
  `extension_id` int(10) unsigned NOT NULL,
  KEY `extension_id` (`extension_id`),
  KEY `ring_group_id` (`ring_group_id`),
  FOREIGN KEY (`extension_id`) REFERENCES `ombu_extensions` (`extension_id`) ON DELETE CASCADE,
  FOREIGN KEY (`ring_group_id`) REFERENCES `ombu_ring_groups` (`ring_group_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

-- IVRs are dialled as IVR-<ivr_id> in the tenant's app-ivr context.
CREATE TABLE `ombu_ivrs` (
  `ivr_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `description` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `timeout` int(10) unsigned DEFAULT NULL,
  `tenant_id` int(10) unsigned DEFAULT NULL,
  PRIMARY KEY (`ivr_id`),
  KEY `tenant_id` (`tenant_id`),
  FOREIGN KEY (`tenant_id`) REFERENCES `ombu_tenants` (`tenant_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

CREATE TABLE `ombu_inbound_routes` (
  `inbound_route_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `cos_id` int(10) unsigned DEFAULT NULL,
  `description` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `routing_method` enum('default','did_range','dahdi') COLLATE utf8_unicode_ci NOT NULL DEFAULT 'default',
  `did` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `cid_number` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `destination_id` int(10) unsigned DEFAULT NULL,
  `language` varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
  `tenant_id` int(10) unsigned DEFAULT NULL,
  PRIMARY KEY (`inbound_route_id`),
  KEY `tenant_id` (`tenant_id`),
  FOREIGN KEY (`tenant_id`) REFERENCES `ombu_tenants` (`tenant_id`) ON DELETE CASCADE
) CHARACTER SET utf8 COLLATE utf8_unicode_ci;

-- What a fresh VitalPBX ships (its 20191218.4.data.sql seeds the main tenant 'vitalpbx');
-- the menu parent is an assumption of its shape: VitalPBX's own add-on migrations hang
-- report pages under the row labelled 'menu.pbx_reports' that has an icon.
INSERT INTO `ombu_tenants` (`tenant_id`, `name`, `description`, `default`, `path`, `prefix`, `enabled`)
  VALUES (1, 'vitalpbx', 'Main tenant', 'yes', '0000000000000001', NULL, 'yes');
INSERT INTO `ombu_roles` (`role_id`, `role`, `description`, `superadmin`, `default`, `tenant_id`)
  VALUES (1, 'super_administrator', 'Super Administrator', 'yes', 'yes', NULL);
INSERT INTO `ombu_menu` (`menu_id`, `label`, `parent_id`, `module_id`, `icon`, `sort`)
  VALUES (1, 'menu.pbx_reports', NULL, NULL, 'fa fa-bar-chart', 5);
