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

-- one audit_log row, written in the transaction of the change it records
CREATE OR REPLACE FUNCTION mam_audit(p_user uuid, p_action text, p_type text,
                                     p_target text, p_ip text, p_details jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit_log (user_id, action, target_type, target_id, ip, details)
    VALUES (p_user, p_action, p_type, p_target, mam_inet(p_ip),
            coalesce(p_details, '{}'))
$$;
