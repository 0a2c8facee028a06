-- 025: playable while transcoding (issue 20).  transcoderd publishes a
-- first run's ladder as it renders and says, through the signed callback,
-- when the first segments of every stream are out (`playable`), or that
-- it withdrew them (a failed attempt).  The job keeps that; the preview
-- status shows `playable` (also when ready, and while an earlier ladder of
-- the version is still published: a forced re-run's), and POST
-- /api/sign-preview signs a playable version, not only a ready one
-- (schema/functions/previews.sql).
ALTER TABLE preview_jobs ADD COLUMN playable boolean NOT NULL DEFAULT false;

-- mam_preview_callback takes `playable`: its old signature goes rather
-- than stay as an overload.  The new one defaults it to NULL (left as it
-- was), so a module from before 025, still running until nginx reloads,
-- calls it with its eight arguments as before.
DROP FUNCTION IF EXISTS mam_preview_callback(uuid, uuid, text, real, jsonb,
                                             jsonb, text, text);

-- Every version's item (its preview status) gains `playable`, and so does
-- every asset's (its latest version's): emptied here with the triggers off
-- (the functions of the previous run would write the old shape again);
-- items.sql's last statements rebuild every NULL item with the new
-- functions, versions before assets, and the asset's rows in asset_facets
-- follow their asset.
ALTER TABLE versions DISABLE TRIGGER USER;
UPDATE versions SET item = NULL;
ALTER TABLE versions ENABLE TRIGGER USER;
ALTER TABLE assets DISABLE TRIGGER USER;
UPDATE assets SET item = NULL;
ALTER TABLE assets ENABLE TRIGGER USER;
