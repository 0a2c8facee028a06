-- 013: the API's reads are static prepared statements in the module
-- (ngx_mam_module/ngx_mam_sql.h) that return rows; the worker builds the
-- JSON.  The functions that built it per call, with a string EXECUTEd
-- and planned on every list, go (IF EXISTS: as in 008, a fresh database
-- never had them).
DROP FUNCTION IF EXISTS mam_asset_list(text, text, integer, text, uuid);
DROP FUNCTION IF EXISTS mam_asset_get(uuid);
DROP FUNCTION IF EXISTS mam_comment_list(uuid, integer, text, uuid);
