-- Registers Smart Missed Calls in the VitalPBX panel, the way VitalPBX's own add-on
-- migrations do (same statements, our names). Run by install.sh against `ombutel`.
-- VERIFIED against VitalPBX's published migrations: the tables and columns
--   ombu_modules(name, has_dialplan, admin, portal, multi_tenant),
--   ombu_menu(label, parent_id, module_id, icon, sort),
--   ombu_role_privileges(role_id, module_id, allow_view, allow_add, allow_edit, allow_delete),
--   and the pattern "privileges for the super administrator role, menu row under a parent
--   found by label with icon not null".
-- ASSUMED: that the panel shows a menu row whose module has no PHP of VitalPBX's own as a
--   link (it may need a page the panel knows); that 'menu.pbx_reports' is the Reports
--   parent on 4.x; that a label key it cannot translate is shown as is. If the entry does
--   not appear, the page still works at https://<pbx>/smartmissedcalls/.
DELETE FROM `ombu_modules` WHERE `name` = 'smartmissedcalls';

INSERT INTO `ombu_modules` (`name`, `has_dialplan`, `admin`, `portal`, `multi_tenant`)
  VALUES ('smartmissedcalls', 'no', 'yes', 'no', 'yes');

SET @module_id = LAST_INSERT_ID();

INSERT INTO `ombu_role_privileges` (`role_id`, `module_id`, `allow_view`, `allow_add`, `allow_edit`, `allow_delete`)
  SELECT `role_id`, @module_id, 'yes', 'yes', 'yes', 'yes' FROM `ombu_roles` WHERE `superadmin` = 'yes';

INSERT INTO `ombu_menu` (`label`, `parent_id`, `module_id`, `sort`)
  SELECT 'menu.smartmissedcalls', `menu_id`, @module_id, 90
    FROM `ombu_menu` WHERE `label` = 'menu.pbx_reports' AND `icon` IS NOT NULL
   LIMIT 1;
