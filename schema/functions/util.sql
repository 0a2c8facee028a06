-- Helpers every area uses, and the trigger that keeps updated_at true.
--
-- Every file of schema/functions/ holds the one current definition of its
-- functions: schema/migrate applies them all after the numbered migrations,
-- on every run, so they are edited in place (see README, "Schema changes").

-- Keeps updated_at true without every statement having to remember it.
CREATE OR REPLACE FUNCTION mam_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- A statement that sets `item` itself only refreshes that derived column
-- (items.sql): the row has not changed.
CREATE OR REPLACE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW WHEN (OLD.item IS NOT DISTINCT FROM NEW.item)
    EXECUTE FUNCTION mam_touch_updated_at();
CREATE OR REPLACE TRIGGER assets_touch BEFORE UPDATE ON assets
    FOR EACH ROW WHEN (OLD.item IS NOT DISTINCT FROM NEW.item)
    EXECUTE FUNCTION mam_touch_updated_at();
CREATE OR REPLACE TRIGGER preview_jobs_touch BEFORE UPDATE ON preview_jobs
    FOR EACH ROW EXECUTE FUNCTION mam_touch_updated_at();

-- An address from nginx ("127.0.0.1", "::1", "unix:") as inet, or NULL.
CREATE OR REPLACE FUNCTION mam_inet(p text) RETURNS inet
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN p::inet;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- a time as the API writes it: UTC, milliseconds
CREATE OR REPLACE FUNCTION mam_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- text as a uuid, NULL when it is not one (details are what callers wrote)
CREATE OR REPLACE FUNCTION mam_uuid_or_null(p text) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN p::uuid END
$$;

-- one audit_log row, written in the transaction of the change it records.
-- It finds the row's asset and project itself (GET /api/audit scopes and
-- filters by them), so no caller names them twice: the asset is details'
-- asset_id, else the target when it is an asset, a version's or a preview
-- job's asset, or details' version_id's; the project is details'
-- project_id, else the target when it is a project, else the asset's
-- project (where it is now: a move's row belongs to the project it went
-- to).  019_audit.sql backfilled older rows the same way.
CREATE OR REPLACE FUNCTION mam_audit(p_user uuid, p_action text, p_type text,
                                     p_target text, p_ip text, p_details jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit_log (user_id, action, target_type, target_id, ip,
                           details, asset_id, project_id)
    SELECT p_user, p_action, p_type, p_target, mam_inet(p_ip),
           coalesce(p_details, '{}'), a.asset,
           coalesce(mam_uuid_or_null(p_details->>'project_id'),
                    CASE WHEN p_type = 'project'
                         THEN mam_uuid_or_null(p_target) END,
                    (SELECT s.project_id FROM assets s WHERE s.id = a.asset))
      FROM (SELECT coalesce(
                mam_uuid_or_null(p_details->>'asset_id'),
                CASE WHEN p_type = 'asset' THEN mam_uuid_or_null(p_target) END,
                (SELECT v.asset_id FROM versions v
                  WHERE p_type = 'version'
                    AND v.id = mam_uuid_or_null(p_target)),
                (SELECT v.asset_id FROM preview_jobs j
                   JOIN versions v ON v.id = j.version_id
                  WHERE p_type = 'job' AND j.id = mam_uuid_or_null(p_target)),
                (SELECT v.asset_id FROM versions v
                  WHERE v.id = mam_uuid_or_null(p_details->>'version_id'))
            ) AS asset) a
$$;
