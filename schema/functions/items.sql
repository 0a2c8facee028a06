-- The `item` columns (014): the API's JSON of a row, kept by triggers.
--
-- Each table's BEFORE trigger writes NEW.item from the row's *_json()
-- function, the one definition of that object.  A change a row shows but
-- does not hold (an asset shows its latest version, a version its preview
-- job, users' roles and names appear in others' rows) is passed on by an
-- AFTER trigger that sets the dependent row's item to '' : that UPDATE is
-- only a refresh, so the touch triggers (util.sql) leave updated_at alone
-- when a statement sets item itself.  The BEFORE triggers are named to run
-- after the touch triggers (PostgreSQL fires them by name), so an item
-- shows the updated_at the row gets.

CREATE OR REPLACE FUNCTION mam_user_write_item() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.item := mam_user_json(NEW)::text;
    RETURN NEW;
END
$$;

-- An asset's facets (020): the tokens its list filters match (the review
-- status `a:`, issue 21, is its latest version's approval), lower-cased
-- (filters ignore case), distinct and sorted, so an unchanged set compares
-- equal and its rows stay.  A text value longer than 200 characters makes
-- no token (no filter takes one).
CREATE OR REPLACE FUNCTION mam_asset_facets(a assets, j jsonb) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT array_agg(DISTINCT lower(t) ORDER BY lower(t))
      FROM (SELECT 'p:' || a.project_id AS t
            UNION ALL SELECT 'o:' || a.user_id
            UNION ALL SELECT 's:' || coalesce(
                          j #>> '{latest_version,preview,status}', 'none')
            UNION ALL SELECT 'a:' || coalesce(
                          j #>> '{latest_version,approval,status}', 'none')
            UNION ALL SELECT 'd:' || a.folder_id WHERE a.folder_id IS NOT NULL
            UNION ALL SELECT 't:' || tag FROM unnest(a.tags) tag
            UNION ALL SELECT 'f:' || f.key || '=' || v.v
                        FROM jsonb_each(a.fields) f,
                             LATERAL (SELECT f.value #>> '{}' AS v
                                       WHERE jsonb_typeof(f.value)
                                             IN ('string', 'number')
                                      UNION ALL
                                      SELECT x FROM jsonb_array_elements_text(
                                          CASE jsonb_typeof(f.value)
                                          WHEN 'array' THEN f.value
                                          ELSE '[]' END) x) v
                       WHERE length(v.v) <= 200) facets
$$;

CREATE OR REPLACE FUNCTION mam_asset_write_item() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    j  jsonb;
BEGIN
    j := mam_asset_json(NEW);
    NEW.item := j::text;
    NEW.facets := mam_asset_facets(NEW, j);
    RETURN NEW;
END
$$;

-- A live asset's rows in asset_facets: its facets and "*", with the sort
-- keys; rewritten when one of them changes, gone when it is deleted.  The
-- rows of a folder, a tag or a field value carry the item and the facets
-- (024), so a page of one of them reads no asset: an item that changes
-- alone is copied into them.
CREATE OR REPLACE FUNCTION mam_facet_has_item(token text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT left(token, 2) IN ('d:', 't:', 'f:')
$$;

CREATE OR REPLACE FUNCTION mam_asset_facets_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.facets IS NOT DISTINCT FROM NEW.facets
           AND OLD.title IS NOT DISTINCT FROM NEW.title
           AND OLD.created_at IS NOT DISTINCT FROM NEW.created_at
           AND OLD.project_id IS NOT DISTINCT FROM NEW.project_id
           AND OLD.deleted_at IS NOT DISTINCT FROM NEW.deleted_at
        THEN
            UPDATE asset_facets SET item = NEW.item
             WHERE asset_id = NEW.id AND item IS NOT NULL;
            RETURN NULL;
        END IF;
        DELETE FROM asset_facets WHERE asset_id = NEW.id;
    END IF;
    IF NEW.deleted_at IS NULL THEN
        INSERT INTO asset_facets (asset_id, token, project_id, created_at,
                                  title, item, facets)
        SELECT NEW.id, t, NEW.project_id, NEW.created_at, NEW.title,
               CASE WHEN mam_facet_has_item(t) THEN NEW.item END,
               CASE WHEN mam_facet_has_item(t) THEN NEW.facets END
          FROM unnest(NEW.facets || '{*}'::text[]) t;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION mam_version_write_item() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.item := mam_version_json(NEW)::text;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION mam_comment_write_item() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.item := mam_comment_json(NEW)::text;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER users_write_item BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION mam_user_write_item();
CREATE OR REPLACE TRIGGER assets_write_item BEFORE INSERT OR UPDATE ON assets
    FOR EACH ROW EXECUTE FUNCTION mam_asset_write_item();
CREATE OR REPLACE TRIGGER assets_facets_added AFTER INSERT ON assets
    FOR EACH ROW EXECUTE FUNCTION mam_asset_facets_changed();
CREATE OR REPLACE TRIGGER assets_facets_changed AFTER UPDATE ON assets
    FOR EACH ROW
    WHEN (OLD.facets IS DISTINCT FROM NEW.facets
          OR OLD.item IS DISTINCT FROM NEW.item
          OR OLD.title IS DISTINCT FROM NEW.title
          OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.project_id IS DISTINCT FROM NEW.project_id
          OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION mam_asset_facets_changed();
CREATE OR REPLACE TRIGGER versions_write_item
    BEFORE INSERT OR UPDATE ON versions
    FOR EACH ROW EXECUTE FUNCTION mam_version_write_item();
CREATE OR REPLACE TRIGGER comments_write_item
    BEFORE INSERT OR UPDATE ON comments
    FOR EACH ROW EXECUTE FUNCTION mam_comment_write_item();

-- a user's roles are in their item
CREATE OR REPLACE FUNCTION mam_user_roles_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users SET item = ''
     WHERE id = CASE TG_OP WHEN 'DELETE' THEN OLD.user_id
                           ELSE NEW.user_id END;
    RETURN NULL;
END
$$;

-- a user's name is in their assets' and comments' items, and in those of
-- the threads they resolved and the versions they decided on (issue 21;
-- a version passes it on to its asset's item)
CREATE OR REPLACE FUNCTION mam_user_renamed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE assets SET item = '' WHERE user_id = NEW.id;
    UPDATE comments SET item = ''
     WHERE user_id = NEW.id OR resolved_by = NEW.id;
    UPDATE versions SET item = '' WHERE approval_by = NEW.id;
    RETURN NULL;
END
$$;

-- a thread's first comment shows its reply_count (issue 21)
CREATE OR REPLACE FUNCTION mam_comment_reply_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE comments SET item = ''
     WHERE id = CASE TG_OP WHEN 'DELETE' THEN OLD.parent_id
                           ELSE NEW.parent_id END;
    RETURN NULL;
END
$$;

-- a version is in its asset's item while it is the latest
CREATE OR REPLACE FUNCTION mam_version_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE assets a SET item = ''
     WHERE a.id = NEW.asset_id
       AND NOT EXISTS (SELECT 1 FROM versions v
                        WHERE v.asset_id = NEW.asset_id
                          AND v.number > NEW.number);
    RETURN NULL;
END
$$;

-- a job is its version's preview
CREATE OR REPLACE FUNCTION mam_job_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE versions SET item = ''
     WHERE id = NEW.version_id AND preview_job_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER user_roles_changed
    AFTER INSERT OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION mam_user_roles_changed();
CREATE OR REPLACE TRIGGER users_renamed AFTER UPDATE OF display_name ON users
    FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name)
    EXECUTE FUNCTION mam_user_renamed();
CREATE OR REPLACE TRIGGER versions_changed
    AFTER INSERT OR UPDATE ON versions
    FOR EACH ROW EXECUTE FUNCTION mam_version_changed();
CREATE OR REPLACE TRIGGER comments_reply_added
    AFTER INSERT ON comments
    FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL)
    EXECUTE FUNCTION mam_comment_reply_changed();
CREATE OR REPLACE TRIGGER comments_reply_removed
    AFTER DELETE ON comments
    FOR EACH ROW WHEN (OLD.parent_id IS NOT NULL)
    EXECUTE FUNCTION mam_comment_reply_changed();
CREATE OR REPLACE TRIGGER preview_jobs_changed
    AFTER INSERT OR UPDATE ON preview_jobs
    FOR EACH ROW EXECUTE FUNCTION mam_job_changed();

-- Rows written before 014 get their item on the first run after it (the
-- triggers keep every item from then on, so later runs find none).
-- Versions before assets: an asset's item shows its latest version.
UPDATE users SET item = '' WHERE item IS NULL;
UPDATE versions SET item = '' WHERE item IS NULL;
UPDATE assets SET item = '' WHERE item IS NULL;
UPDATE comments SET item = '' WHERE item IS NULL;
