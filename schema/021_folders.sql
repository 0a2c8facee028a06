-- 021: folders (issue 19).  The tables are 018's; what changes here are
-- the functions that gained an argument: an asset is created in, or moved
-- to, a folder (mam_asset_create, mam_asset_update: folder_id), and a
-- member is added by e-mail as well as by id (mam_member_add: email).
-- Their new definitions are in schema/functions/; the old ones go.
DROP FUNCTION IF EXISTS mam_asset_create(uuid, boolean, uuid, text, text,
                                         text, text);
DROP FUNCTION IF EXISTS mam_asset_update(uuid, uuid, boolean, text, text,
                                         text, uuid, text);
DROP FUNCTION IF EXISTS mam_member_add(uuid, uuid, boolean, uuid, text,
                                       boolean, text);
