-- Removes what register.sql added: the module row; its menu rows and privileges go with
-- it (ombu_menu.module_id and ombu_role_privileges.module_id cascade on delete).
DELETE FROM `ombu_modules` WHERE `name` = 'smartmissedcalls';
