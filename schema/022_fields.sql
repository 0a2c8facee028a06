-- 022: PATCH /api/assets/:id takes fields and tags (issue 19):
-- mam_asset_update (schema/functions/assets.sql) has two more parameters,
-- so its old signature goes rather than stay as an overload.
DROP FUNCTION IF EXISTS mam_asset_update(uuid, uuid, boolean, text, text,
                                         text, uuid, text);
