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

CREATE OR REPLACE FUNCTION mam_asset_write_item() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.item := mam_asset_json(NEW)::text;
    RETURN NEW;
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

-- a user's name is in their assets' and comments' items
CREATE OR REPLACE FUNCTION mam_user_renamed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE assets SET item = '' WHERE user_id = NEW.id;
    UPDATE comments SET item = '' WHERE user_id = NEW.id;
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
