-- 013: the API's reads are static prepared statements in the module
-- (ngx_mam_module/ngx_mam_sql.h) that return rows; the worker builds the
-- JSON.  The functions that built it per call, with a string EXECUTEd
-- and planned on every list, go.
DROP FUNCTION mam_asset_list(text, text, integer, text, uuid);
DROP FUNCTION mam_asset_get(uuid);
DROP FUNCTION mam_comment_list(uuid, integer, text, uuid);
